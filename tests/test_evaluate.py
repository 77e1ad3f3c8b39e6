import json

import numpy as np
import pandas as pd
import pytest

from dtb.cli import main
from dtb.data.cohort import read_participants
from dtb.data.prepare import prepare
from dtb.layout import STROOP, timeseries_path
from dtb.train import TrainConfig, train


@pytest.fixture(scope="module")
def run_without_one_stroop(tmp_path_factory, synth_root):
    import shutil

    root = tmp_path_factory.mktemp("ev") / "ds"
    shutil.copytree(synth_root, root)
    missing = read_participants(root)[2]
    timeseries_path(root, missing, STROOP).unlink()
    cache = prepare(root, root.parent / "cache", progress=False)
    run = train(
        cache,
        root.parent / "run",
        TrainConfig.for_profile("quick", max_epochs=1, fc_components=2),
        device="cpu",
        progress=False,
    )
    return run, missing


def test_evaluate_writes_behaviour_bold_and_skips_missing_runs(
    run_without_one_stroop, tmp_path, capsys
):
    run, missing = run_without_one_stroop
    assert main(["evaluate", str(run), "--out", str(tmp_path / "ev"), "--quiet"]) == 0
    assert "RT r =" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    beh = pd.read_csv(tmp_path / "ev" / "behaviour.tsv", sep="\t")
    assert len(beh) == 6 + 5  # six Faces runs, five Stroop runs
    assert set(beh.loc[beh["participant"] == missing, "task"]) == {"faces"}
    assert metrics["behaviour"]["stroop"]["n_participants"] == 5
    assert 0 <= metrics["behaviour"]["faces"]["concordance_mean"] <= 1
    bold = metrics["bold"]
    assert len(bold["tasks"]["faces"]["group_t_obs"]) == 20
    assert bold["group_t_r"]["n"] == 40
    maps = pd.read_csv(tmp_path / "ev" / "maps.tsv", sep="\t")
    assert len(maps) == 11 * 20 and np.isfinite(maps[["t_obs", "t_pred"]]).all().all()
    with np.load(tmp_path / "ev" / "bold_test.npz") as z:
        assert z["pred"].shape == z["obs"].shape == (11, 246, 20)
        assert z["frame_times"][0] == pytest.approx(246 * 0.8)


def test_a_run_is_refused_against_another_cohort(run_without_one_stroop, synth_root, tmp_path):
    from dtb.data.prepare import load_prepared
    from dtb.evaluate import predict_behaviour

    run, _ = run_without_one_stroop
    other = load_prepared(prepare(synth_root, tmp_path / "c", progress=False))
    with pytest.raises(ValueError, match="trained on cohort"):
        predict_behaviour(run, other, progress=False)


def test_metrics_follow_the_schema_and_carry_the_configs(run_without_one_stroop, tmp_path):
    from dtb.evaluate import evaluate, validate_metrics

    run, _ = run_without_one_stroop
    metrics = evaluate([run], tmp_path / "ev", progress=False)
    on_disk = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    validate_metrics(on_disk)
    assert on_disk["runs"][0]["train_config"]["protocol"] == "paper"
    assert on_disk["runs"][0]["data_key"] == json.loads((run / "run.json").read_text())["data_key"]
    assert on_disk["behaviour"] == metrics["behaviour"]
    broken = json.loads(json.dumps(on_disk))
    broken["behaviour"]["faces"]["concordance_mean"] = 1.7
    with pytest.raises(ValueError, match="behaviour/faces/concordance_mean"):
        validate_metrics(broken)
    del broken["runs"]
    with pytest.raises(ValueError, match="'runs' is a required property"):
        validate_metrics(broken)
