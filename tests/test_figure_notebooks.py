"""The figure notebooks run top to bottom on small real outputs and show what evaluation computed.

One small synthetic cohort is prepared, its baselines computed and a two-entry suite (the paper
protocol and a zero-shot FC-shuffle control, one epoch each) trained and evaluated once per
module; each notebook is then executed with papermill and the numbers it saved beside its figure
are compared with ``metrics.json``, ``baselines.json``, ``suite.tsv`` and ``run.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dtb.cli import main
from dtb.data.events import CHANCE
from dtb.notebooks import NOTEBOOK_DIR, execute_notebook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    from dtb.data.prepare import prepare
    from dtb.data.synth import synthesize
    from dtb.suite import Entry, run_suite

    base = tmp_path_factory.mktemp("figure_inputs")
    root = synthesize(base / "ds", 8, seed=3)
    cache = prepare(root, base / "cache", progress=False)
    assert main(["baselines", str(root), "--json", str(base / "baselines.json")]) == 0
    run_suite(
        cache,
        base / "suite",
        entries=[Entry("paper", "paper"), Entry("zero-shot-shuffle-4", "zero-shot", "shuffle", 4)],
        n_folds=2,
        device="cpu",
        train_overrides={"max_epochs": 1, "fc_components": 2},
        progress=False,
    )
    from dtb.reproduce import write_build_info

    return {
        "build": write_build_info(base, "quick", root, cache),
        "baselines": base / "baselines.json",
        "suite": base / "suite",
        "run": base / "suite" / "paper" / "run",
        "eval": base / "suite" / "paper" / "eval",
    }


def _execute(name: str, tmp_path: Path, build: Path, **parameters) -> Path:
    fig_dir = tmp_path / "figures"
    params = {**{k: str(v) for k, v in parameters.items()}, "fig_dir": str(fig_dir)}
    params["build"] = str(build)
    execute_notebook(NOTEBOOK_DIR / f"{name}.py", tmp_path / f"{name}.ipynb", params, NOTEBOOK_DIR)
    return fig_dir


def _saved(fig_dir: Path, stem: str) -> dict:
    """Check the PNG, PDF and JSON of one figure and return its numbers."""
    png, pdf, js = (fig_dir / f"{stem}.{ext}" for ext in ("png", "pdf", "json"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1_000
    return json.loads(js.read_text())


def _same(a, b) -> bool:
    """Equal numbers, with None / NaN both meaning 'not computed'."""
    missing = [v is None or (isinstance(v, float) and math.isnan(v)) for v in (a, b)]
    if any(missing):
        return all(missing)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def test_training_curves_show_the_run_record(inputs, tmp_path):
    fig_dir = _execute("training_curves", tmp_path, inputs["build"], run_dir=inputs["run"])
    numbers = _saved(fig_dir, "training_curves")
    run = json.loads((inputs["run"] / "run.json").read_text())
    log = pd.read_csv(inputs["run"] / "log.tsv", sep="\t")
    for key in ("steps", "epochs", "stopped", "best_val_loss"):
        assert numbers[key] == run[key], key
    assert numbers["val_loss"] == pytest.approx(log["val_loss"].dropna().tolist())
    assert numbers["val_loss"][numbers["best_epoch"] - 1] == pytest.approx(
        run["best_val_loss"], rel=1e-5
    )


def test_fig2_shows_the_evaluated_rt_and_the_baselines(inputs, tmp_path):
    fig_dir = _execute(
        "fig2_rt",
        tmp_path,
        inputs["build"],
        eval_dir=inputs["eval"],
        baselines=inputs["baselines"],
        suite_dir=inputs["suite"],
    )
    numbers = _saved(fig_dir, "fig2_rt")
    # unseen participants: the ridge peer's rows of suite.tsv, drawn as they are
    zero_shot = _saved(fig_dir, "fig2_zero_shot")["sources"]
    suite = pd.read_csv(inputs["suite"] / "suite.tsv", sep="\t")
    for row in suite[suite["entry"] == "ridge"].itertuples():
        shown = zero_shot["ridge peer"].get(row.task)
        assert _same(None if shown is None else shown["r"], row.r)
    metrics = json.loads((inputs["eval"] / "metrics.json").read_text())["behaviour"]
    base = json.loads(inputs["baselines"].read_text())["tasks"]
    beh = pd.read_csv(inputs["eval"] / "behaviour.tsv", sep="\t")
    assert set(numbers["tasks"]) == set(metrics) == {"faces", "stroop"}
    for task, n in numbers["tasks"].items():
        m, b = metrics[task], base[task]
        assert n["model_rt"] == m["rt"]
        assert _same(n["model_rt_mae_s"], m["rt_mae_s"])
        assert _same(n["model_concordance_mean"], m["concordance_mean"])
        assert n["n_points"] == m["rt"]["n"]
        for key in ("r", "ci_low", "ci_high", "n", "mae_s"):
            assert _same(n["own_mean_rt"][key], b["own_mean_rt"][key]), key
        assert _same(n["always_correct_concordance_mean"], b["always_correct"]["concordance_mean"])
        assert _same(n["group_mean_rt_mae_s"], b["group_mean_rt"]["mae_s"])
        # the points drawn (above chance, with a model RT) give the r in the title
        t = beh[(beh["task"] == task) & (beh["accuracy"] > CHANCE[task])]
        t = t[np.isfinite(t["pred_rt"]) & np.isfinite(t["obs_rt"])]
        assert len(t) == n["n_points"]
        if len(t) >= 4:
            r = stats.pearsonr(t["obs_rt"], t["pred_rt"]).statistic
            assert r == pytest.approx(n["model_rt"]["r"])


def test_fig3_shows_the_evaluated_bold_maps(inputs, tmp_path):
    fig_dir = _execute("fig3_bold", tmp_path, inputs["build"], eval_dir=inputs["eval"])
    bold = json.loads((inputs["eval"] / "metrics.json").read_text())["bold"]

    a = _saved(fig_dir, "fig3a_timecourse")
    assert a["region"] == "V1_L" and a["moving_average_volumes"] == 4
    assert a["moving_average_s"] == pytest.approx(3.2)
    with np.load(inputs["eval"] / "bold_test.npz") as z:
        assert a["participant"] in set(z["participants"].tolist())
        assert a["n_volumes"] == z["obs"].shape[1]

    bc = _saved(fig_dir, "fig3bc_group")
    assert bc["group_t_r"] == bold["group_t_r"] and bc["group_t_r"]["n"] == 40
    assert bc["mean_bold_r"] == bold["mean_bold_r"]
    maps = pd.read_csv(inputs["eval"] / "maps.tsv", sep="\t")
    assert bc["n_mean_bold_points"] == len(maps) == bold["mean_bold_r"]["n"]
    for task, n in bc["tasks"].items():
        assert n["group_t_obs"] == bold["tasks"][task]["group_t_obs"]
        assert n["group_t_pred"] == bold["tasks"][task]["group_t_pred"]
        assert n["group_t_r_task"] == bold["tasks"][task]["group_t_r_task"]

    d = _saved(fig_dir, "fig3d_individual")
    assert set(d["tasks"]) == set(bold["tasks"])
    for task, n in d["tasks"].items():
        m = bold["tasks"][task]
        # rebuilt from maps.tsv in the notebook: the same values evaluation wrote
        assert n["identification_accuracy"] == pytest.approx(m["identification_accuracy"])
        assert n["identification_chance"] == pytest.approx(m["identification_chance"])
        assert n["individual_map_r_mean"] == pytest.approx(m["individual_map_r_mean"])
        assert n["differential_identifiability"] == pytest.approx(m["differential_identifiability"])
        assert len(n["individual_r"]) == m["n_participants"]


def test_controls_table_is_the_suite_joined_with_the_baselines(inputs, tmp_path):
    fig_dir = _execute(
        "controls",
        tmp_path,
        inputs["build"],
        suite_dir=inputs["suite"],
        baselines=inputs["baselines"],
    )
    numbers = _saved(fig_dir, "controls")
    suite = pd.read_csv(inputs["suite"] / "suite.tsv", sep="\t")
    base = json.loads(inputs["baselines"].read_text())["tasks"]
    assert numbers["entries"] == ["paper", "zero-shot-shuffle-4", "ridge"]
    assert len(numbers["rows"]) == len(suite) == 6
    for row, expected in zip(numbers["rows"], suite.to_dict(orient="records"), strict=True):
        for key, value in expected.items():
            assert _same(row[key], value), (row["entry"], row["task"], key)
        b = base[row["task"]]
        assert _same(row["own_mean_r"], b["own_mean_rt"]["r"])
        assert _same(row["own_mean_ci_low"], b["own_mean_rt"]["ci_low"])
        assert _same(row["group_mean_mae_s"], b["group_mean_rt"]["mae_s"])
        assert _same(row["always_correct_concordance"], b["always_correct"]["concordance_mean"])


@pytest.fixture(scope="module")
def interventions(inputs, tmp_path_factory) -> Path:
    from dtb.data.parcellation import parcel_table

    out = tmp_path_factory.mktemp("intervene")
    # made-up MNI coordinates, only so that the glass-brain cell has something to draw
    labels = parcel_table().drop(columns="summary").reset_index(names="index")
    xyz = np.random.default_rng(0).uniform(-60, 60, size=(len(labels), 3))
    labels[["x", "y", "z"]] = xyz
    labels.to_csv(out / "labels.tsv", sep="\t", index=False)
    for indicator in ("speed", "affect"):
        argv = ["intervene", str(inputs["run"]), "--indicator", indicator]
        argv += ["--out", str(out / indicator), "--copies", "2", "--quiet"]
        if indicator == "affect":
            argv += ["--labels", str(out / "labels.tsv")]
        assert main(argv) == 0
    return out


def test_fig4_shows_the_targets_written_by_intervene(inputs, interventions, tmp_path):
    fig_dir = _execute("fig4_targets", tmp_path, inputs["build"], intervene_dir=interventions)
    shown = _saved(fig_dir, "fig4_targets")["indicators"]
    # the glass brain is drawn where the label file had coordinates, and only there
    assert (fig_dir / "fig4_glass_brain_affect.png").stat().st_size > 5_000
    assert not (fig_dir / "fig4_glass_brain_speed.png").exists()
    for ind in ("speed", "affect"):
        s = json.loads((interventions / ind / "intervention.json").read_text())
        edges = pd.read_csv(interventions / ind / "edges.tsv", sep="\t", keep_default_na=False)
        assert shown[ind]["n_edges"] == len(edges) == s["targets"]["n_edges"]
        assert shown[ind]["n_strengthen"] == s["targets"]["n_strengthen"]
        assert shown[ind]["n_weaken"] == s["targets"]["n_weaken"]
        assert shown[ind]["recovery"] == s["recovery"]
        nets = pd.read_csv(interventions / ind / "networks.tsv", sep="\t")
        top = shown[ind]["strongest_network_pairs"][0]
        row = nets[
            (nets["network_a"] == top["network_a"]) & (nets["network_b"] == top["network_b"])
        ]
        net = (row["frac_strengthen"] - row["frac_weaken"]).iloc[0]
        assert _same(top["net"], float(net))
        assert abs(net) == pytest.approx(
            (nets["frac_strengthen"] - nets["frac_weaken"]).abs().max()
        )


def test_fig5_shows_the_treatment_written_by_intervene(inputs, interventions, tmp_path):
    fig_dir = _execute("fig5_intervention", tmp_path, inputs["build"], intervene_dir=interventions)
    shown = _saved(fig_dir, "fig5_weight_treatment")["indicators"]
    fc_shown = _saved(fig_dir, "fig5_fc_treatment")["indicators"]
    for ind in ("speed", "affect"):
        s = json.loads((interventions / ind / "intervention.json").read_text())
        col = s["indicator_column"]
        assert _same(shown[ind]["r_latent_indicator"], s["direction"]["r_latent_indicator"])
        assert shown[ind]["mean_pre"] == pytest.approx(s["treatment"][col]["mean_pre"])
        assert shown[ind]["mean_post"] == pytest.approx(s["treatment"][col]["mean_post"])
        assert shown[ind]["effect_mean"] == pytest.approx(s["treatment"]["effect_mean"])
        dose = pd.read_csv(interventions / ind / "dose_response.tsv", sep="\t")
        mean = dose.groupby("alpha")["effect"].mean()
        assert shown[ind]["dose_monotone"] == bool(np.all(np.diff(mean.to_numpy()) > 0))
        for edit in ("targets", "truth"):
            if edit in s["fc_treatment"]:
                got, ref = fc_shown[ind][edit], s["fc_treatment"][edit][col]
                assert got["mean_change"] == pytest.approx(ref["mean_change"], rel=1e-6)
                assert got["fraction_lowered"] == pytest.approx(ref["fraction_lowered"], rel=1e-6)


def test_targets_page_shows_recovery_and_seed_agreement(inputs, interventions, tmp_path):
    """Two seeds of the paper run, their targets, their agreement, drawn by the targets page."""
    import shutil

    from dtb.train import TrainConfig, train

    results = tmp_path / "results"
    shutil.copytree(inputs["suite"], results / "suite")
    cache = json.loads((inputs["run"] / "run.json").read_text())["cache"]
    # enough steps (64) for twins that press buttons, so that their speed indicator exists
    cfg = TrainConfig.for_profile(
        "quick", max_epochs=8, participants_per_batch=2, fc_components=2, n_folds=2, seed=1
    )
    seed1 = train(cache, tmp_path / "seed-1", cfg, device="cpu", progress=False)
    folders = []
    for k, run in enumerate((inputs["run"], seed1)):
        out = results / "targets" / f"seed-{k}"
        argv = ["intervene", str(run), "--indicator", "speed", "--out", str(out)]
        assert main([*argv, "--copies", "2", "--targets-only", "--quiet"]) == 0
        assert not (out / "dose_response.tsv").exists()  # targets only
        folders.append(str(out))
    stab = results / "stability" / "pca-speed"
    assert main(["targets-stability", *folders, "--out", str(stab)]) == 0
    fig_dir = _execute("targets_truth", tmp_path, inputs["build"], results_dir=results)
    shown = _saved(fig_dir, "targets_truth")
    st = json.loads((stab / "stability.json").read_text())
    m = shown["maps"]["pca-speed"]
    assert m["spearman"] == [p["spearman"] for p in st["pairs"]]
    assert m["seeds"] == [0, 1]
    assert m["twin_auc_abs"] == [r["recovery"]["twin"]["auc_abs"] for r in st["runs"]]
    assert m["ridge_auc_abs"] == st["runs"][0]["recovery"]["ridge"]["auc_abs"]
    # the twin's AUC, recomputed from edges.tsv (i, j, score) and the synthetic truth alone
    from sklearn.metrics import roc_auc_score

    from dtb.data.prepare import load_prepared
    from dtb.data.synth import read_truth

    truth = read_truth(load_prepared(cache).meta["root"])
    planted = {
        (int(i), int(j))
        for block in truth["planted_edges"]
        if block["trait"] == "speed"
        for i, j in block["edges"]
    }
    edges = pd.read_csv(Path(folders[1]) / "edges.tsv", sep="\t", keep_default_na=False)
    label = [(i, j) in planted for i, j in zip(edges["i"], edges["j"], strict=True)]
    auc = roc_auc_score(label, edges["score"].abs())
    assert m["twin_auc_abs"][1] == pytest.approx(auc, rel=1e-9)
