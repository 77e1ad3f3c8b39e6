"""The twin explorer: its API (dtb.explore) and its widgets (dtb.explore_widgets)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dtb.explore import Edit, Explorer, block_edges, edit_fc, edit_weights, twin_summary
from dtb.pls import Direction
from dtb.targets import edit_fc as edit_edges

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from dtb.cli import main
    from dtb.config import TrainConfig
    from dtb.data.prepare import prepare
    from dtb.data.synth import synthesize
    from dtb.train import train

    base = tmp_path_factory.mktemp("explore")
    root = synthesize(base / "ds", 8, seed=4)
    cache = prepare(root, base / "cache", progress=False)
    cfg = TrainConfig.for_profile("quick", max_epochs=1, fc_components=2, participants_per_batch=6)
    run = train(cache, base / "run", cfg, device="cpu", progress=False)
    argv = ["intervene", str(run), "--indicator", "speed", "--out", str(base / "iv" / "speed")]
    assert main([*argv, "--copies", "2", "--null-draws", "1", "--quiet"]) == 0
    return {"run": run, "iv": base / "iv"}


@pytest.fixture(scope="module")
def explorer(trained):
    return Explorer(trained["run"], trained["iv"])


def test_a_block_is_every_edge_between_two_networks():
    nets = np.array(["A", "A", "B", "C", "B"])
    i, j = np.triu_indices(5, k=1)
    pos = block_edges(nets, "A", "B")
    assert sorted(zip(i[pos], j[pos], strict=True)) == [(0, 2), (0, 4), (1, 2), (1, 4)]
    assert [(i[k], j[k]) for k in block_edges(nets, "A", "A")] == [(0, 1)]
    with pytest.raises(ValueError, match="unknown network 'D'"):
        block_edges(nets, "A", "D")


def test_edit_fc_moves_only_the_block_by_the_amount():
    nets = np.array(["A", "A", "B", "C", "B"])
    fc = np.arctanh(np.random.default_rng(0).uniform(-0.5, 0.5, 10))
    out = edit_fc(fc, 0.1, block=("A", "B"), networks=nets)
    changed = np.flatnonzero(~np.isclose(out, fc))
    assert set(changed) == set(block_edges(nets, "A", "B"))
    np.testing.assert_allclose(np.tanh(out[changed]) - np.tanh(fc[changed]), 0.1)
    np.testing.assert_array_equal(edit_fc(fc, 0.0, block=("A", "B"), networks=nets), fc)
    edges, signs = np.array([1, 7]), np.array([1.0, -1.0])
    np.testing.assert_array_equal(
        edit_fc(fc, 0.05, edges=edges, signs=signs), edit_edges(fc, edges, signs, 0.05)
    )
    with pytest.raises(ValueError, match="either edges"):
        edit_fc(fc, 0.1)


def test_edit_weights_moves_the_latent_by_the_dose():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(6, 5))
    v = rng.normal(size=5)
    v /= np.linalg.norm(v)
    mean, sd = w.mean(0), w.std(0)
    direction = Direction(v, mean, sd, ((w - mean) / sd) @ v, -0.5)
    weights = torch.tensor(w, dtype=torch.float64)
    moved = edit_weights(weights[2], direction, 1.5)
    shift = direction.latent(moved[None].numpy()) - direction.latent(w[2:3])
    np.testing.assert_allclose(shift, 1.5 * direction.sd_z)
    torch.testing.assert_close(edit_weights(weights, direction, 0.0), weights)


def test_the_summary_is_what_the_twin_does(explorer):
    from dtb.data.encoding import TRIAL_FIELDS

    who = explorer.participants[0]
    row = explorer.cohort.participants.index(who)
    twin = explorer.twin(who)
    table, bold = twin_summary(twin, explorer.cohort, row, "V1_L", "stroop")
    trials = explorer.cohort["stroop_trials"][row]
    trials = trials[np.isfinite(trials[:, 0])]
    choice, rt = twin.respond(explorer.cohort["stroop_inputs"][row], trials)
    inc = trials[:, TRIAL_FIELDS.index("condition")] == 1
    got = table.set_index(["measure", "task", "condition"])["value"]
    ok = inc & np.isfinite(rt)
    if ok.any():
        assert got[("rt", "stroop", "incongruent")] == pytest.approx(rt[ok].mean())
    correct = trials[:, TRIAL_FIELDS.index("correct")]
    assert got[("accuracy", "stroop", "all")] == pytest.approx(np.mean(choice == correct))
    assert np.isfinite(got[("glm_t", "stroop", "V1_L")])
    assert len(bold) == len(explorer.cohort["stroop_bold"][row]) // 10


def test_compare_puts_observed_unedited_and_edited_side_by_side(explorer):
    who = explorer.participants[1]
    same, _ = explorer.compare(who, Edit())
    np.testing.assert_array_equal(same["twin"], same["edited"])
    moved, bold = explorer.compare(who, Edit("direction", 2.0, "speed"))
    assert not np.allclose(moved["twin"], moved["edited"], equal_nan=True)
    np.testing.assert_array_equal(moved["observed"], same["observed"])
    assert list(bold.columns) == ["time", "observed", "twin", "edited"]
    with pytest.raises(ValueError, match="no direction of the affect indicator"):
        explorer.compare(who, Edit("direction", 1.0, "affect"))


def test_the_widgets_show_what_the_api_computes(explorer):
    from dtb.explore_widgets import ExplorerApp, shown_values

    app = ExplorerApp(explorer)
    app.participant.value = explorer.participants[2]
    app.kind.value = "block"
    app.net_a.value, app.net_b.value = "VisCent", "VisPeri"
    app.amount.value = 0.1
    app.region.value, app.task.value = "V1_L", "stroop"
    expected, _ = explorer.compare(
        explorer.participants[2],
        Edit("block", 0.1, "speed", ("VisCent", "VisPeri")),
        "V1_L",
        "stroop",
    )
    np.testing.assert_allclose(
        shown_values(app), expected[["observed", "twin", "edited"]].to_numpy().round(3)
    )
    assert app.last_ms > 0 and "redrawn in" in app.status.value
    assert app.amount.description == "amount (correlation)"
    app.kind.value = "direction"
    assert app.amount.value == 0.0 and app.amount.max == 3.0


def test_the_explorer_renders_in_jupyterlab(trained, tmp_path):
    from dtb.book_check import chromium_available
    from dtb.lab_check import check_lab
    from dtb.notebooks import NOTEBOOK_DIR

    if not chromium_available():
        pytest.skip("needs Debian's chromium and chromium-driver")
    pytest.importorskip("jupyterlab")
    shot = tmp_path / "lab.png"
    params = {"run_dir": str(trained["run"]), "intervene_dir": str(trained["iv"])}
    seen = check_lab(NOTEBOOK_DIR / "explore_twin.py", shot, params)
    assert seen["dropdowns"] >= 6 and seen["sliders"] >= 1
    assert seen["status"] and "redrawn in" in seen["status"][0]
    assert shot.stat().st_size > 20_000


def test_runs_of_a_reproduction_and_the_run_menu(trained, explorer, tmp_path):
    from dtb.explore import reproduction_runs
    from dtb.explore_widgets import ExplorerApp

    for folder in ("suite/paper/run", "suite/zero-shot/fold-0", "suite/zero-shot/fold-1"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "best.pt").touch()
    (tmp_path / "intervene").mkdir()
    runs = reproduction_runs(tmp_path)
    assert list(runs) == [
        "paper protocol (all seen)",
        "zero-shot fold-0 (held-out fold unseen)",
        "zero-shot fold-1 (held-out fold unseen)",
    ]
    assert runs["paper protocol (all seen)"][1] == tmp_path / "intervene"
    assert runs["zero-shot fold-0 (held-out fold unseen)"][1] is None
    with pytest.raises(ValueError, match="no trained run"):
        reproduction_runs(tmp_path / "nothing")

    app = ExplorerApp(
        explorer, runs={"with": (trained["run"], trained["iv"]), "without": (trained["run"], None)}
    )
    assert list(app.indicator.options) == ["speed"]
    app.run.value = "without"
    assert app.explorer is not explorer and not app.explorer.directions
    assert app.last_table is not None
