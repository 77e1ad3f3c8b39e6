"""The twin's 80 ms world: 9-dim task inputs and 3 action targets from an events table.

Input dimensions (paper section 2):

======  =====================================  ==========================
dim     Emotional Faces (``hammerAP``)          Stroop (``stroopAP``)
======  =====================================  ==========================
0, 1    cue "match faces" / "match shapes"      ink colour red, green
2, 3    left image code (2 dims)                ink colour blue, word red
4, 5    top image code                          word green, word blue
6, 7    right image code                        0, 0
8       task flag 0                             task flag 1
======  =====================================  ==========================

Everything except the task flag is 0 while nothing is on screen. Face images get a random code
per image, each dimension drawn from U[0, 0.1] or U[0.9, 1] (the two identical images share one
code); shapes are coded oval-horizontal (1, 0), oval-vertical (0, 1), circle (1, 1).

Decisions of ours, documented because the paper does not state them:

* A stimulus stays on screen for a fixed, response-independent time: the Faces trial's
  ``duration`` column (about 1.9 s, fixed by the task) and the task's ``display_limit`` for Stroop
  (the Stroop ``duration`` column includes the inter-stimulus interval). A display that ended at
  the response would leak the reaction time into the input.
* An action target is 1 from the press (onset + response time) until the stimulus leaves the
  screen, and for at least ``press_hold`` seconds.
* Stroop error trials carry no key code: the action target is unknown there and masked out of
  the loss (``mask = False``) from onset to the end of the hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dtb.data.events import (
    NO_PRESS,
    UNKNOWN_KEY,
    correct_button,
    pressed_button,
)
from dtb.layout import Run
from dtb.tasks import FLAG_DIM, N_ACTION, N_INPUT, get_task

#: Trial-table fields stored per trial (see :func:`trial_table`).
TRIAL_FIELDS = ("onset", "display_end", "rt", "accuracy", "correct", "pressed", "condition")


@dataclass(frozen=True)
class EncodingConfig:
    """How events become 80 ms inputs and targets.

    Attributes
    ----------
    step : float
        Model time step in seconds.
    press_hold : float
        Minimum seconds an action target stays 1 after a press.
    face_low, face_high : tuple of float
        Ranges of the two levels of a face-image code dimension.
    """

    step: float = 0.08
    press_hold: float = 0.4
    face_low: tuple[float, float] = (0.0, 0.1)
    face_high: tuple[float, float] = (0.9, 1.0)


def _step(t: float | np.ndarray, step: float) -> np.ndarray:
    return np.rint(np.asarray(t, dtype=float) / step).astype(int)


def _display_end(events: pd.DataFrame, run: Run, cfg: EncodingConfig) -> np.ndarray:
    """When each trial's stimulus leaves the screen (s): its duration, capped by the task's
    ``display_limit`` where the duration column also holds the inter-stimulus interval."""
    onset, duration = events["onset"].to_numpy(float), events["duration"].to_numpy(float)
    limit = get_task(run).display_limit
    return onset + (duration if limit is None else np.minimum(duration, limit))


def encode_run(
    events: pd.DataFrame,
    run: Run,
    n_steps: int,
    rng: np.random.Generator,
    config: EncodingConfig = EncodingConfig(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode one task run at 80 ms resolution.

    Parameters
    ----------
    events : pandas.DataFrame
        As returned by :func:`dtb.data.events.read_events`.
    run : Run
        ``FACES`` or ``STROOP``.
    n_steps : int
        Number of model steps to encode (from t = 0).
    rng : numpy.random.Generator
        Draws the face-image codes.
    config : EncodingConfig

    Returns
    -------
    inputs : ndarray of float32, shape (n_steps, 9)
    actions : ndarray of float32, shape (n_steps, 3)
        1 while a button is held, else 0.
    mask : ndarray of bool, shape (n_steps,)
        False where the action target is unknown (Stroop error trials).
    """
    task = get_task(run)
    step = config.step
    inputs = np.zeros((n_steps, N_INPUT), dtype=np.float32)
    actions = np.zeros((n_steps, N_ACTION), dtype=np.float32)
    mask = np.ones(n_steps, dtype=bool)
    inputs[:, FLAG_DIM] = task.flag

    onset = events["onset"].to_numpy(float)
    disp_end = _display_end(events, run, config)
    s0, s1 = _step(onset, step), _step(disp_end, step)
    task.stimuli(events, inputs, s0, s1, rng, config)

    pressed = pressed_button(events, run)
    rt = events["response_time"].to_numpy(float)
    for k in np.flatnonzero(pressed != NO_PRESS):
        t_press = onset[k] + rt[k]
        t_release = max(disp_end[k], t_press + config.press_hold)
        a, b = _step(t_press, step), _step(t_release, step)
        if pressed[k] == UNKNOWN_KEY:
            mask[s0[k] : b] = False
        else:
            actions[a:b, pressed[k]] = 1.0
    return inputs, actions, mask


def trial_table(
    events: pd.DataFrame, run: Run, config: EncodingConfig = EncodingConfig()
) -> np.ndarray:
    """Per-trial facts for evaluation, one row per trial.

    Returns
    -------
    table : ndarray of float64, shape (n_trials, 7)
        Columns :data:`TRIAL_FIELDS`: onset step, display-end step, response time (s, NaN for
        none), accuracy (0/1), correct button, pressed button (``-1`` none, ``-2`` unknown key),
        condition (Faces: 1 face, 0 shape; Stroop: 1 incongruent, 0 congruent).
    """
    onset = events["onset"].to_numpy(float)
    cond = get_task(run).first_condition(events)
    return np.column_stack(
        [
            _step(onset, config.step),
            _step(_display_end(events, run, config), config.step),
            events["response_time"].to_numpy(float),
            events["accuracy_binarized"].to_numpy(float),
            correct_button(events, run),
            pressed_button(events, run),
            cond.astype(float),
        ]
    ).astype(np.float64)
