"""Bring your own cohort: atlases, the BIDS-derivative layout and its synthetic cohort."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dtb.data.atlas import Atlas, nearest_targets, read_atlas, read_labels, tcp_atlas
from dtb.data.fc import fc_vector
from dtb.data.prepare import PrepareConfig, load_prepared, prepare, split_for
from dtb.data.regions import target_names, target_regions
from dtb.data.sources import open_source
from dtb.layout import volume_steps

FACES = {"faces": "hariri"}


@pytest.fixture(scope="module")
def deriv_root(tmp_path_factory) -> Path:
    """A small synthetic cohort in BIDS-derivative layout (216 regions, TR 1.6 s)."""
    from dtb.data.synth_derivatives import synthesize_derivatives

    return synthesize_derivatives(tmp_path_factory.mktemp("deriv") / "ds", 6, seed=11)


@pytest.fixture
def deriv_copy(deriv_root, tmp_path) -> Path:
    dest = tmp_path / "ds"
    shutil.copytree(deriv_root, dest)
    return dest


def _series(root: Path, task: str = "rest") -> Path:
    return sorted(
        (root / "derivatives" / "xcp_d").glob(f"sub-*/func/*_task-{task}_*timeseries.tsv")
    )[0]


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- atlases -----------------------------------------------------------------------------------


def test_tcp_atlas_keeps_the_hand_made_targets():
    atlas = tcp_atlas()
    assert atlas.n_regions == 434 and atlas.n_fc == 93_961
    assert atlas.targets == tuple(target_regions()["parcels"])
    assert Atlas.from_dict(json.loads(json.dumps(atlas.to_dict()))) == atlas


def test_nearest_region_lookup_finds_the_region_at_each_target_centre(tmp_path):
    rng = np.random.default_rng(0)
    centres = target_regions()[["x", "y", "z"]].to_numpy(float)
    n = 60
    xyz = rng.uniform(-150, 150, size=(n, 3)) + 200  # all far from the brain's targets
    where = rng.choice(n, size=len(centres), replace=False)
    xyz[where] = centres + rng.normal(0, 1.0, size=centres.shape)  # 1 mm off the centres
    table = pd.DataFrame(
        {
            "index": np.arange(n),
            "label": [f"r{k}" for k in range(n)],
            "network": ["A"] * 30 + ["B"] * 30,
        }
    )
    table[["x", "y", "z"]] = xyz
    path = tmp_path / "atlas_dseg.tsv"
    table.to_csv(path, sep="\t", index=False)
    atlas = read_atlas(path)
    assert atlas.targets == tuple((int(k),) for k in where)
    assert atlas.summary_networks() == ("A", "B")


def test_a_target_table_names_regions_by_label_or_index(tmp_path):
    labels = pd.DataFrame({"label": [f"r{k}" for k in range(30)], "network": ["A"] * 30})
    lab = tmp_path / "l.tsv"
    labels.to_csv(lab, sep="\t", index=False)
    rows = [{"target": t, "parcels": f"r{k},{k + 1}"} for k, t in enumerate(target_names())]
    tab = tmp_path / "t.tsv"
    pd.DataFrame(rows).to_csv(tab, sep="\t", index=False)
    atlas = read_atlas(lab, tab)
    assert atlas.targets[3] == (3, 4)
    pd.DataFrame(rows[:-1]).to_csv(tab, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"t\.tsv: no row for target\(s\) AMY_R"):
        read_atlas(lab, tab)
    rows[0]["parcels"] = "nowhere"
    pd.DataFrame(rows).to_csv(tab, sep="\t", index=False)
    with pytest.raises(ValueError, match="'nowhere' is neither a region label"):
        read_atlas(lab, tab)


def test_bad_label_files_are_named(tmp_path):
    path = tmp_path / "atlas-X_dseg.tsv"
    pd.DataFrame({"index": [1, 2], "label": ["a", "b"]}).to_csv(path, sep="\t", index=False)
    with pytest.raises(ValueError, match=r"atlas-X_dseg\.tsv: an atlas label file needs"):
        read_labels(path)
    with pytest.raises(ValueError, match="no x, y, z columns"):
        nearest_targets(pd.DataFrame({"label": ["a"], "network": ["A"]}), where=str(path))
    atlas = tcp_atlas()
    with pytest.raises(ValueError, match=r"f\.h5: expected a \(434, n_times\) array"):
        atlas.region_signals(np.zeros((216, 5)), where="f.h5")


# --- timing --------------------------------------------------------------------------------------


def test_volume_steps_are_the_old_decimation_at_tcp_tr_and_follow_another_tr():
    np.testing.assert_array_equal(volume_steps(0.8, 2460, 4920), np.arange(2460, 4920, 10))
    steps = volume_steps(2.0, 0, 200)  # 25 steps per volume
    np.testing.assert_array_equal(steps, np.arange(0, 200, 25))
    odd = volume_steps(1.5, 0, 100)  # 18.75 steps per volume: nearest steps
    np.testing.assert_allclose(odd * 0.08, np.arange(len(odd)) * 1.5, atol=0.04 + 1e-9)


def test_the_split_fits_shorter_runs_in_whole_volumes():
    cfg = PrepareConfig()
    assert split_for(cfg, 0.8, 492 * 0.8) == cfg  # TCP: unchanged
    short = split_for(cfg, 1.6, 208 * 1.6)
    assert short.n_train == short.n_test and short.n_train % 20 == 0
    assert short.n_steps * 0.08 <= 208 * 1.6 + 0.08
    assert len(short.window_starts()) == len(cfg.window_starts())  # as many windows, overlapping
    assert short.window_starts()[-1] + short.window <= short.n_train
    with pytest.raises(ValueError, match="too short for two training windows"):
        split_for(cfg, 2.0, 10 * 2.0)


# --- the derivative layout -----------------------------------------------------------------------


def test_the_derivative_cohort_prepares_in_its_own_atlas_and_timing(deriv_root, tmp_path):
    from dtb.data.synth_derivatives import region_map

    before = _fingerprint(deriv_root)
    source = open_source(deriv_root, "auto", task_labels=FACES)
    assert source.layout == "bids-derivatives" and source.tr == pytest.approx(1.6)
    cohort = load_prepared(prepare(deriv_root, tmp_path / "c", source=source, progress=False))
    assert _fingerprint(deriv_root) == before  # the input folder is never written
    atlas = cohort.atlas
    assert atlas.n_regions == 216 and cohort["fc"].shape[1] == 216 * 215 // 2
    # the FC is the Fisher-z correlation of the TSV's columns, in the label file's order
    path = _series(deriv_root)
    row = cohort.participants.index(path.name.split("_")[0])
    tsv = pd.read_csv(path, sep="\t")
    np.testing.assert_allclose(
        cohort["fc"][row], fc_vector(tsv[list(atlas.labels)].to_numpy().T), atol=1e-5
    )
    # the right amygdala is the Tian S2 pair of the TCP amygdala parcels
    amy = atlas.targets[target_names().index("AMY_R")]
    assert set(amy) == {int(region_map()[p]) for p in (402, 403)}
    # another TR, shorter runs, fewer trials
    assert cohort.tr == pytest.approx(1.6) and cohort.meta["config"]["n_train"] % 20 == 0
    assert np.diff(cohort.volume_steps("test")).tolist() == [20] * (
        len(cohort.volume_steps("test")) - 1
    )
    n_faces = np.isfinite(cohort["faces_trials"][:, :, 0]).sum(axis=1)
    assert 0 < n_faces.max() < 108


def test_nilearn_npy_arrays_read_like_the_tsv(deriv_copy, tmp_path):
    path = _series(deriv_copy)
    data = pd.read_csv(path, sep="\t").to_numpy()
    np.save(path.with_name(path.name.replace(".tsv", ".npy")), data)
    path.unlink()
    source = open_source(deriv_copy, "bids-derivatives", task_labels=FACES)
    sub = "sub-" + path.name.split("_")[0].removeprefix("sub-")
    np.testing.assert_allclose(source.rest(sub), data.T)


def _prepare_skips(root: Path, tmp_path: Path, **options) -> list[dict]:
    source = open_source(root, "bids-derivatives", task_labels=FACES, **options)
    return load_prepared(prepare(root, tmp_path / "c", source=source, progress=False)).meta[
        "skipped"
    ]


def test_regions_that_differ_between_runs_skip_the_run_naming_the_file(deriv_copy, tmp_path):
    path = _series(deriv_copy, "stroop")
    table = pd.read_csv(path, sep="\t")
    table.drop(columns=table.columns[5]).to_csv(path, sep="\t", index=False)
    skipped = _prepare_skips(deriv_copy, tmp_path)
    assert len(skipped) == 1 and skipped[0]["run"] == "stroop"
    assert (
        path.name in skipped[0]["reason"] and "do not match the 216 regions" in skipped[0]["reason"]
    )


def test_a_tr_that_disagrees_with_the_sidecar_is_refused(deriv_copy, tmp_path):
    path = _series(deriv_copy, "stroop")
    sidecar = path.with_name(path.name.replace(".tsv", ".json"))
    sidecar.write_text(json.dumps({"RepetitionTime": 2.0}))
    skipped = _prepare_skips(deriv_copy, tmp_path)
    assert [s["run"] for s in skipped] == ["stroop"]
    assert "RepetitionTime 2 s disagrees" in skipped[0]["reason"]


def test_a_label_file_of_another_length_is_refused(deriv_copy, tmp_path):
    labels = next((deriv_copy / "derivatives").rglob("*_dseg.tsv"))
    short = tmp_path / "short_dseg.tsv"
    pd.read_csv(labels, sep="\t").iloc[:-1].to_csv(short, sep="\t", index=False)
    targets = next((deriv_copy / "derivatives").rglob("*_targets.tsv"))
    source = open_source(
        deriv_copy, "bids-derivatives", task_labels=FACES, labels=short, targets=targets
    )
    with pytest.raises(ValueError, match="do not match the 215 regions of short_dseg.tsv"):
        source.rest(source.participants()[0])


def test_unknown_trial_types_and_undefined_tasks_are_named(deriv_copy, tmp_path):
    events = sorted(deriv_copy.glob("sub-*/func/*_task-hariri_*_events.tsv"))[0]
    table = pd.read_csv(events, sep="\t", dtype=str, keep_default_na=False)
    table.loc[0, "trial_type"] = "house"
    table.to_csv(events, sep="\t", index=False)
    skipped = _prepare_skips(deriv_copy, tmp_path)
    assert [s["run"] for s in skipped] == ["faces"]
    assert (
        events.name in skipped[0]["reason"]
        and "unknown trial_type(s) ['house']" in skipped[0]["reason"]
    )
    with pytest.raises(ValueError, match="no task definition for gonogo"):
        open_source(deriv_copy, "bids-derivatives", task_labels={"gonogo": "gng"})


def test_a_task_without_its_label_mapped_is_reported_with_the_labels_present(deriv_root):
    from dtb.data.check import check_source

    report = check_source(open_source(deriv_root, "bids-derivatives"))
    missing = [p for p in report.problems if p.run == "faces"]
    assert missing and all(p.kind == "missing" for p in missing)
    assert "hariri" in missing[0].message and "--task faces=LABEL" in missing[0].message
    assert report.table["usable"].all()  # Stroop alone keeps them usable
    ok = check_source(open_source(deriv_root, "bids-derivatives", task_labels=FACES))
    assert not ok.problems


def test_cli_prepare_reads_the_derivative_layout(deriv_root, tmp_path, capsys):
    from dtb.cli import main

    code = main(
        [
            "prepare",
            str(deriv_root),
            "--out",
            str(tmp_path / "c"),
            "--quiet",
            "--layout",
            "bids-derivatives",
            "--task",
            "faces=hariri",
        ]
    )
    assert code == 0
    assert "prepared 6 participant(s)" in capsys.readouterr().out
    assert main(["prepare", str(deriv_root), "--out", str(tmp_path / "c"), "--task", "faces"]) == 1
    assert "expected NAME=LABEL" in capsys.readouterr().err


def test_the_planted_truth_is_reindexed_to_the_merged_regions(deriv_root):
    from dtb.data.synth import read_truth, trait_edges
    from dtb.data.synth_derivatives import region_map

    truth = read_truth(deriv_root)
    mapping = region_map()
    pairs, _ = trait_edges("speed")
    expected = {
        tuple(sorted((mapping[i], mapping[j])))
        for i, j in pairs
        if mapping[i] >= 0 and mapping[j] >= 0 and mapping[i] != mapping[j]
    }
    got = {tuple(e) for b in truth["planted_edges"] if b["trait"] == "speed" for e in b["edges"]}
    assert got == expected


def test_the_cohort_comparison_flags_a_cohort_read_wrong():
    from dtb.compare_cohorts import problems

    good = {
        "ridge RT r CI low, faces": 0.3,
        "ridge RT r CI low, stroop": 0.2,
        "planted-edge AUC, ridge, speed": 0.97,
        "planted-edge AUC, ridge, affect": 0.95,
    }
    assert problems(good, synthetic=True) == []
    bad = {**good, "ridge RT r CI low, stroop": -0.1, "planted-edge AUC, ridge, affect": 0.5}
    found = problems(bad, synthetic=True)
    assert len(found) == 2 and "stroop" in found[0] and "affect" in found[1]
    assert len(problems(bad, synthetic=False)) == 1  # no truth to recover on real data
