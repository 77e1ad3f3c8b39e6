"""The protocols and controls side by side: train and evaluate each, one table.

One entry per row of the comparison: the paper's protocol, zero-shot (k folds), the FC-shuffle
control under both protocols and the direct-input ablation, for the profile's design; both
protocols for the other design (the paper's dense FC encoder beside the recommended ``pca``
one); and the ridge peer, zero-shot on the same folds. Each entry's runs live in
``OUT/<entry>/`` (one run, or one per fold) and its evaluation in ``OUT/<entry>/eval``; a run that
finished with the same config and cohort is reused, not retrained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dtb.config import TrainConfig
from dtb.encoders import ENCODERS
from dtb.evaluate import METRICS_SCHEMA, evaluate, ridge_beside
from dtb.fileio import write_json, write_text
from dtb.parallel import map_jobs, train_runs
from dtb.protocols import standard_shifts
from dtb.provenance import hash_config, hash_files, sha256_file
from dtb.tasks import TASK_NAMES


@dataclass(frozen=True)
class Entry:
    """One design/protocol/control combination.

    ``encoder`` is the FC encoder (:mod:`dtb.encoders`); None means the profile's own.
    """

    name: str
    protocol: str
    control: str = "none"
    shift: int = 0
    encoder: str | None = None


def suite_entries(n: int, profile: str) -> list[Entry]:
    """The comparison for a cohort of ``n``.

    The profile's design under both protocols with its controls, then the other design under
    both protocols: the paper's dense encoder beside the recommended ``pca`` one, whichever the
    profile trains. The paper-size profiles run the FC shuffle with shifts 1, n/3 and n/2 under
    zero-shot and n/2 under the paper's protocol, and the direct-input ablation under both;
    ``quick`` keeps the CPU run within minutes with the FC shuffle under the paper's protocol
    only (the ridge peer is its zero-shot reference).
    """
    own = TrainConfig.for_profile(profile).fc_encoder
    other = next(e for e in ENCODERS if e != own)
    entries = [Entry("paper", "paper"), Entry("zero-shot", "zero-shot")]
    if profile == "quick":
        shift = n // 2
        entries.append(Entry(f"paper-shuffle-{shift}", "paper", "shuffle", shift))
    else:
        shifts = standard_shifts(n)
        for s in shifts:
            entries.append(Entry(f"zero-shot-shuffle-{s}", "zero-shot", "shuffle", s))
        entries.append(Entry(f"paper-shuffle-{shifts[-1]}", "paper", "shuffle", shifts[-1]))
        entries.append(Entry("zero-shot-direct-input", "zero-shot", "direct-input"))
        entries.append(Entry("paper-direct-input", "paper", "direct-input"))
    entries.append(Entry(f"{other}-paper", "paper", encoder=other))
    entries.append(Entry(f"{other}-zero-shot", "zero-shot", encoder=other))
    return entries


def entry_runs(
    e: Entry,
    out: Path,
    *,
    profile: str,
    n_folds: int,
    seed: int,
    train_overrides: dict | None = None,
) -> list[tuple[Path, TrainConfig]]:
    """The run folders of an entry (one, or one per zero-shot fold) and their configs."""
    design = {"fc_encoder": e.encoder} if e.encoder else {}
    folds = range(n_folds) if e.protocol == "zero-shot" else [0]
    return [
        (
            out / e.name / (f"fold-{f}" if e.protocol == "zero-shot" else "run"),
            TrainConfig.for_profile(
                profile,
                **design,
                protocol=e.protocol,
                control=e.control,
                shuffle_shift=e.shift or 1,
                fold=f,
                n_folds=n_folds,
                seed=seed,
                **(train_overrides or {}),
            ),
        )
        for f in folds
    ]


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
    jobs: int = 1,
    extra_runs: tuple[tuple[Path, TrainConfig], ...] = (),
    progress: bool = True,
) -> pd.DataFrame:
    """Train and evaluate every entry; write ``OUT/suite.tsv`` and ``OUT/suite.json``.

    Finished runs are reused, interrupted ones resumed; ``jobs`` runs train at once on a CPU
    (:func:`dtb.parallel.train_runs`), together with ``extra_runs`` (e.g. more seeds) so that
    no core idles between stages.

    Returns
    -------
    table : pandas.DataFrame
        One row per entry and task: ``entry, design, protocol, control, shift, task, r,
        ci_low, ci_high, n, rt_mae_s, concordance``. The last rows, entry ``ridge``, are the
        field's standard peer (:mod:`dtb.ridge`): zero-shot ridge regression from the same FC
        on the same folds (no concordance: it predicts RT only).
    """
    from dtb.data.prepare import read_meta

    cache, out = Path(cache), Path(out)
    n = len(read_meta(cache)["participants"])
    entries = entries or suite_entries(n, profile)
    plans = {
        e.name: entry_runs(
            e, out, profile=profile, n_folds=n_folds, seed=seed, train_overrides=train_overrides
        )
        for e in entries
    }
    train_runs(
        cache,
        [r for plan in plans.values() for r in plan] + list(extra_runs),
        device=device,
        jobs=jobs,
        progress=progress,
    )
    peer = _ridge_peer(cache, out, n_folds=n_folds, seed=seed)  # once, for every zero-shot entry
    rows = _evaluate_entries(entries, plans, out, peer, jobs=jobs, progress=progress)
    rows.extend(_ridge_rows(peer))
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


def _ridge_peer(cache: Path, out: Path, *, n_folds: int, seed: int) -> dict:
    """The ridge peer, once per cohort, folds and seed (kept in ``out/ridge_peer.json``)."""
    from dtb.ridge import RidgeConfig

    config = hash_config(RidgeConfig(n_folds=n_folds, seed=seed))
    key = hash_config({"cache": sha256_file(cache), "config": config})
    path = out / "ridge_peer.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return saved["peer"]
    peer = ridge_beside(cache, n_folds=n_folds, seed=seed)
    write_json(path, {"key": key, "peer": peer})
    return peer


def _evaluation_key(run_dirs: list[Path], peer: dict | None) -> str:
    """What an evaluation depends on: its runs' weights and records, the peer, the schema."""
    files = [Path(r) / name for r in run_dirs for name in ("run.json", "best.pt")]
    return hash_config({"runs": hash_files(files), "peer": peer, "schema": METRICS_SCHEMA})


