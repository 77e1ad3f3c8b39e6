import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn.glm.first_level import FirstLevelModel, run_glm
from scipy import stats

from dtb import glm
from dtb.data.encoding import TRIAL_FIELDS
from dtb.layout import FACES, STEP, STROOP, TR

TEST_FRAMES = np.arange(246, 492) * TR  # the test part of a run, volumes 246..491


def block_trials(n_blocks: int = 18, first: float = 11.0) -> np.ndarray:
    """A Faces-like trial table: blocks of 6 trials 3 s apart, 21 s per block, alternating
    shape (0) / face (1), displays of 1.9 s, plus two NaN padding rows."""
    rows = []
    for b in range(n_blocks):
        for k in range(6):
            onset = first + 21.0 * b + 3.0 * k
            rows.append([round(onset / STEP), round((onset + 1.9) / STEP), 0.8, 1, 0, 0, b % 2])
    rows += [[np.nan] * len(TRIAL_FIELDS)] * 2
    return np.array(rows, dtype=float)


def ar1_noise(rng: np.random.Generator, n: int, k: int, phi: float = 0.4) -> np.ndarray:
    e = rng.normal(size=(n, k))
    out = np.empty_like(e)
    out[0] = e[0]
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def simulate(design: pd.DataFrame, amplitudes: dict[str, np.ndarray], n_regions: int, seed: int):
    """Region BOLD = sum of HRF-convolved condition regressors x amplitude + AR(1) noise + 100."""
    rng = np.random.default_rng(seed)
    bold = ar1_noise(rng, len(design), n_regions) + 100.0
    for column, amp in amplitudes.items():
        bold += np.outer(design[column].to_numpy(), amp)
    return bold


def region_image(bold: np.ndarray) -> tuple[nib.Nifti1Image, nib.Nifti1Image]:
    """A 4D image whose voxels are the regions, and a mask of ones."""
    n_scans, n_regions = bold.shape
    img = nib.Nifti1Image(bold.T.reshape(n_regions, 1, 1, n_scans), np.eye(4))
    mask = nib.Nifti1Image(np.ones((n_regions, 1, 1), dtype=np.int8), np.eye(4))
    return img, mask


def flm(mask: nib.Nifti1Image) -> FirstLevelModel:
    return FirstLevelModel(
        t_r=TR,
        hrf_model="glover + derivative",
        drift_model="cosine",
        high_pass=0.01,
        noise_model="ar1",
        signal_scaling=False,
        minimize_memory=False,
        mask_img=mask,
    )


def stat_values(model: FirstLevelModel, contrast: np.ndarray) -> np.ndarray:
    return model.compute_contrast(contrast, stat_type="t", output_type="stat").get_fdata().ravel()


# --- agreement with nilearn's FirstLevelModel -----------------------------------------------


