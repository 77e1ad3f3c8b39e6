"""The synthetic cohort: layout, determinism, realism against the real events, and ground truth.

One module-scoped cohort of 80 participants serves the realism and truth checks; the
determinism and refusal checks write their own tiny cohorts.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from dtb.data.check import check_dataset
from dtb.data.cohort import read_participants
from dtb.data.events import CHANCE, N_TRIALS, read_events
from dtb.data.fc import fc_vector
from dtb.data.regions import region_signals, target_index
from dtb.data.synth import (
    PARCEL_GROUPS,
    SynthConfig,
    draw_cohort,
    expected_fc,
    is_synth_output,
    planted_edges,
    read_truth,
    synthesize,
    trait_edges,
)
from dtb.data.timeseries import read_timeseries
from dtb.layout import (
    FACES,
    H5_KEY,
    N_REGIONS,
    REST,
    STROOP,
    bids_id,
    events_path,
    timeseries_path,
)

N_COHORT = 80
SEED = 2024
RUNS = (REST, FACES, STROOP)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return synthesize(tmp_path_factory.mktemp("synth_cohort") / "ds", N_COHORT, SEED)


@pytest.fixture(scope="module")
def truth(cohort) -> dict:
    return read_truth(cohort)


@pytest.fixture(scope="module")
def fc(cohort, truth) -> np.ndarray:
    """Fisher-z FC vectors from the written rest runs, shape (n, 93961)."""
    ids = truth["table"]["participant_id"]
    return np.stack(
        [fc_vector(read_timeseries(timeseries_path(cohort, p, REST), REST)) for p in ids]
    )


def _digests(root: Path, participants: list[str] | None = None) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = str(p.relative_to(root))
        if participants is not None and not any(
            q[len("sub-NDARINV") :] in rel for q in participants
        ):
            continue
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# ---- layout ------------------------------------------------------------------------------------


def test_files_follow_the_tcp_layout_and_every_reader_accepts_them(cohort, truth):
    part = pd.read_csv(cohort / "participants.tsv", sep="\t", dtype=str)
    assert list(part.columns) == ["participant_id", "species", "age", "sex", "Site", "Group"]
    ids = read_participants(cohort)
    assert len(ids) == N_COHORT == len(set(ids))
    assert all(re.fullmatch(r"sub-NDARINV[A-Z0-9]{8}", p) for p in ids)
    assert set(part["Group"]) <= {"Patient", "GenPop"} and set(part["Site"]) <= {"1", "2"}
    ages = part["age"].astype(float)
    assert ages.between(18, 68).all()
    desc = json.loads((cohort / "dataset_description.json").read_text())
    assert desc["GeneratedBy"][0]["Name"] == "dtb.data.synth"
    assert is_synth_output(cohort)
    assert truth["table"]["participant_id"].tolist() == ids

    for p in ids:
        for run in (FACES, STROOP):
            ev = read_events(events_path(cohort, p, run), run)
            assert len(ev) == N_TRIALS[run.name]
        for run in RUNS:
            path = timeseries_path(cohort, p, run)
            assert read_timeseries(path, run).shape == (N_REGIONS, run.n_volumes)
    with h5py.File(timeseries_path(cohort, ids[0], FACES), "r") as f:
        assert list(f.keys()) == [H5_KEY]
        assert f[H5_KEY].dtype == np.float64 and f[H5_KEY].shape == (434, 493)

    faces = pd.read_csv(events_path(cohort, ids[0], FACES), sep="\t")
    assert list(faces.columns) == [
        "onset",
        "duration",
        "trial_type",
        "response_time",
        "accuracy_binarized",
        "tr_seconds",
        "cueStartTime",
        "cueEndTime",
        "trialEndTime",
        "fixStartTime",
        "fixEndTime",
        "runEndTime",
        "stimLeft",
        "stimTop",
        "stimRight",
    ]
    stroop = pd.read_csv(events_path(cohort, ids[0], STROOP), sep="\t")
    assert list(stroop.columns) == [
        "onset",
        "duration",
        "trial_type",
        "response_time",
        "accuracy_binarized",
        "tr_seconds",
        "stimulus_text",
        "stimulus_color",
    ]
    report = check_dataset(cohort)
    assert not report.problems and report.table["usable"].all()

    pheno = pd.read_csv(
        cohort / "phenotype" / "synth_measures.tsv",
        sep="\t",
        na_values=["n/a"],
        keep_default_na=False,
    )
    assert pheno["participant_id"].tolist() == ids and pheno.shape[1] >= 5


def test_truth_names_traits_planted_edges_and_parameters(truth):
    table = truth["table"]
    assert {"speed", "affect"} <= set(table.columns)
    assert truth["config"] == SynthConfig().to_dict() and truth["seed"] == SEED
    n_edges = 0
    for block in truth["planted_edges"]:
        edges = np.array(block["edges"])
        assert (edges[:, 0] < edges[:, 1]).all() and edges.max() < N_REGIONS
        assert block["sign"] in (-1, 1) and block["trait"] in ("speed", "affect")
        n_edges += len(edges)
    all_edges = {tuple(e) for b in truth["planted_edges"] for e in b["edges"]}
    assert len(all_edges) == n_edges  # the blocks do not share an edge
    assert 0.03 < n_edges / 93_961 < 0.08  # whole network blocks, about 5 % of the edges
    assert planted_edges() == truth["planted_edges"]
    for trait in ("speed", "affect"):
        edges, signs = trait_edges(trait)
        blocks = [b for b in truth["planted_edges"] if b["trait"] == trait]
        assert len(edges) == sum(len(b["edges"]) for b in blocks)
        assert set(signs.tolist()) == {-1, 1}


# ---- determinism -------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = _digests(synthesize(tmp_path / "a", 3, 11))
    b = _digests(synthesize(tmp_path / "b", 3, 11))
    c = _digests(synthesize(tmp_path / "c", 3, 12))
    assert a == b
    data = [k for k in a if k.endswith((".h5", "_events.tsv"))]
    assert len(data) == 3 * 5
    assert set(a) != set(c)  # other participants (ids), other files
    assert sorted(a[k] for k in data) != sorted(c[k] for k in c if k.endswith((".h5", ".tsv")))


def test_participant_k_does_not_depend_on_cohort_size(tmp_path):
    small = synthesize(tmp_path / "small", 3, 5)
    large = synthesize(tmp_path / "large", 5, 5)
    ids = read_participants(small)
    assert read_participants(large)[:3] == ids
    a, b = _digests(small, ids), _digests(large, ids)
    assert a == b and len(a) == 3 * 5
    assert draw_cohort(3, 5).equals(draw_cohort(5, 5).iloc[:3])


# ---- refusal -----------------------------------------------------------------------------------


def test_refuses_a_non_empty_foreign_folder_and_bad_arguments(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a synthetic cohort"):
        synthesize(foreign, 2, 0)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert (foreign / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        synthesize(a_file, 2, 0)
    for n, seed in ((0, 0), (2, -1), (2.5, 0)):
        with pytest.raises(ValueError):
            synthesize(tmp_path / "bad", n, seed)


def test_an_earlier_synthetic_cohort_is_replaced_not_mixed(tmp_path):
    dest = synthesize(tmp_path / "ds", 3, 1)
    synthesize(dest, 2, 2)
    ids = read_participants(dest)
    assert len(ids) == 2
    assert sorted(p.name for p in dest.glob("sub-*")) == sorted(ids)
    assert not check_dataset(dest).problems
    (dest / "extra.txt").write_text("a user's file")  # no longer only ours: refused
    with pytest.raises(ValueError):
        synthesize(dest, 2, 2)


# ---- realism against the real events -----------------------------------------------------------


def _behaviour(events: list[pd.DataFrame], run) -> pd.DataFrame:
    """Per-participant statistics of one task: mean and SD of RT, accuracy, miss rate, and the
    condition effect (incongruent - congruent, face - shape; mean RT of correct trials)."""
    rows = []
    for ev in events:
        rt, acc = ev["response_time"], ev["accuracy_binarized"]
        hard = (
            ev["trial_type"].str.startswith("inc") if run == STROOP else ev["trial_type"] == "face"
        )
        ok = acc == 1
        rows.append(
            {
                "mean_rt": rt.mean(),
                "sd_rt": rt.std(),
                "accuracy": acc.mean(),
                "miss": rt.isna().mean(),
                "effect": rt[hard & ok].mean() - rt[~hard & ok].mean(),
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def real_events(tcp_root) -> dict[str, list[pd.DataFrame]]:
    out = {}
    for run in (FACES, STROOP):
        files = sorted(tcp_root.glob(f"sub-*/func/*_task-{run.bids_task}_run-01_events.tsv"))
        out[run.name] = [read_events(f, run) for f in files]
    return out


@pytest.mark.parametrize("run", [FACES, STROOP], ids=["faces", "stroop"])
def test_task_structure_matches_the_real_protocol(cohort, truth, real_events, run):
    real = real_events[run.name]
    ids = truth["table"]["participant_id"]
    synth = [read_events(events_path(cohort, p, run), run) for p in ids]
    for ev in synth:
        assert len(ev) == len(real[0]) == N_TRIALS[run.name]
        if run == STROOP:
            assert ev["trial_type"].str.startswith("inc").sum() == 24
            assert sorted(ev["duration"].unique()) == sorted(real[0]["duration"].unique())
            assert ev["duration"].value_counts().sort_index().tolist() == (
                real[0]["duration"].value_counts().sort_index().tolist()
            )
            assert ev["onset"].iloc[0] == real[0]["onset"].iloc[0]
        else:
            assert (ev["trial_type"] == "face").sum() == 54
            assert ev["cueStartTime"].notna().sum() == real[0]["cueStartTime"].notna().sum() == 18
            blocks = "".join(ev["trial_type"].iloc[::6].str[0])
            assert blocks == "".join(real[0]["trial_type"].iloc[::6].str[0])
            # the matching image is at one of the bottom positions, each on half of the trials
            left = (ev["stimLeft"] == ev["stimTop"]).sum()
            right = (ev["stimRight"] == ev["stimTop"]).sum()
            assert left == right == 54
            # timing: every event within 0.15 s of the real median at its position in the run
            for col in (
                "onset",
                "cueStartTime",
                "cueEndTime",
                "trialEndTime",
                "fixEndTime",
                "runEndTime",
            ):
                stack = np.stack([r[col].to_numpy(float) for r in real])
                shown = np.isfinite(stack).any(axis=0)  # cue and run-end columns are sparse
                ref = np.full(len(ev), np.nan)
                ref[shown] = np.nanmedian(stack[:, shown], axis=0)
                both = np.isfinite(ref) & ev[col].notna().to_numpy()
                assert (both == np.isfinite(ref)).all(), col
                assert np.abs(ev[col].to_numpy(float)[both] - ref[both]).max() < 0.15, col
            lo, hi = np.percentile(np.concatenate([r["duration"] for r in real]), [0.5, 99.5])
            assert ev["duration"].between(lo - 0.05, hi + 0.05).all()


@pytest.mark.parametrize("run", [FACES, STROOP], ids=["faces", "stroop"])
def test_behaviour_falls_within_the_real_range(cohort, truth, real_events, run):
    """Three tests per per-participant statistic, real vs synthetic, both restricted to
    participants above chance accuracy (the paper's exclusion) except for the chance count:

    * centre: the synthetic median lies within the real interquartile range;
    * spread: at least 80 % of synthetic participants lie within the real 5th-95th percentile;
    * group mean: within two standard errors of the real group mean, the standard error being
      the real between-participant SD over sqrt(n synthetic) (what a random sample of that many
      real participants would give 95 % of the time).
    """
    chance = CHANCE[run.name]
    ids = truth["table"]["participant_id"]
    real = _behaviour(real_events[run.name], run)
    synth = _behaviour([read_events(events_path(cohort, p, run), run) for p in ids], run)
    # a few participants are at or below chance, as in the real data, and not too many
    assert (synth["accuracy"] <= chance).mean() <= 0.1
    real, synth = real[real["accuracy"] > chance], synth[synth["accuracy"] > chance]
    for stat in ("mean_rt", "sd_rt", "accuracy", "miss", "effect"):
        r, s = real[stat].dropna(), synth[stat].dropna()
        q25, q75 = np.percentile(r, [25, 75])
        assert q25 <= s.median() <= q75, (stat, s.median(), q25, q75)
        p5, p95 = np.percentile(r, [5, 95])
        assert s.between(p5, p95).mean() >= 0.8, (stat, s.between(p5, p95).mean())
        tol = 2 * r.std() / np.sqrt(len(s))
        assert abs(s.mean() - r.mean()) <= tol, (stat, s.mean(), r.mean(), tol)
    # the condition effects go the right way at the group level
    assert synth["effect"].mean() > 0.05


def test_about_as_many_non_performers_as_in_the_real_cohort():
    """The real cohort loses about 5 of ~220 participants per task to the chance exclusion."""
    people = draw_cohort(228, 0)
    for task in ("faces", "stroop"):
        n = (people[f"{task}_mode"] != "performer").sum()
        assert 2 <= n <= 16, (task, n)
    for trait in ("speed", "affect"):
        assert abs(people[trait].mean()) < 0.2 and 0.85 < people[trait].std() < 1.15


# ---- ground truth ------------------------------------------------------------------------------


def _edge_columns(edges: list[list[int]]) -> np.ndarray:
    """Positions of (i, j) pairs in the row-major upper-triangle FC vector."""
    e = np.asarray(edges)
    i, j = e[:, 0], e[:, 1]
    return i * N_REGIONS - i * (i + 1) // 2 + (j - i - 1)


def _block_trait_r(truth: dict, fc: np.ndarray) -> list[float]:
    """Per planted block: r across participants of the block's mean FC with sign * trait."""
    table = truth["table"]
    out = []
    for block in truth["planted_edges"]:
        mean_fc = fc[:, _edge_columns(block["edges"])].mean(axis=1)
        out.append(np.corrcoef(mean_fc, block["sign"] * table[block["trait"]])[0, 1])
    return out


def test_planted_blocks_carry_the_traits_in_the_written_rest_fc(truth, fc):
    table = truth["table"]
    r = _block_trait_r(truth, fc)
    assert min(r) > 0.5, r
    # and only there: the visual network's internal edges do not follow either trait
    vis = PARCEL_GROUPS["visual"]
    ctrl = _edge_columns([[i, j] for i in vis for j in vis if i < j])
    for trait in ("speed", "affect"):
        assert abs(np.corrcoef(fc[:, ctrl].mean(axis=1), table[trait])[0, 1]) < 0.35


def test_the_fc_check_fails_when_nothing_is_planted(tmp_path):
    """The check above has power: with no trait dependence the block correlations vanish."""
    cfg = SynthConfig(block_coupling_per_sd=0.0)
    root = synthesize(tmp_path / "null", 30, 3, cfg)
    truth = read_truth(root)
    fc = np.stack(
        [
            fc_vector(read_timeseries(timeseries_path(root, p, REST), REST))
            for p in truth["table"]["participant_id"]
        ]
    )
    assert max(_block_trait_r(truth, fc)) < 0.5


def test_rest_fc_estimates_the_participants_true_fc(cohort, truth, fc):
    true = expected_fc(SEED, 1)
    iu = np.triu_indices(N_REGIONS, k=1)
    est = np.tanh(fc[1])
    assert np.corrcoef(est, true[iu])[0, 1] > 0.8
    assert abs(np.mean(est - true[iu])) < 0.02
    within = np.mean(
        [true[i, j] for i in PARCEL_GROUPS["visual"] for j in PARCEL_GROUPS["visual"] if i < j]
    )
    assert 0.1 < within < 0.4  # realistic within-network correlation


def test_ridge_on_fc_predicts_unseen_participants_rt(cohort, truth, fc):
    """The twin's connectome-based peer: plain ridge regression, zero-shot (5-fold)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    ids = truth["table"]["participant_id"]
    for run in (FACES, STROOP):
        events = [read_events(events_path(cohort, p, run), run) for p in ids]
        rt = np.array([e["response_time"].mean() for e in events])
        keep = np.array([e["accuracy_binarized"].mean() > CHANCE[run.name] for e in events])
        pred = cross_val_predict(
            RidgeCV(alphas=np.logspace(0, 6, 13)),
            fc[keep],
            rt[keep],
            cv=KFold(5, shuffle=True, random_state=0),
        )
        r = np.corrcoef(pred, rt[keep])[0, 1]
        assert r > 0.5, (run.name, r)


def _glm_t(bold: np.ndarray, events: pd.DataFrame, contrast: dict[str, float]) -> np.ndarray:
    """t of a contrast per target region (Glover + derivative, cosine drift 0.01 Hz)."""
    from nilearn.glm.contrasts import compute_contrast
    from nilearn.glm.first_level import make_first_level_design_matrix, run_glm

    ev = events[["onset", "duration", "trial_type"]].copy()
    ev["trial_type"] = ev["trial_type"].str[:3].replace({"fac": "face", "sha": "shape"})
    dm = make_first_level_design_matrix(
        np.arange(bold.shape[1]) * 0.8,
        ev,
        hrf_model="glover + derivative",
        drift_model="cosine",
        high_pass=0.01,
    )
    labels, results = run_glm(bold.T, dm.to_numpy(), noise_model="ols")
    con = np.array([contrast.get(c, 0.0) for c in dm.columns])
    return compute_contrast(labels, results, con, stat_type="t").stat()


def test_task_bold_tracks_affect_in_the_amygdala_and_conflict_in_prefrontal_cortex(cohort, truth):
    ids = truth["table"]["participant_id"]
    amy, vlpfc = target_index("AMY_R"), target_index("VLPFC_R")
    t_amy, t_pfc = [], []
    for p in ids:
        faces = region_signals(read_timeseries(timeseries_path(cohort, p, FACES), FACES))
        ev = read_events(events_path(cohort, p, FACES), FACES)
        t_amy.append(_glm_t(faces, ev, {"face": 1.0, "shape": -1.0})[amy])
        stroop = region_signals(read_timeseries(timeseries_path(cohort, p, STROOP), STROOP))
        ev = read_events(events_path(cohort, p, STROOP), STROOP)
        t_pfc.append(_glm_t(stroop, ev, {"inc": 1.0, "con": -1.0})[vlpfc])
    r = np.corrcoef(t_amy, truth["table"]["affect"])[0, 1]
    assert r > 0.5, r
    assert np.mean(t_amy) > 1 and np.mean(t_pfc) > 1


def test_phenotype_measures_follow_their_traits(cohort, truth):
    pheno = pd.read_csv(
        cohort / "phenotype" / "synth_measures.tsv",
        sep="\t",
        na_values=["n/a"],
        keep_default_na=False,
    )
    table = truth["table"].set_index("participant_id").loc[pheno["participant_id"]]

    def r(measure: str, trait: str) -> float:
        ok = pheno[measure].notna().to_numpy()
        return np.corrcoef(pheno[measure][ok], table[trait][ok])[0, 1]

    assert r("digit_symbol", "speed") > 0.3
    assert r("anxiety", "affect") > 0.3
    for null in ("vocabulary", "sleep_hours"):
        for trait in ("speed", "affect"):
            assert abs(r(null, trait)) < 0.35
    assert truth["phenotype"]["digit_symbol"]["trait_correlations"] == {"speed": 0.6}


def test_synthetic_ids_are_marked_and_keep_the_real_layout(cohort):
    ids = pd.read_csv(cohort / "participants.tsv", sep="\t")["participant_id"]
    assert len(set(ids)) == len(ids) == N_COHORT
    for pid in ids:
        assert re.fullmatch(r"sub-NDARINVSYN[A-Z0-9]{5}", pid), pid
        assert bids_id(pid) == pid
