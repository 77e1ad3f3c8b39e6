"""Reading and validating the task events files (``*_events.tsv``) of the TCP layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dtb.layout import Run
from dtb.tasks import TASKS, get_task

#: Derived from the task definitions (dtb.tasks), keyed by task name.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {t.name: t.columns for t in TASKS}
N_TRIALS = {t.name: t.n_trials for t in TASKS}
TRIAL_TYPES = {t.name: set(t.trial_types) for t in TASKS}
CHANCE = {t.name: t.chance for t in TASKS}
_NUMERIC = ("onset", "duration", "response_time", "accuracy_binarized")


class EventsError(ValueError):
    """An events file that cannot be used; the message names the file."""


def read_events(path: Path | str, run: Run, *, expect_trials: bool = True) -> pd.DataFrame:
    """Read and validate one task's events file.

    Parameters
    ----------
    path : path-like
        The ``*_events.tsv`` file (BIDS, tab separated, ``n/a`` for missing).
    run : Run
        ``dtb.layout.FACES`` or ``dtb.layout.STROOP``, or a run of another dataset (its
        ``duration`` bounds the onsets).
    expect_trials : bool
        Require the protocol's number of trials (TCP); another dataset's runs may differ.

    Returns
    -------
    events : pandas.DataFrame, shape (n_trials, n_columns)
        Sorted by onset, with ``response_time`` as float (NaN = no response) and
        ``accuracy_binarized`` as float (0/1).

    Raises
    ------
    EventsError
        If the file is missing, unreadable, lacks a required column, has non-numeric timing,
        unknown trial types, trials that start after the run ends, or another number of
        trials than the protocol's (108 Faces, 78 Stroop), as a truncated file has.
    """
    path = Path(path)
    try:
        spec = get_task(run)
    except ValueError as exc:
        raise EventsError(f"{path}: {exc}") from exc
    task = spec.name
    if not path.is_file():
        raise EventsError(f"{path}: events file not found")
    try:
        df = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise EventsError(f"{path}: cannot parse events file ({exc})") from exc
    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        raise EventsError(f"{path}: missing column(s) {', '.join(missing)}")
    if df.empty:
        raise EventsError(f"{path}: no trials")
    for col in _NUMERIC:
        try:
            df[col] = pd.to_numeric(df[col], errors="raise").astype(float)
        except (ValueError, TypeError) as exc:
            raise EventsError(f"{path}: column {col!r} is not numeric ({exc})") from exc
    if df["onset"].isna().any() or df["duration"].isna().any():
        raise EventsError(f"{path}: trials without onset or duration")
    if not np.isfinite(df[["onset", "duration"]].to_numpy()).all():
        raise EventsError(f"{path}: non-finite onset or duration")
    text_cols = list(spec.text_columns)
    incomplete = df[text_cols].isna()
    if incomplete.any().any():
        row = int(np.flatnonzero(incomplete.any(axis=1).to_numpy())[0])
        cols = [c for c in text_cols if incomplete[c].iloc[row]]
        raise EventsError(f"{path}: trial {row + 1} lacks {', '.join(cols)} (truncated file?)")
    bad_types = sorted(set(df["trial_type"].astype(str)) - spec.trial_types)
    if bad_types:
        raise EventsError(
            f"{path}: unknown trial_type(s) {bad_types} for task {task}; "
            f"known: {', '.join(sorted(spec.trial_types))}"
        )
    late = df["onset"] >= run.duration
    if late.any():
        raise EventsError(
            f"{path}: {int(late.sum())} trial(s) start at or after the run's end "
            f"({run.duration:.1f} s), first at {df.loc[late, 'onset'].iloc[0]:.2f} s"
        )
    if (df["onset"] < 0).any():
        raise EventsError(f"{path}: negative onsets")
    if expect_trials and len(df) != spec.n_trials:
        raise EventsError(
            f"{path}: {len(df)} trials, expected {spec.n_trials} for {task} (truncated file?)"
        )
    for col in ("cueStartTime", "cueEndTime"):  # optional timing columns (Faces' cue)
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df.sort_values("onset", kind="stable").reset_index(drop=True)


def correct_button(events: pd.DataFrame, run: Run) -> np.ndarray:
    """Index of the correct button per trial (the task's ``correct_button`` rule).

    Faces: 0 = left, 1 = right (the bottom image identical to the top one).
    Stroop: 0 = red, 1 = green, 2 = blue (the ink colour).

    Returns
    -------
    buttons : ndarray of int, shape (n_trials,)
    """
    try:
        return get_task(run).correct_button(events)
    except ValueError as exc:
        raise EventsError(str(exc)) from exc


#: pressed_button code for "no response".
NO_PRESS = -1
#: pressed_button code for "a wrong key was pressed but which one is not recorded" (Stroop errors).
UNKNOWN_KEY = -2


def pressed_button(events: pd.DataFrame, run: Run) -> np.ndarray:
    """Button pressed per trial, as far as the events file tells.

    Correct trials pressed the correct button; trials without a response time pressed
    nothing (``NO_PRESS``). Faces errors pressed the other button. Stroop errors with a
    response have no key code in the data (``UNKNOWN_KEY``).

    Returns
    -------
    buttons : ndarray of int, shape (n_trials,)
    """
    correct = correct_button(events, run)
    rt = events["response_time"].to_numpy(float)
    acc = events["accuracy_binarized"].to_numpy(float)
    # an error of a two-button task pressed the other button; otherwise the key is unknown
    spec = get_task(run)
    known = spec.error_key_known and len(spec.buttons) == 2
    out = np.where(acc == 1, correct, 1 - correct if known else UNKNOWN_KEY)
    out = np.where(np.isnan(rt), NO_PRESS, out)
    return out.astype(int)


def is_incongruent(events: pd.DataFrame) -> np.ndarray:
    """Boolean per Stroop trial: incongruent (``inc*``) rather than congruent."""
    return get_task("stroop").first_condition(events)