def test_first_level_t_equals_first_level_model_on_test_part():
    design = glm.design_matrix(block_trials(), TEST_FRAMES, "faces")
    rng = np.random.default_rng(11)
    n = 20
    bold = simulate(design, {"face": rng.normal(0, 2, n), "shape": rng.normal(0, 2, n)}, n, 11)
    contrast = glm.contrast_vector(design, "faces")
    t = glm.first_level_t(bold, design, contrast)

    img, mask = region_image(bold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = flm(mask).fit(img, design_matrices=[design])
    ref = stat_values(model, contrast)
    assert ref.shape == t.shape == (n,)
    np.testing.assert_allclose(t, ref, rtol=0, atol=1e-6)

    # The tolerance discriminates: an OLS fit of the same data misses it by far.
    from nilearn.glm.contrasts import compute_contrast

    labels, results = run_glm(bold, design.values, noise_model="ols")
    t_ols = compute_contrast(labels, results, contrast, stat_type="t").stat()
    assert np.abs(t_ols - ref).max() > 1e-3


def test_design_equals_first_level_model_design_from_events():
    """Over a whole run (frame times from 0, as FirstLevelModel builds them), our design from the
    trial table equals the one FirstLevelModel builds from the events, and so do the t maps."""
    trials = block_trials()
    frames = np.arange(FACES.n_volumes) * TR
    design = glm.design_matrix(trials, frames, FACES)
    events = glm.trial_events(trials, frames, FACES)
    assert len(events) == 108

    rng = np.random.default_rng(5)
    bold = simulate(design, {"face": rng.normal(0, 1, 6), "shape": rng.normal(0, 1, 6)}, 6, 5)
    img, mask = region_image(bold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = flm(mask).fit(img, events=events)
    theirs = model.design_matrices_[0]
    assert list(theirs.columns) == list(design.columns)
    np.testing.assert_allclose(theirs.to_numpy(), design.to_numpy(), rtol=0, atol=1e-10)
    contrast = glm.contrast_vector(design, "faces")
    np.testing.assert_allclose(
        glm.first_level_t(bold, design, contrast), stat_values(model, contrast), atol=1e-6
    )


# --- known truth -------------------------------------------------------------------------------


def test_face_region_positive_null_small_shape_region_negative():
    design = glm.design_matrix(block_trials(), TEST_FRAMES, "faces")
    contrast = glm.contrast_vector(design, "faces")
    n = 3  # 0: face-only, 1: null, 2: shape-only
    bold = simulate(
        design, {"face": np.array([3.0, 0.0, 0.0]), "shape": np.array([0.0, 0.0, 3.0])}, n, 3
    )
    t = glm.first_level_t(bold, design, contrast)
    assert t[0] > 5
    assert abs(t[1]) < 2.5
    assert t[2] < -5


def test_stroop_contrast_sign():
    trials = block_trials()
    design = glm.design_matrix(trials, TEST_FRAMES, STROOP)
    assert {"incongruent", "congruent"} <= set(design.columns)
    contrast = glm.contrast_vector(design, "stroop")
    bold = simulate(design, {"incongruent": np.array([1.5, 0.0])}, 2, 4)
    t = glm.first_level_t(bold, design, contrast)
    assert t[0] > 5 and abs(t[1]) < 2.5


# --- design, window rule, contrast -----------------------------------------------------------


def test_design_columns():
    design = glm.design_matrix(block_trials(), TEST_FRAMES, "faces")
    cols = list(design.columns)
    assert cols[:4] == ["face", "face_derivative", "shape", "shape_derivative"]
    assert cols[-1] == "constant"
    assert all(c.startswith("drift_") for c in cols[4:-1]) and len(cols) > 5
    assert design.shape == (246, len(cols))
    np.testing.assert_allclose(design.index.to_numpy(), TEST_FRAMES)


def test_trial_in_window_rule():
    frames = TEST_FRAMES  # 196.8 .. 392.8 s
    # onset steps: before, on first frame, inside, on last frame, after
    onsets = np.array([2400, 2460, 3000, 4910, 4911])
    trials = np.full((len(onsets) + 1, len(TRIAL_FIELDS)), np.nan)
    trials[:-1, 0] = onsets
    trials[:-1, 1] = onsets + 24
    trials[:-1, 6] = [1, 0, 1, 0, 1]
    ev = glm.trial_events(trials, frames, "faces")
    np.testing.assert_allclose(ev["onset"], np.array([2460, 3000, 4910]) * STEP)
    np.testing.assert_allclose(ev["duration"], 24 * STEP)
    assert ev["trial_type"].tolist() == ["shape", "face", "shape"]

    # the same table as a DataFrame
    df = pd.DataFrame(trials, columns=list(TRIAL_FIELDS))
    pd.testing.assert_frame_equal(glm.trial_events(df, frames, "faces"), ev)

    # a trial outside the window leaves no trace in the design
    design = glm.design_matrix(trials, frames, "faces")
    without = glm.design_matrix(np.delete(trials, [0, 4], axis=0), frames, "faces")
    pd.testing.assert_frame_equal(design, without)
    moved = trials.copy()
    moved[0, 0], moved[0, 1] = 2470, 2494  # the early face trial now starts inside
    assert not np.allclose(glm.design_matrix(moved, frames, "faces")["face"], design["face"])


def test_design_needs_both_conditions():
    trials = block_trials()
    trials[trials[:, 6] == 0, 0] = 10.0  # every shape trial before the window
    with pytest.raises(ValueError, match="'shape'"):
        glm.design_matrix(trials, TEST_FRAMES, "faces")


def test_design_rejects_bad_inputs():
    with pytest.raises(ValueError, match="task .rest. has no definition"):
        glm.design_matrix(block_trials(), TEST_FRAMES, "rest")
    with pytest.raises(ValueError, match=r"\(n_trials, 7\)"):
        glm.design_matrix(block_trials()[:, :3], TEST_FRAMES, "faces")
    with pytest.raises(ValueError, match="increasing"):
        glm.design_matrix(block_trials(), TEST_FRAMES[::-1], "faces")
    bad = block_trials()
    bad[0, 6] = 2
    with pytest.raises(ValueError, match="0 or 1"):
        glm.design_matrix(bad, TEST_FRAMES, "faces")


def test_contrast_vector():
    design = glm.design_matrix(block_trials(), TEST_FRAMES, "faces")
    c = glm.contrast_vector(design, "faces")
    assert c.shape == (design.shape[1],)
    expected = pd.Series(0.0, index=design.columns)
    expected["face"], expected["shape"] = 1.0, -1.0
    np.testing.assert_array_equal(c, expected.to_numpy())
    with pytest.raises(ValueError, match="incongruent"):
        glm.contrast_vector(design, "stroop")


def test_first_level_t_validates():
    design = glm.design_matrix(block_trials(), TEST_FRAMES, "faces")
    c = glm.contrast_vector(design, "faces")
    bold = simulate(design, {}, 4, 0)
    with pytest.raises(ValueError, match=r"\(245, 4\).*\(246, 8\)"):
        glm.first_level_t(bold[1:], design, c)
    with pytest.raises(ValueError, match="n_scans, n_regions"):
        glm.first_level_t(bold[:, 0], design, c)
    with pytest.raises(ValueError, match=r"contrast must have shape \(8,\)"):
        glm.first_level_t(bold, design, c[:-1])
    for value in (np.nan, np.inf):
        broken = bold.copy()
        broken[10, 2] = value
        with pytest.raises(ValueError, match="bold contains NaN or Inf"):
            glm.first_level_t(broken, design, c)
    flat = bold.copy()
    flat[:, 1] = 5.0
    with pytest.raises(ValueError, match=r"region\(s\) \[1\] are constant"):
        glm.first_level_t(flat, design, c)
    assert glm.first_level_t(bold, design.to_numpy(), c).shape == (4,)


def test_participant_maps():
    trials = block_trials()
    design = glm.design_matrix(trials, TEST_FRAMES, "faces")
    amps = [np.array([1.0, 0.0]), np.array([0.5, 0.0])]
    bolds = [simulate(design, {"face": a}, 2, s) for s, a in enumerate(amps)]
    maps = glm.participant_maps([bolds[0], None, bolds[1]], [trials] * 3, TEST_FRAMES, "faces")
    assert maps.shape == (3, 2)
    assert np.isnan(maps[1]).all()
    c = glm.contrast_vector(design, "faces")
    np.testing.assert_allclose(maps[2], glm.first_level_t(bolds[1], design, c))
    with pytest.raises(ValueError, match="2 BOLD arrays but 1"):
        glm.participant_maps(bolds, [trials], TEST_FRAMES, "faces")


# --- group level and map similarity ------------------------------------------------------------


def test_group_t_hand_example():
    maps = np.array([[1.0, -2.0], [2.0, -1.0], [3.0, -3.0], [np.nan, 5.0]])
    t, p = glm.group_t(maps)
    # region 0: values 1, 2, 3 -> mean 2, sd 1, t = 2 / (1 / sqrt 3)
    np.testing.assert_allclose(t[0], 2 * np.sqrt(3))
    ref = stats.ttest_1samp(maps[:3], 0.0, axis=0)
    np.testing.assert_allclose(t, ref.statistic)
    np.testing.assert_allclose(p, ref.pvalue)
    with pytest.raises(ValueError, match="at least 2"):
        glm.group_t(maps[2:])


def test_map_similarity_identifies_participants():
    rng = np.random.default_rng(7)
    obs = rng.normal(size=(30, 20))
    pred = obs + rng.normal(scale=0.1, size=obs.shape)
    res = glm.map_similarity(pred, obs)
    assert res["identifiability"].shape == (30, 30)
    assert res["identification_accuracy"] == 1.0
    assert res["chance"] == pytest.approx(1 / 30)
    np.testing.assert_allclose(res["individual_r"], np.diag(res["identifiability"]))
    np.testing.assert_allclose(res["individual_r"][3], np.corrcoef(pred[3], obs[3])[0, 1])
    np.testing.assert_allclose(res["identifiability"][2, 5], np.corrcoef(pred[2], obs[5])[0, 1])
    assert res["individual_r"].min() > 0.9
    assert res["differential_identifiability"] > 0.8

    shuffled = pred[np.roll(np.arange(30), 1)]
    res_s = glm.map_similarity(shuffled, obs)
    assert res_s["identification_accuracy"] <= 0.1
    assert abs(res_s["differential_identifiability"]) < 0.1


def test_map_similarity_drops_nan_rows_and_checks_shapes():
    rng = np.random.default_rng(8)
    obs = rng.normal(size=(5, 20))
    pred = obs.copy()
    pred[1, 4] = np.nan
    res = glm.map_similarity(pred, obs)
    np.testing.assert_array_equal(res["participants"], [0, 2, 3, 4])
    assert res["identifiability"].shape == (4, 4)
    with pytest.raises(ValueError, match="shape"):
        glm.map_similarity(pred[:, :10], obs)


def test_real_events_give_a_design_for_the_test_part(tcp_root):
    """On real events, both conditions of both tasks fall inside the test part's frames."""
    from dtb.data.encoding import trial_table
    from dtb.data.events import read_events
    from dtb.layout import events_path

    subs = pd.read_csv(tcp_root / "participants.tsv", sep="\t")["participant_id"].tolist()
    checked = 0
    for sub in subs[:12]:
        for run in (FACES, STROOP):
            path = events_path(tcp_root, sub, run)
            if not path.is_file():
                continue
            trials = trial_table(read_events(path, run), run)
            design = glm.design_matrix(trials, TEST_FRAMES, run)
            c = glm.contrast_vector(design, run)
            assert design.shape[0] == 246 and c.sum() == 0 and np.abs(c).sum() == 2
            checked += 1
    assert checked > 0
