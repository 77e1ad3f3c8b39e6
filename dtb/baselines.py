"""Behavioural baselines that need only the events files.

Any claim that a model predicts reaction time (RT) must beat what the events already give:

* **own mean RT**: a participant's mean RT in the training part (first 196.8 s) predicts their
  mean RT in the test part (next 196.8 s); Pearson r across participants with a 95% CI;
* **group-mean RT**: every participant is predicted by the mean of the *other* participants'
  training-part means (no individual information: r is undefined, the error is reported);
* **always correct**: a responder who always presses the correct button agrees with the
  participant's choice on the fraction of trials the participant got right (misses and errors
  disagree), the choice-concordance floor of any model.

Participants at or below chance accuracy over the whole run (1/2 Faces, 1/3 Stroop) are
excluded, as in the paper's RT and accuracy analyses. RT means use trials with a response.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from dtb.data.cohort import read_participants
from dtb.data.events import EventsError, is_incongruent, read_events
from dtb.data.sources import RunError
from dtb.layout import events_path
from dtb.provenance import code_version, config_dict
from dtb.tasks import TASK_RUNS, get_task


@dataclass(frozen=True)
class BaselineConfig:
    """Split used by the baselines (seconds), equal to the model's 2,460 + 2,460 steps."""

    train_end: float = 196.8
    test_end: float = 393.6


def pearson_with_ci(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> dict:
    """Pearson r, its Fisher-z confidence interval and p-value (scipy).

    Returns
    -------
    result : dict
        ``r``, ``ci_low``, ``ci_high``, ``p``, ``n``.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 4:
        return {"r": None, "ci_low": None, "ci_high": None, "p": None, "n": int(len(x))}
    res = stats.pearsonr(x, y)
    ci = res.confidence_interval(confidence_level=level)
    return {
        "r": float(res.statistic),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "p": float(res.pvalue),
        "n": int(len(x)),
    }


def participant_rt_summary(events, config: BaselineConfig) -> dict:
    """Whole-run accuracy, mean RT, miss rate and condition effect; train/test-part mean RT."""
    onset = events["onset"].to_numpy(float)
    rt = events["response_time"].to_numpy(float)
    acc = events["accuracy_binarized"].to_numpy(float)
    train = onset < config.train_end
    test = (onset >= config.train_end) & (onset < config.test_end)

    def mean_rt(sel: np.ndarray) -> float:
        v = rt[sel & np.isfinite(rt)]
        return float(v.mean()) if v.size else float("nan")

    cond = (
        (events["trial_type"] == "face").to_numpy()
        if "stimTop" in events.columns
        else is_incongruent(events)
    )
    whole = np.ones_like(train)
    return {
        "accuracy": float(np.nanmean(acc)),
        "mean_rt": mean_rt(whole),
        "miss_rate": float(np.isnan(rt).mean()),
        # Faces: face - shape; Stroop: incongruent - congruent (s)
        "condition_effect": mean_rt(cond) - mean_rt(~cond),
        "train_rt": mean_rt(train),
        "test_rt": mean_rt(test),
        "test_accuracy": float(np.nanmean(acc[test])) if test.any() else float("nan"),
    }


def split_of(cache: Path | str) -> BaselineConfig:
    """The baselines' split of a prepared cohort: its train and test parts in seconds."""
    from dtb.data.prepare import read_meta
    from dtb.layout import STEP

    cfg = read_meta(cache)["config"]
    return BaselineConfig(
        train_end=round(cfg["n_train"] * STEP, 6),
        test_end=round((cfg["n_train"] + cfg["n_test"]) * STEP, 6),
    )


def _events(source, root: Path, participant: str, run) -> pd.DataFrame | None:
    """A run's events, or None when the run has no events file; EventsError when bad."""
    if source is None or source.layout == "tcp":
        path = events_path(root, participant, run)
        return read_events(path, run) if path.is_file() else None
    try:
        return source.task(participant, run.name).events
    except RunError as exc:
        if exc.kind == "missing":
            return None
        raise EventsError(str(exc)) from exc


def behavioural_baselines(
    root: Path | str, config: BaselineConfig = BaselineConfig(), *, source=None
) -> dict:
    """Compute the events-only baselines for both tasks.

    Parameters
    ----------
    root : path-like
        Dataset root; for the TCP layout only ``participants.tsv`` and the events files are
        read.
    config : BaselineConfig
        The split (:func:`split_of` gives a prepared cohort's).
    source : dtb.data.sources.Source, optional
        How to read ``root`` (default: the TCP layout).

    Returns
    -------
    result : dict
        ``{"config", "code_version", "tasks": {task: {...}}, "skipped": [...]}``; per task:
        participant counts, the excluded ids, ``own_mean_rt`` (r with CI, mean absolute error in
        s), ``group_mean_rt`` (mean absolute error), ``always_correct`` (mean and SD of choice
        concordance on the test part), and the per-participant table.
    """
    root = Path(root)
    participants = source.participants() if source is not None else read_participants(root)
    out: dict = {"config": config_dict(config), "code_version": code_version(), "tasks": {}}
    skipped = []
    for run in TASK_RUNS:
        rows = []
        for p in participants:
            try:
                ev = _events(source, root, p, run)
                if ev is None:
                    continue
            except EventsError as exc:
                skipped.append({"participant": p, "run": run.name, "reason": str(exc)})
                continue
            rows.append({"participant": p, **participant_rt_summary(ev, config)})
        chance = get_task(run).chance
        excluded = [r["participant"] for r in rows if not r["accuracy"] > chance]
        used = [
            r
            for r in rows
            if r["accuracy"] > chance and np.isfinite(r["train_rt"]) and np.isfinite(r["test_rt"])
        ]
        train = np.array([r["train_rt"] for r in used])
        test = np.array([r["test_rt"] for r in used])
        n = len(used)
        if n > 1:
            loo = (train.sum() - train) / (n - 1)  # leave-one-out group mean
            group_mae = float(np.abs(loo - test).mean())
        else:
            group_mae = None
        conc = np.array([r["test_accuracy"] for r in used])
        out["tasks"][run.name] = {
            "n_with_events": len(rows),
            "n_excluded_chance": len(excluded),
            "excluded_chance": excluded,
            "n_used": n,
            "chance": chance,
            "own_mean_rt": {
                **pearson_with_ci(train, test),
                "mae_s": float(np.abs(train - test).mean()) if n else None,
            },
            "group_mean_rt": {"r": None, "mae_s": group_mae},
            "always_correct": {
                "concordance_mean": float(conc.mean()) if n else None,
                "concordance_sd": float(conc.std(ddof=1)) if n > 1 else None,
            },
            "participants": rows,
        }
    out["skipped"] = skipped
    return out
