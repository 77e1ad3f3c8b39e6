import numpy as np
import pandas as pd
import pytest

from dtb.data.events import (
    NO_PRESS,
    UNKNOWN_KEY,
    EventsError,
    correct_button,
    pressed_button,
    read_events,
)
from dtb.layout import FACES, STROOP


def _stroop(rows):
    cols = [
        "onset",
        "duration",
        "trial_type",
        "response_time",
        "accuracy_binarized",
        "tr_seconds",
        "stimulus_text",
        "stimulus_color",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_real_events_read_with_expected_trial_counts(tcp_root):
    faces = sorted(tcp_root.glob("sub-*/func/*task-hammerAP_run-01_events.tsv"))
    stroop = sorted(tcp_root.glob("sub-*/func/*task-stroopAP_run-01_events.tsv"))
    assert len(faces) > 100 and len(stroop) > 100
    for f in faces[:20]:
        ev = read_events(f, FACES)
        assert len(ev) == 108 and set(ev["trial_type"]) == {"face", "shape"}
    for f in stroop[:20]:
        ev = read_events(f, STROOP)
        assert len(ev) == 78 and ev["trial_type"].str.startswith("inc").sum() == 24


def test_buttons_follow_the_task_rules():
    ev = _stroop(
        [
            [2.0, 2.25, "con1", 0.7, 1.0, 0.8, "red", "red"],
            [5.0, 4.5, "inc2", 0.9, 0.0, 0.8, "blue", "red"],
            [9.0, 8.25, "inc6", np.nan, 0.0, 0.8, "green", "blue"],
        ]
    )
    assert correct_button(ev, STROOP).tolist() == [0, 0, 2]
    assert pressed_button(ev, STROOP).tolist() == [0, UNKNOWN_KEY, NO_PRESS]


def test_faces_correct_button_is_the_image_matching_the_top():
    ev = pd.DataFrame(
        {
            "stimLeft": ["a.jpg", "b.jpg"],
            "stimTop": ["A.JPG", "c.jpg"],
            "stimRight": ["x.jpg", "c.jpg"],
            "response_time": [0.8, 0.9],
            "accuracy_binarized": [1.0, 0.0],
        }
    )
    assert correct_button(ev, FACES).tolist() == [0, 1]
    # a Faces error pressed the other button
    assert pressed_button(ev, FACES).tolist() == [0, 0]


def test_missing_column_names_the_file(tmp_path):
    p = tmp_path / "x_events.tsv"
    _stroop([[2.0, 2.25, "con1", 0.7, 1.0, 0.8, "red", "red"]]).drop(
        columns="stimulus_color"
    ).to_csv(p, sep="\t", index=False)
    with pytest.raises(EventsError, match=r"x_events\.tsv.*stimulus_color"):
        read_events(p, STROOP)


def test_trial_after_the_run_end_is_refused(tmp_path):
    p = tmp_path / "late_events.tsv"
    _stroop([[500.0, 2.25, "con1", 0.7, 1.0, 0.8, "red", "red"]]).to_csv(p, sep="\t", index=False)
    with pytest.raises(EventsError, match="after the run's end"):
        read_events(p, STROOP)


def test_truncated_file_is_refused(tmp_path, tcp_root):
    src = sorted(tcp_root.glob("sub-*/func/*task-stroopAP_run-01_events.tsv"))[0]
    text = src.read_text()
    p = tmp_path / "trunc_events.tsv"
    p.write_text(text[: len(text) // 2 - 7])  # cut mid-row
    with pytest.raises(EventsError, match="trunc_events.tsv"):
        read_events(p, STROOP)


def test_unknown_trial_type_and_empty_file(tmp_path):
    p = tmp_path / "t_events.tsv"
    _stroop([[2.0, 2.25, "neutral", 0.7, 1.0, 0.8, "red", "red"]]).to_csv(p, sep="\t", index=False)
    with pytest.raises(EventsError, match="neutral"):
        read_events(p, STROOP)
    p.write_text("")
    with pytest.raises(EventsError, match="t_events.tsv"):
        read_events(p, STROOP)
