import os
import shutil

import numpy as np
import pytest
from scipy.interpolate import CubicSpline
from test_check import tree_digest

from dtb.cli import main
from dtb.data.cohort import read_participants
from dtb.data.fc import fc_vector
from dtb.data.prepare import CACHE_FORMAT, PrepareConfig, load_prepared, prepare, resample_bold
from dtb.data.regions import region_signals
from dtb.data.timeseries import read_timeseries
from dtb.layout import FACES, REST, STROOP, timeseries_path


@pytest.fixture(scope="module")
def cache(synth_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache")
    return load_prepared(prepare(synth_root, out, progress=False))


def test_shapes_and_documented_sizes(cache):
    n = len(cache.participants)
    cfg = PrepareConfig()
    assert cache["fc"].shape == (n, 93_961) and cache["fc"].dtype == np.float32
    for task in ("faces", "stroop"):
        assert cache[f"{task}_inputs"].shape == (n, 4920, 9)
        assert cache[f"{task}_actions"].shape == (n, 4920, 3)
        assert cache[f"{task}_bold"].shape == (n, 4920, 20)
        assert cache[f"{task}_mask"].shape == (n, 4920)
    assert cfg.n_train == cfg.n_test == 2460 and cfg.window == 262
    starts = cache["window_starts"]
    assert np.all(starts + cfg.window <= cfg.n_train) and len(starts) == 9


def test_fc_and_bold_follow_their_definitions(cache, synth_root):
    p = cache.participants[0]
    ts = read_timeseries(timeseries_path(synth_root, p, REST), REST)
    np.testing.assert_allclose(cache["fc"][0], fc_vector(ts), atol=1e-6)
    raw = region_signals(read_timeseries(timeseries_path(synth_root, p, FACES), FACES))
    z = cache["faces_bold"][0]
    mean, sd = cache["faces_bold_mean"], cache["faces_bold_sd"]
    # every 10th step is an acquired volume: the cubic resampling passes through it
    np.testing.assert_allclose(z[::10] * sd + mean, raw[:, :492].T, rtol=1e-4, atol=1e-4)
    # z-scoring uses training-part statistics pooled over participants
    train = cache["faces_bold"][cache["faces_present"], :2460]
    np.testing.assert_allclose(train.mean(axis=(0, 1)), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=(0, 1)), 1, atol=1e-3)


def test_resampling_is_scipy_cubic_spline():
    rng = np.random.default_rng(0)
    sig = rng.normal(size=(3, 50))
    fine = resample_bold(sig, 481)
    ref = CubicSpline(np.arange(50) * 0.8, sig, axis=1)(np.arange(481) * 0.08).T
    np.testing.assert_allclose(fine, ref)
    with pytest.raises(ValueError, match="past the last volume"):
        resample_bold(sig, 500)


def test_cache_is_reused_when_unchanged_and_rebuilt_when_inputs_change(synth_copy, tmp_path):
    out = tmp_path / "cache"
    first = prepare(synth_copy, out, progress=False)
    mtime = first.stat().st_mtime_ns
    assert prepare(synth_copy, out, progress=False) == first
    assert first.stat().st_mtime_ns == mtime
    assert prepare(synth_copy, out, PrepareConfig(seed=1), progress=False) != first
    ids = read_participants(synth_copy)
    shutil.copy(
        timeseries_path(synth_copy, ids[1], REST), timeseries_path(synth_copy, ids[0], REST)
    )
    assert prepare(synth_copy, out, progress=False) != first


def test_a_broken_participant_is_skipped_and_reported(synth_copy, tmp_path, capsys):
    ids = read_participants(synth_copy)
    timeseries_path(synth_copy, ids[0], REST).write_bytes(b"\x00" * 64)
    timeseries_path(synth_copy, ids[1], STROOP).unlink()
    before = tree_digest(synth_copy)
    assert main(["prepare", str(synth_copy), "--out", str(tmp_path / "c"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"skipped {ids[0]} rest" in out and f"skipped {ids[1]} stroop" in out
    assert tree_digest(synth_copy) == before
    cohort = load_prepared(next((tmp_path / "c").glob("cohort-*.npz")))
    assert ids[0] not in cohort.participants
    i = cohort.participants.index(ids[1])
    assert cohort["faces_present"][i] and not cohort["stroop_present"][i]
    assert not cohort["stroop_bold"][i].any()


def test_output_inside_the_input_is_refused(synth_root, capsys):
    assert main(["prepare", str(synth_root), "--out", str(synth_root / "cache")]) == 1
    assert "never writes into input data" in capsys.readouterr().err
    assert not (synth_root / "cache").exists()


def test_not_a_cache_and_an_empty_dataset(tmp_path):
    bogus = tmp_path / "x.npz"
    bogus.write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a prepared cohort cache"):
        load_prepared(bogus)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "participants.tsv").write_text("participant_id\nsub-NDARINVAAAA1111\n")
    with pytest.raises(ValueError, match="no participant has a usable"):
        prepare(tmp_path / "empty", tmp_path / "c", progress=False)
    assert not os.path.exists(tmp_path / "c" / "x")


def test_an_empty_cache_is_refused(tmp_path):
    import json

    path = tmp_path / "cohort-empty.npz"
    np.savez(
        path,
        fc=np.zeros((0, 10), np.float32),
        meta=np.array(json.dumps({"format": CACHE_FORMAT, "participants": []})),
    )
    with pytest.raises(ValueError, match="empty cohort"):
        load_prepared(path)
