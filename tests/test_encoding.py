import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dtb.data.encoding import EncodingConfig, encode_run, trial_table
from dtb.layout import FACES, STROOP
from dtb.tasks import COLOURS, STROOP_TASK

CFG = EncodingConfig()
N_STEPS = 1500  # 120 s


@st.composite
def stroop_events(draw):
    n = draw(st.integers(1, 12))
    gaps = draw(st.lists(st.floats(3.0, 9.0), min_size=n, max_size=n))
    onset = 2.0 + np.cumsum([0.0, *gaps[:-1]])
    rows = []
    for k in range(n):
        ink = draw(st.sampled_from(COLOURS))
        word = draw(st.sampled_from(COLOURS))
        rt = draw(st.one_of(st.none(), st.floats(0.2, 1.8)))
        acc = 0.0 if rt is None else float(draw(st.booleans()))
        rows.append(
            [
                onset[k],
                gaps[k],
                "con1" if ink == word else "inc1",
                np.nan if rt is None else rt,
                acc,
                0.8,
                word,
                ink,
            ]
        )
    return pd.DataFrame(
        rows,
        columns=[
            "onset",
            "duration",
            "trial_type",
            "response_time",
            "accuracy_binarized",
            "tr_seconds",
            "stimulus_text",
            "stimulus_color",
        ],
    )


@st.composite
def faces_events(draw):
    n = draw(st.integers(1, 12))
    onset = 4.0 + 3.0 * np.arange(n)
    shapes = ["oval-horizontal.bmp", "oval-vertical.bmp", "circle.bmp"]
    rows = []
    for k in range(n):
        face = draw(st.booleans())
        pool = ["A.jpg", "B.jpg", "C.jpg"] if face else shapes
        top = draw(st.sampled_from(pool))
        other = draw(st.sampled_from([p for p in pool if p != top]))
        left_match = draw(st.booleans())
        left, right = (top, other) if left_match else (other, top)
        rt = draw(st.one_of(st.none(), st.floats(0.3, 1.8)))
        acc = 0.0 if rt is None else float(draw(st.booleans()))
        cue = (onset[k] - 3.0, onset[k] - 0.05) if k == 0 else (np.nan, np.nan)
        rows.append(
            [
                onset[k],
                1.9,
                "face" if face else "shape",
                np.nan if rt is None else rt,
                acc,
                *cue,
                left,
                top,
                right,
            ]
        )
    return pd.DataFrame(
        rows,
        columns=[
            "onset",
            "duration",
            "trial_type",
            "response_time",
            "accuracy_binarized",
            "cueStartTime",
            "cueEndTime",
            "stimLeft",
            "stimTop",
            "stimRight",
        ],
    )


def _steps(t):
    return int(np.rint(t / CFG.step))


@settings(max_examples=50, deadline=None)
@given(stroop_events(), st.integers(0, 2**31))
def test_stroop_encoding_properties(ev, seed):
    x, a, m = encode_run(ev, STROOP, N_STEPS, np.random.default_rng(seed))
    assert x.shape == (N_STEPS, 9) and a.shape == (N_STEPS, 3) and m.shape == (N_STEPS,)
    assert np.all(x[:, 8] == 1.0)  # task flag constant over the run
    assert np.all(x[:, 6:8] == 0)
    shown = np.zeros(N_STEPS, bool)
    for row in ev.itertuples():
        s0, s1 = _steps(row.onset), _steps(row.onset + min(row.duration, STROOP_TASK.display_limit))
        shown[s0:s1] = True
        ink, word = COLOURS.index(row.stimulus_color), COLOURS.index(row.stimulus_text)
        assert np.all(x[s0:s1, ink] == 1) and np.all(x[s0:s1, :3].sum(1) == 1)
        assert np.all(x[s0:s1, 3 + word] == 1) and np.all(x[s0:s1, 3:6].sum(1) == 1)
        press = _steps(row.onset + row.response_time) if np.isfinite(row.response_time) else None
        if press is None:
            assert a[s0:s1].sum() == 0 and m[s0:s1].all()
        elif row.accuracy_binarized == 1:
            assert a[press, ink] == 1 and a[s0:press].sum() == 0 and m[s0 : press + 1].all()
        else:  # error with a response: key unknown, target masked from onset to release
            assert not m[s0 : press + 1].any() and a[s0 : press + 1].sum() == 0
    assert np.all(x[~shown, :8] == 0)
    assert np.all(a.sum(axis=1) <= 1)


@settings(max_examples=50, deadline=None)
@given(faces_events(), st.integers(0, 2**31))
def test_faces_encoding_properties(ev, seed):
    x, a, m = encode_run(ev, FACES, N_STEPS, np.random.default_rng(seed))
    assert np.all(x[:, 8] == 0.0) and m.all()  # Faces errors have a known key
    assert np.all((x >= 0) & (x <= 1))
    first = ev.iloc[0]
    c0, c1 = _steps(first.cueStartTime), _steps(first.cueEndTime)
    assert np.all(x[c0:c1, 0 if first.trial_type == "face" else 1] == 1)
    for row in ev.itertuples():
        s0 = _steps(row.onset)
        code = x[s0 + 1, 2:8].reshape(3, 2)  # left, top, right
        match = 0 if row.stimLeft == row.stimTop else 2
        np.testing.assert_array_equal(code[match], code[1])
        assert np.abs(code[2 - match] - code[1]).max() > 0.7  # the other image differs in a level
        if np.isfinite(row.response_time):
            button = (
                (0 if match == 0 else 1)
                if row.accuracy_binarized == 1
                else (1 if match == 0 else 0)
            )
            press = _steps(row.onset + row.response_time)
            assert a[press, button] == 1 and a[press, 1 - button] == 0


def test_trial_table_columns():
    ev = pd.DataFrame(
        [[2.0, 2.25, "inc2", 0.5, 1.0, 0.8, "blue", "red"]],
        columns=[
            "onset",
            "duration",
            "trial_type",
            "response_time",
            "accuracy_binarized",
            "tr_seconds",
            "stimulus_text",
            "stimulus_color",
        ],
    )
    t = trial_table(ev, STROOP)
    # display ends after min(duration, 2.0 s) = 4.0 s -> step 50
    np.testing.assert_allclose(t[0], [25, 50, 0.5, 1.0, 0, 0, 1])
