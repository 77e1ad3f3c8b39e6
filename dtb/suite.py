"""The protocols and controls side by side: train and evaluate each, one table.

One entry per row of the comparison: the paper's protocol, zero-shot (k folds), the FC-shuffle
control under both protocols, and the direct-input ablation. Each entry's runs live in
``OUT/<entry>/`` (one run, or one per fold) and its evaluation in ``OUT/<entry>/eval``; a run that
finished with the same config and cohort is reused, not retrained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dtb.evaluate import evaluate
from dtb.fileio import write_json, write_text
from dtb.protocols import standard_shifts
from dtb.train import TrainConfig, train


@dataclass(frozen=True)
class Entry:
    """One protocol/control combination."""

    name: str
    protocol: str
    control: str = "none"
    shift: int = 0


def suite_entries(n: int, profile: str) -> list[Entry]:
    """The comparison for a cohort of ``n``: every shift (1, n/3, n/2) for ``paper`` profiles,
    only n/2 for ``quick`` (to keep the CPU run in minutes)."""
    shifts = standard_shifts(n) if profile == "paper" else (n // 2,)
    entries = [Entry("paper", "paper"), Entry("zero-shot", "zero-shot")]
    for s in shifts:
        entries.append(Entry(f"zero-shot-shuffle-{s}", "zero-shot", "shuffle", s))
    entries.append(Entry(f"paper-shuffle-{shifts[-1]}", "paper", "shuffle", shifts[-1]))
    entries.append(Entry("zero-shot-direct-input", "zero-shot", "direct-input"))
    entries.append(Entry("paper-direct-input", "paper", "direct-input"))
    return entries


def _finished(run: Path) -> bool:
    rec = run / "run.json"
    return rec.is_file() and json.loads(rec.read_text()).get("stopped") in (
        "early-stopping",
        "max-epochs",
    )


def run_suite(
    cache: Path | str,
    out: Path | str,
    *,
    profile: str = "quick",
    n_folds: int = 5,
    seed: int = 0,
    device: str = "auto",
    entries: list[Entry] | None = None,
    train_overrides: dict | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train and evaluate every entry; write ``OUT/suite.tsv`` and ``OUT/suite.json``.

    Returns
    -------
    table : pandas.DataFrame
        One row per entry and task: ``entry, protocol, control, shift, task, r, ci_low,
        ci_high, n, rt_mae_s, concordance``.
    """
    from dtb.data.prepare import read_meta

    cache, out = Path(cache), Path(out)
    n = len(read_meta(cache)["participants"])
    rows = []
    for e in entries or suite_entries(n, profile):
        folds = range(n_folds) if e.protocol == "zero-shot" else [0]
        runs = []
        for f in folds:
            run = out / e.name / (f"fold-{f}" if e.protocol == "zero-shot" else "run")
            cfg = TrainConfig.for_profile(
                profile,
                protocol=e.protocol,
                control=e.control,
                shuffle_shift=e.shift or 1,
                fold=f,
                n_folds=n_folds,
                seed=seed,
                **(train_overrides or {}),
            )
            if not _finished(run):
                train(
                    cache,
                    run,
                    cfg,
                    device=device,
                    resume=(run / "checkpoint.pt").exists(),
                    progress=progress,
                )
            runs.append(run)
        metrics = evaluate(runs, out / e.name / "eval", device="cpu", progress=progress)
        for task, m in metrics["behaviour"].items():
            rows.append(
                {
                    "entry": e.name,
                    "protocol": e.protocol,
                    "control": e.control,
                    "shift": e.shift,
                    "task": task,
                    "r": m["rt"]["r"],
                    "ci_low": m["rt"]["ci_low"],
                    "ci_high": m["rt"]["ci_high"],
                    "n": m["rt"]["n"],
                    "rt_mae_s": m["rt_mae_s"],
                    "concordance": m["concordance_mean"],
                }
            )
    table = pd.DataFrame(rows)
    write_text(out / "suite.tsv", table.to_csv(sep="\t", index=False))
    write_json(
        out / "suite.json",
        {
            "cache": str(cache.resolve()),
            "profile": profile,
            "n_folds": n_folds,
            "seed": seed,
            "rows": table.to_dict(orient="records"),
        },
    )
    return table
