"""The task definitions (dtb.tasks): consistent, the one source of every task-specific fact,
and a new task is one definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dtb.tasks as tasks
from dtb.data import events as events_mod
from dtb.data.encoding import EncodingConfig, encode_run, trial_table
from dtb.glm import CONDITIONS
from dtb.layout import FACES, STROOP, Run
from dtb.model import ModelConfig
from dtb.tasks import FACES_TASK, STROOP_TASK, TASK_NAMES, TASKS, Task, get_task


def test_the_tcp_tasks_are_defined_once_and_everything_reads_them():
    assert TASK_NAMES == ("faces", "stroop") and [t.run for t in TASKS] == [FACES, STROOP]
    assert [t.flag for t in TASKS] == [0.0, 1.0]  # the task flag orders the tasks
    assert FACES_TASK.chance == 1 / 2 and STROOP_TASK.chance == 1 / 3
    assert FACES_TASK.contrast == "face > shape"
    assert STROOP_TASK.contrast == "incongruent > congruent"
    # the modules' tables are derived from the definitions, not written again
    assert events_mod.CHANCE == {t.name: t.chance for t in TASKS}
    assert events_mod.N_TRIALS == {"faces": 108, "stroop": 78}
    assert CONDITIONS == {t.name: t.conditions for t in TASKS}
    cfg = ModelConfig()
    assert cfg.n_input == tasks.N_SENSORY + 1 and cfg.n_action == max(len(t.buttons) for t in TASKS)


def test_a_task_is_found_by_name_run_or_itself_and_an_unknown_one_is_named():
    assert get_task("stroop") is STROOP_TASK and get_task(FACES) is FACES_TASK
    assert get_task(FACES_TASK) is FACES_TASK
    with pytest.raises(ValueError, match=r"task 'nback' has no definition; known tasks: faces"):
        get_task("nback")
    with pytest.raises(ValueError, match=r"x\.tsv: task 'nback' has no definition"):
        events_mod.read_events("x.tsv", Run("nback", "nbackAP", 1, 300))


def _go_stimuli(events, inputs, start, stop, rng, cfg) -> None:
    """Dim 0: a go signal; dim 1: a no-go signal."""
    for k, kind in enumerate(events["trial_type"]):
        inputs[start[k] : stop[k], 0 if kind == "go" else 1] = 1.0


GO_NOGO = Task(
    name="gonogo",
    run=Run("gonogo", "gonogoAP", 1, 100),
    label="Go/no-go",
    n_trials=3,
    trial_types=frozenset({"go", "nogo"}),
    columns=tasks.BASE_COLUMNS,
    text_columns=("trial_type",),
    conditions=("go", "nogo"),
    buttons=("press", "hold"),
    flag=2.0,
    error_key_known=True,
    display_limit=None,
    first_condition=lambda ev: (ev["trial_type"] == "go").to_numpy(),
    correct_button=lambda ev: np.where(ev["trial_type"] == "go", 0, 1),
    stimuli=_go_stimuli,
)


def test_a_new_task_is_one_definition(monkeypatch, tmp_path):
    monkeypatch.setattr(tasks, "TASKS", (*TASKS, GO_NOGO))
    ev = pd.DataFrame(
        {
            "onset": [1.0, 4.0, 8.0],
            "duration": [1.0, 1.0, 1.0],
            "trial_type": ["go", "nogo", "go"],
            "response_time": [0.4, np.nan, 0.56],
            "accuracy_binarized": [1, 1, 0],
        }
    )
    path = tmp_path / "sub_task-gonogoAP_events.tsv"
    ev.to_csv(path, sep="\t", index=False, na_rep="n/a")
    read = events_mod.read_events(path, GO_NOGO.run)
    x, a, mask = encode_run(read, GO_NOGO.run, 120, np.random.default_rng(0))
    step = EncodingConfig().step
    assert x[round(1.0 / step), 0] == 1 and x[round(4.0 / step), 1] == 1
    assert (x[:, tasks.FLAG_DIM] == 2.0).all()
    assert a[round(1.4 / step), 0] == 1  # the press of trial 1 on the "press" button
    assert a[round(8.56 / step), 0] == 0 and a[round(8.56 / step), 1] == 1  # an error: the other
    table = trial_table(read, GO_NOGO.run)
    assert table[:, -1].tolist() == [1.0, 0.0, 1.0]  # the first condition, "go"
