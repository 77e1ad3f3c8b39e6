"""The tasks the twin performs, as typed definitions: everything task-specific in one place.

A :class:`Task` says which run holds it (BIDS label, run length), what its events files must
contain (columns, trial types, trials per run), its two conditions and the GLM contrast between
them, its buttons (and so its chance accuracy), the value of the task flag, how a trial's events
become the sensory inputs of the twin, which button was correct, and whether an error trial
names the key pressed. Every module reads these from here: the readers of events, the encoding
of inputs and targets, the GLM, the baselines, evaluation, the ridge peer and the interventions.

The TCP protocol's two tasks are the instances :data:`FACES_TASK` (Hariri emotional faces) and
:data:`STROOP_TASK`; :data:`TASKS` is the set the twin is trained on, in the order of the task
flag. Adding a task is one more instance (and its tests): a run in :mod:`dtb.layout`, its
events columns, conditions, buttons and a function that writes its stimuli into the inputs.

Input dimensions (9): 8 sensory dimensions, written by each task's ``stimuli`` function while a
trial is on screen, and the task flag (dimension 8). The twin has one action output per button
of the task with the most buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dtb.layout import FACES, STROOP, Run

#: Sensory input dimensions shared by the tasks, and the index of the task flag after them.
N_SENSORY = 8
FLAG_DIM = N_SENSORY
#: Stroop's ink and word colours, in the order of its buttons.
COLOURS = ("red", "green", "blue")
#: The events columns every task needs: timing, condition and the response.
BASE_COLUMNS = ("onset", "duration", "trial_type", "response_time", "accuracy_binarized")
_SHAPE_CODES = {"oval-horizontal": (1.0, 0.0), "oval-vertical": (0.0, 1.0), "circle": (1.0, 1.0)}

#: ``stimuli(events, inputs, start, stop, rng, config)`` writes the sensory dimensions of every
#: trial into ``inputs`` (n_steps, 9) between its display start and stop steps.
StimulusWriter = Callable[
    [pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.random.Generator, object], None
]


@dataclass(frozen=True)
class Task:
    """One task of the twin.

    Attributes
    ----------
    name : str
        Short name used throughout dtb and in file keys (``faces_inputs``).
    run : Run
        The run holding the task (:mod:`dtb.layout`): BIDS task label, run index, volumes.
    label : str
        Name for people (figures, book).
    n_trials : int
        Trials per run in the protocol (a file with another count is refused as truncated).
    trial_types : frozenset of str
        Allowed values of the events' ``trial_type``.
    columns : tuple of str
        Columns every events file of the task must have.
    text_columns : tuple of str
        Columns that must be filled on every trial.
    conditions : (str, str)
        The two conditions, coded 1 and 0 in the trial table; the GLM contrast is first > second.
    buttons : tuple of str
        Response buttons, in the order of the action outputs.
    flag : float
        Value of the task-flag input.
    error_key_known : bool
        Whether an error trial tells which button was pressed (Faces: the other one of two;
        Stroop: not recorded, so the action target is masked on those trials).
    display_limit : float or None
        Seconds a stimulus stays on screen at most, when the events' ``duration`` also holds
        the inter-stimulus interval (Stroop); None when ``duration`` is the display time.
    first_condition : callable
        ``events -> bool array``: the trials of the first condition.
    correct_button : callable
        ``events -> int array``: index of the correct button per trial.
    stimuli : callable
        Writes the sensory inputs (see :data:`StimulusWriter`).
    """

    name: str
    run: Run
    label: str
    n_trials: int
    trial_types: frozenset[str]
    columns: tuple[str, ...]
    text_columns: tuple[str, ...]
    conditions: tuple[str, str]
    buttons: tuple[str, ...]
    flag: float
    error_key_known: bool
    display_limit: float | None
    first_condition: Callable[[pd.DataFrame], np.ndarray] = field(repr=False)
    correct_button: Callable[[pd.DataFrame], np.ndarray] = field(repr=False)
    stimuli: StimulusWriter = field(repr=False)

    @property
    def chance(self) -> float:
        """Chance accuracy: one over the number of buttons."""
        return 1.0 / len(self.buttons)

    @property
    def contrast(self) -> str:
        """The GLM contrast in words, e.g. ``"face > shape"``."""
        return f"{self.conditions[0]} > {self.conditions[1]}"


# ---------------------------------------------------------------------------------------------
# Emotional Faces (Hariri): match the bottom image to the top one
# ---------------------------------------------------------------------------------------------


def _shape_code(name: str) -> tuple[float, float]:
    key = str(name).lower().rsplit(".", 1)[0]
    if key not in _SHAPE_CODES:
        raise ValueError(f"unknown shape image {name!r} (expected one of {sorted(_SHAPE_CODES)})")
    return _SHAPE_CODES[key]


def _face_codes(left: str, top: str, right: str, rng: np.random.Generator, cfg) -> np.ndarray:
    """Codes (3, 2) for left/top/right face images; identical images share a code."""

    def draw(levels: np.ndarray) -> np.ndarray:
        lo = rng.uniform(*cfg.face_low, size=2)
        hi = rng.uniform(*cfg.face_high, size=2)
        return np.where(levels, hi, lo)

    top_levels = rng.integers(0, 2, size=2).astype(bool)
    other_levels = top_levels.copy()
    other_levels[rng.integers(0, 2)] ^= True  # differs in at least one dimension
    top_code = draw(top_levels)
    names = [str(x).lower() for x in (left, top, right)]
    out = np.empty((3, 2))
    for k, name in enumerate(names):
        out[k] = top_code if name == names[1] else draw(other_levels)
    return out


def _faces_stimuli(events, inputs, start, stop, rng, cfg) -> None:
    """Dims 0-1: the cue (match faces / match shapes); 2-7: left, top, right image codes."""
    cue_start = events["cueStartTime"].to_numpy(float)
    cue_end = events["cueEndTime"].to_numpy(float)
    for k in np.flatnonzero(np.isfinite(cue_start) & np.isfinite(cue_end)):
        dim = 0 if events["trial_type"].iloc[k] == "face" else 1
        a, b = (int(round(t / cfg.step)) for t in (cue_start[k], cue_end[k]))
        inputs[a:b, dim] = 1.0
    for k, row in enumerate(events.itertuples(index=False)):
        if row.trial_type == "face":
            codes = _face_codes(row.stimLeft, row.stimTop, row.stimRight, rng, cfg)
        else:
            codes = np.array([_shape_code(x) for x in (row.stimLeft, row.stimTop, row.stimRight)])
        inputs[start[k] : stop[k], 2:8] = codes.reshape(-1)


def _faces_correct(events: pd.DataFrame) -> np.ndarray:
    """0 = left, 1 = right: the bottom image identical to the top one."""
    left = events["stimLeft"].astype(str).str.lower() == events["stimTop"].astype(str).str.lower()
    return np.where(left.to_numpy(), 0, 1)


FACES_TASK = Task(
    name="faces",
    run=FACES,
    label="Emotional Faces",
    n_trials=108,
    trial_types=frozenset({"face", "shape"}),
    columns=(*BASE_COLUMNS, "cueStartTime", "cueEndTime", "stimLeft", "stimTop", "stimRight"),
    text_columns=("trial_type", "stimLeft", "stimTop", "stimRight"),
    conditions=("face", "shape"),
    buttons=("left", "right"),
    flag=0.0,
    error_key_known=True,
    display_limit=None,
    first_condition=lambda events: (events["trial_type"] == "face").to_numpy(),
    correct_button=_faces_correct,
    stimuli=_faces_stimuli,
)


# ---------------------------------------------------------------------------------------------
# Stroop: press the button of the ink colour
# ---------------------------------------------------------------------------------------------


def _stroop_stimuli(events, inputs, start, stop, rng, cfg) -> None:
    """Dims 0-2: ink colour (one-hot); 3-5: the word (one-hot); 6-7 stay 0."""
    ink = events["stimulus_color"].astype(str).str.lower()
    word = events["stimulus_text"].astype(str).str.lower()
    for k in range(len(events)):
        if ink.iloc[k] not in COLOURS or word.iloc[k] not in COLOURS:
            raise ValueError(
                f"Stroop trial {k}: unknown colour/word {ink.iloc[k]!r}/{word.iloc[k]!r}"
            )
        inputs[start[k] : stop[k], COLOURS.index(ink.iloc[k])] = 1.0
        inputs[start[k] : stop[k], 3 + COLOURS.index(word.iloc[k])] = 1.0


def _stroop_correct(events: pd.DataFrame) -> np.ndarray:
    """0 = red, 1 = green, 2 = blue: the ink colour."""
    colour = events["stimulus_color"].astype(str).str.lower()
    bad = ~colour.isin(COLOURS)
    if bad.any():
        raise ValueError(f"unknown stimulus_color value(s) {sorted(set(colour[bad]))}")
    return colour.map({c: i for i, c in enumerate(COLOURS)}).to_numpy()


STROOP_TASK = Task(
    name="stroop",
    run=STROOP,
    label="Stroop",
    n_trials=78,
    trial_types=frozenset({"con1", "con2", "con3", "inc1", "inc2", "inc3", "inc4", "inc5", "inc6"}),
    columns=(*BASE_COLUMNS, "stimulus_text", "stimulus_color"),
    text_columns=("trial_type", "stimulus_text", "stimulus_color"),
    conditions=("incongruent", "congruent"),
    buttons=COLOURS,
    flag=1.0,
    error_key_known=False,
    display_limit=2.0,
    first_condition=lambda events: events["trial_type"].astype(str).str.startswith("inc").values,
    correct_button=_stroop_correct,
    stimuli=_stroop_stimuli,
)


# ---------------------------------------------------------------------------------------------
# The task set
# ---------------------------------------------------------------------------------------------

#: The tasks the twin performs, in the order of the task flag.
TASKS: tuple[Task, ...] = (FACES_TASK, STROOP_TASK)
#: Their runs (:mod:`dtb.layout`), in the same order.
TASK_RUNS: tuple[Run, ...] = tuple(t.run for t in TASKS)
#: Their names: the keys of a prepared cohort's task arrays (``faces_inputs``, ...).
TASK_NAMES: tuple[str, ...] = tuple(t.name for t in TASKS)
#: Action outputs of the twin: the buttons of the task with the most.
N_ACTION = max(len(t.buttons) for t in TASKS)
#: Inputs of the twin: the sensory dimensions and the task flag.
N_INPUT = N_SENSORY + 1


def get_task(task: str | Run | Task) -> Task:
    """The definition of a task, by name, run or definition.

    Raises
    ------
    ValueError
        For a task without a definition, naming the known ones.
    """
    if isinstance(task, Task):
        return task
    name = task.name if isinstance(task, Run) else str(task)
    for t in TASKS:
        if t.name == name:
            return t
    raise ValueError(
        f"task {name!r} has no definition; known tasks: {', '.join(TASK_NAMES)} "
        "(add a Task to dtb.tasks)"
    )
