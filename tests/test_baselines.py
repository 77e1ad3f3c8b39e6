import json

import numpy as np
import pandas as pd
import pytest

from dtb.baselines import behavioural_baselines
from dtb.cli import main
from dtb.layout import STROOP, events_relpath


def _write_stroop(root, pid, rts, accuracy):
    """A valid 78-trial Stroop events file with given per-trial RTs and accuracy."""
    onset = 2.0 + 5.0 * np.arange(78)
    df = pd.DataFrame(
        {
            "onset": onset,
            "duration": 4.5,
            "trial_type": ["con1"] * 54 + ["inc2"] * 24,
            "response_time": rts,
            "accuracy_binarized": accuracy,
            "tr_seconds": 0.8,
            "stimulus_text": ["red"] * 54 + ["blue"] * 24,
            "stimulus_color": "red",
        }
    )
    path = root / events_relpath(pid, STROOP)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep="\t", index=False, na_rep="n/a")
    return onset


def test_baselines_against_a_hand_computation(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"sub-NDARINVTEST{k:04d}" for k in range(8)]
    pd.DataFrame({"participant_id": ids}).to_csv(
        tmp_path / "participants.tsv", sep="\t", index=False
    )
    train_means, test_means, test_acc = [], [], []
    for k, pid in enumerate(ids):
        rts = 0.6 + 0.05 * k + rng.normal(0, 0.1, 78)
        acc = (rng.random(78) > 0.1).astype(float)
        if k == 7:
            acc[:] = 0.0  # at chance or below: excluded
        rts[5] = np.nan  # a miss
        onset = _write_stroop(tmp_path, pid, rts, acc)
        if k < 7:
            tr, te = onset < 196.8, (onset >= 196.8) & (onset < 393.6)
            train_means.append(np.nanmean(rts[tr]))
            test_means.append(np.nanmean(rts[te]))
            test_acc.append(acc[te].mean())
    res = behavioural_baselines(tmp_path)["tasks"]["stroop"]
    assert res["excluded_chance"] == [ids[7]]
    assert res["n_used"] == 7
    assert res["own_mean_rt"]["r"] == pytest.approx(np.corrcoef(train_means, test_means)[0, 1])
    lo, hi = res["own_mean_rt"]["ci_low"], res["own_mean_rt"]["ci_high"]
    assert lo < res["own_mean_rt"]["r"] < hi
    z, se = np.arctanh(res["own_mean_rt"]["r"]), 1 / np.sqrt(7 - 3)
    assert lo == pytest.approx(np.tanh(z - 1.959964 * se), abs=1e-4)
    tm, te = np.array(train_means), np.array(test_means)
    loo = (tm.sum() - tm) / 6
    assert res["group_mean_rt"]["mae_s"] == pytest.approx(np.abs(loo - te).mean())
    assert res["always_correct"]["concordance_mean"] == pytest.approx(np.mean(test_acc))
    assert (
        res["n_with_events"] == 8
        and behavioural_baselines(tmp_path)["tasks"]["faces"]["n_used"] == 0
    )


def test_real_events_own_mean_baseline(tcp_root, tmp_path):
    out = tmp_path / "baselines.json"
    assert main(["baselines", str(tcp_root), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    for task in ("faces", "stroop"):
        t = res["tasks"][task]
        assert t["n_used"] > 150
        assert 1 <= t["n_excluded_chance"] <= 12
        # our measurement on the real events: own-mean RT predicts the test part at r ~ 0.9
        assert 0.8 < t["own_mean_rt"]["r"] < 0.97
        assert 0.85 < t["always_correct"]["concordance_mean"] < 0.99


def test_baselines_on_synthetic_data(synth_root, tmp_path):
    out = tmp_path / "b.json"
    assert main(["baselines", str(synth_root), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["tasks"]) == {"faces", "stroop"}
    assert res["tasks"]["faces"]["n_with_events"] == 6


def test_baselines_refuse_to_write_into_the_input(synth_root, capsys):
    assert main(["baselines", str(synth_root), "--json", str(synth_root / "b.json")]) == 1
    assert "never writes into input data" in capsys.readouterr().err
    assert not (synth_root / "b.json").exists()
