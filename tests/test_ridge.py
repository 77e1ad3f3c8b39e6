"""The ridge peer: nested, fold-respecting zero-shot prediction and its coefficient map."""

import numpy as np
import pandas as pd
import pytest

from dtb.ridge import RidgeConfig, coefficient_scores, participant_targets, zero_shot_predictions


def _linear(n=60, p=400, seed=0):
    """FC-like data: a trait loads on one block of edges, another factor on a second block."""
    rng = np.random.default_rng(seed)
    trait, other = rng.normal(size=(2, n, 1))
    w = np.zeros(p)
    w[:40] = rng.uniform(1.0, 2.0, size=40) * rng.choice([-1.0, 1.0], size=40)
    v = np.zeros(p)
    v[40:120] = rng.uniform(1.0, 2.0, size=80)
    x = trait * w + other * v + rng.normal(scale=1.0, size=(n, p))
    return x, trait[:, 0] + rng.normal(scale=0.3, size=n), w


def test_zero_shot_ridge_predicts_a_linear_target():
    x, y, _ = _linear()
    pred, alphas = zero_shot_predictions(x, y, RidgeConfig(n_folds=5))
    assert np.corrcoef(pred, y)[0, 1] > 0.7
    assert np.isfinite(alphas).all() and len(alphas) == 5


def test_a_held_out_participant_never_informs_its_own_prediction():
    from dtb.protocols import held_out_participants

    x, y, _ = _linear(seed=1)
    cfg = RidgeConfig(n_folds=4, seed=3)
    pred, _ = zero_shot_predictions(x, y, cfg)
    fold = held_out_participants(len(y), fold=2, n_folds=4, seed=3)  # the twin's folds
    y2 = y.copy()
    y2[fold] += 100.0  # change every target of that fold
    pred2, _ = zero_shot_predictions(x, y2, cfg)
    np.testing.assert_allclose(pred2[fold], pred[fold])
    others = np.setdiff1d(np.arange(len(y)), fold)
    assert not np.allclose(pred2[others], pred[others])  # they were trained on it
    y3 = y.copy()
    y3[5] = np.nan  # undefined targets are neither trained on nor predicted
    pred3, _ = zero_shot_predictions(x, y3, cfg)
    assert np.isnan(pred3[5]) and np.isfinite(np.delete(pred3, 5)).all()
    with pytest.raises(ValueError, match="expected"):
        zero_shot_predictions(x, y[:-1], cfg)


def test_coefficient_map_finds_the_edges_the_target_depends_on():
    from sklearn.metrics import roc_auc_score

    x, y, w = _linear(n=80, seed=2)
    scores = coefficient_scores(x, y)
    assert roc_auc_score(w != 0, np.abs(scores)) > 0.9
    top = np.argsort(-np.abs(scores))[:10]
    top = top[w[top] != 0]  # a regression weight may also cancel noise on an unloaded edge
    assert len(top) >= 3 and np.all(np.sign(scores[top]) == np.sign(w[top]))
    # weights are in raw FC units: an edge measured on a k-times larger scale gets 1/k of it
    scale = np.linspace(0.5, 2.0, x.shape[1])
    np.testing.assert_allclose(coefficient_scores(x * scale, y) * scale, scores, rtol=1e-6)


def test_participant_targets_match_the_events_files(synth_root, tmp_path):
    from dtb.data.prepare import load_prepared, prepare

    cohort = load_prepared(prepare(synth_root, tmp_path / "cache", progress=False))
    table = participant_targets(cohort)
    assert list(table["participant"]) == cohort.participants
    for k, pid in enumerate(cohort.participants[:3]):
        for task, bids in (("faces", "hammerAP"), ("stroop", "stroopAP")):
            ev = pd.read_csv(
                synth_root / pid / "func" / f"{pid}_task-{bids}_run-01_events.tsv",
                sep="\t",
                na_values="n/a",
            )
            part = ev[(ev["onset"] >= 196.8) & (ev["onset"] < 393.6)]
            assert table.loc[k, f"acc_{task}"] == pytest.approx(part["accuracy_binarized"].mean())
            rt = table.loc[k, f"rt_{task}"]
            if np.isfinite(rt):  # NaN for a participant at or below chance
                assert rt == pytest.approx(part["response_time"].mean(), abs=1e-9)
    assert np.isfinite(table["amygdala_t"]).sum() >= 5