def _evaluate_entries(
    entries, plans, out: Path, peer: dict, *, jobs: int, progress: bool
) -> list[dict]:
    """Evaluate every entry's runs (``jobs`` at a time); one table row per entry and task.

    An entry whose runs, peer and metrics layout are unchanged since its last evaluation is
    read back from its ``metrics.json`` instead of being evaluated again.
    """
    calls, keys, evaluated = [], {}, {}
    for e in entries:
        runs = [run for run, _ in plans[e.name]]
        e_peer = peer if e.protocol == "zero-shot" else None
        keys[e.name] = _evaluation_key(runs, e_peer)
        stamp, metrics = out / e.name / "eval-key.json", out / e.name / "eval" / "metrics.json"
        if stamp.is_file() and metrics.is_file():
            if json.loads(stamp.read_text()).get("key") == keys[e.name]:
                evaluated[e.name] = json.loads(metrics.read_text())
                continue
        calls.append(
            {
                "run_dirs": runs,
                "out": out / e.name / "eval",
                "device": "cpu",
                "progress": progress and jobs == 1,
                "peer": e_peer,
            }
        )
    todo = [e for e in entries if e.name not in evaluated]
    for e, metrics in zip(
        todo,
        map_jobs(evaluate, calls, jobs=jobs, progress=progress, desc="evaluation"),
        strict=True,
    ):
        evaluated[e.name] = metrics
        write_json(out / e.name / "eval-key.json", {"key": keys[e.name]})
    rows = []
    for e in entries:
        for task, m in evaluated[e.name]["behaviour"].items():
            rows.append(
                {
                    "entry": e.name,
                    "design": plans[e.name][0][1].fc_encoder,
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
    return rows


def _ridge_rows(peer: dict) -> list[dict]:
    """The ridge peer's zero-shot RT rows, in the suite's columns."""
    rows = []
    for task in TASK_NAMES:
        m = peer["targets"][f"rt_{task}"]
        rows.append(
            {
                "entry": "ridge",
                "design": "ridge",
                "protocol": "zero-shot",
                "control": "none",
                "shift": 0,
                "task": task,
                "r": m["r"],
                "ci_low": m["ci_low"],
                "ci_high": m["ci_high"],
                "n": m["n"],
                "rt_mae_s": m["mae"],
                "concordance": None,
            }
        )
    return rows
