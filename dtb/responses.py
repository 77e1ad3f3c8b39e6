"""From the twin's action outputs to choices and reaction times, trial by trial.

The paper's rule: the model's choice is the first action output to cross 0.5 after stimulus
onset, and its reaction time is the number of 80 ms steps to that crossing. We look for the
crossing from the trial's onset until the next trial's onset (at most ``max_rt`` seconds).
"""

from __future__ import annotations

import numpy as np

from dtb.data.encoding import TRIAL_FIELDS
from dtb.data.events import NO_PRESS, UNKNOWN_KEY
from dtb.layout import STEP

_F = {name: k for k, name in enumerate(TRIAL_FIELDS)}


def model_responses(
    action_prob: np.ndarray, trials: np.ndarray, threshold: float = 0.5, max_rt: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Choices and RTs of the model for each trial.

    Parameters
    ----------
    action_prob : ndarray, shape (n_steps, 3)
        Sigmoid action outputs at 80 ms steps.
    trials : ndarray, shape (n_trials, 7)
        Trial table (``dtb.data.encoding.trial_table``; NaN rows are padding and skipped).
    threshold : float
    max_rt : float
        Longest reaction time searched, in seconds.

    Returns
    -------
    choice : ndarray of int, shape (n_trials,)
        Button index, or ``-1`` when no output crossed the threshold.
    rt : ndarray of float, shape (n_trials,)
        Seconds from onset to the crossing; NaN without a crossing.
    """
    prob = np.asarray(action_prob)
    if prob.ndim != 2 or prob.shape[1] != 3:
        raise ValueError(f"action_prob must have shape (n_steps, 3), got {prob.shape}")
    n_steps = len(prob)
    onsets = trials[:, _F["onset"]]
    choice = np.full(len(trials), NO_PRESS, dtype=int)
    rt = np.full(len(trials), np.nan)
    valid = np.flatnonzero(np.isfinite(onsets))
    max_steps = int(round(max_rt / STEP))
    for j, k in enumerate(valid):
        s0 = int(onsets[k])
        nxt = int(onsets[valid[j + 1]]) if j + 1 < len(valid) else n_steps
        s1 = min(nxt, s0 + max_steps, n_steps)
        if s0 >= n_steps:
            continue
        above = prob[s0:s1] > threshold
        hit = np.flatnonzero(above.any(axis=1))
        if hit.size:
            t = hit[0]
            choice[k] = int(np.argmax(np.where(above[t], prob[s0 + t], -np.inf)))
            rt[k] = t * STEP
    return choice, rt


def concordance(choice: np.ndarray, trials: np.ndarray) -> float:
    """Fraction of trials where the model's choice equals the participant's.

    A miss counts as the choice "no press". Stroop errors, whose key is not recorded, are left
    out. NaN when no trial qualifies.
    """
    pressed = trials[:, _F["pressed"]]
    ok = np.isfinite(pressed) & (pressed != UNKNOWN_KEY)
    if not ok.any():
        return float("nan")
    return float(np.mean(choice[ok] == pressed[ok].astype(int)))


def trials_in_part(trials: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows of a trial table whose onset step lies in [start, stop)."""
    onset = trials[:, _F["onset"]]
    return trials[np.isfinite(onset) & (onset >= start) & (onset < stop)]


def observed_rt(trials: np.ndarray) -> np.ndarray:
    """The participant's response times (s) of a trial table; NaN for misses."""
    return trials[:, _F["rt"]]
