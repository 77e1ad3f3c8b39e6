"""Virtual intervention: PLS and ridge directions, treatment, SmoothGrad targets, FC edits."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from dtb.cli import main
from dtb.data.parcellation import SUMMARY_NETWORKS, parcel_table
from dtb.intervene import InterveneConfig, amygdala_index, effect_size, resolve_direction
from dtb.model import ModelConfig
from dtb.network import build_network
from dtb.pls import find_direction, pls_direction, ridge_direction
from dtb.smoothgrad import smoothgrad
from dtb.targets import (
    edge_table,
    edit_fc,
    network_matrix,
    network_summary,
    planted_recovery,
)
from dtb.train import TrainConfig, train

N = 434
N_FC = N * (N - 1) // 2


def _weights_and_indicator(rng, s=30, p=200):
    w = rng.normal(size=(s, p)) * rng.uniform(0.5, 3.0, size=p) + rng.normal(size=p)
    y = w[:, :5] @ rng.normal(size=5) + rng.normal(size=s)
    return w, y


def test_pls_direction_equals_scikit_learn():
    from sklearn.cross_decomposition import PLSRegression

    rng = np.random.default_rng(0)
    w, y = _weights_and_indicator(rng)
    w[:, 7] = 3.0  # a weight that never varies
    d = pls_direction(w, y)
    ref = PLSRegression(n_components=1, scale=True).fit(w, y).x_weights_[:, 0]
    # same axis; our sign makes +v lower the indicator
    assert abs(float(d.v @ ref)) == pytest.approx(1.0, abs=1e-10)
    assert np.linalg.norm(d.v) == pytest.approx(1.0)
    assert d.r < 0
    assert d.r == pytest.approx(np.corrcoef(d.latent(w), y)[0, 1])
    # moving every twin by alpha SD along +v moves each latent by exactly alpha SD(z)
    for alpha in (0.5, 2.0, -1.0):
        moved = d.latent(d.shift(torch.from_numpy(w), alpha).numpy())
        np.testing.assert_allclose(moved - d.latent(w), alpha * d.sd_z, rtol=1e-9)


def test_pls_direction_refuses_bad_indicators():
    rng = np.random.default_rng(1)
    w, y = _weights_and_indicator(rng)
    with pytest.raises(ValueError, match="zero variance"):
        pls_direction(w, np.full(len(y), 0.7))
    with pytest.raises(ValueError, match="NaN"):
        pls_direction(w, np.where(np.arange(len(y)) == 3, np.nan, y))
    with pytest.raises(ValueError, match=r"\(S,\)"):
        pls_direction(w, y[:-1])
    with pytest.raises(ValueError, match="at least 3"):
        pls_direction(w[:2], y[:2])


def _mixed_weights(rng, mixing_scale, s=60, k=4, p=300):
    """Twins whose weights vary along k participant factors, mixed into p weights."""
    factors = rng.normal(size=(s, k))
    y = factors @ np.array([1.0, -0.5, 0.8, 0.3]) + 0.3 * rng.normal(size=s)
    mixing = rng.normal(size=(k, p)) * mixing_scale[:, None]
    return factors, y, factors @ mixing + 1e-3 * rng.normal(size=(s, p))


def test_ridge_direction_does_not_depend_on_how_the_factors_are_mixed():
    # Two "seeds": the same participant factors mixed into the weights with very different
    # scales. The ridge latent is the indicator's fit from the factors in both (independent
    # reference: least squares on the factors); the PLS latent follows the mixing.
    rng = np.random.default_rng(3)
    factors, y, w1 = _mixed_weights(rng, np.array([1.0, 1.0, 1.0, 1.0]))
    w2 = factors @ (rng.normal(size=(4, 300)) * np.array([5.0, 0.2, 1.0, 0.05])[:, None])
    design = np.column_stack([np.ones(len(y)), factors])
    fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r1, r2 = ridge_direction(w1, y), ridge_direction(w2, y)
    assert r1.method == "ridge" and r1.penalty is not None
    for d, w in ((r1, w1), (r2, w2)):
        assert np.corrcoef(d.z, fitted)[0, 1] < -0.99  # +v lowers the indicator
        assert d.r == pytest.approx(np.corrcoef(d.latent(w), y)[0, 1])
        assert np.linalg.norm(d.v) == pytest.approx(1.0)
    assert np.corrcoef(r1.z, r2.z)[0, 1] > 0.99
    p1, p2 = pls_direction(w1, y), pls_direction(w2, y)
    assert np.corrcoef(p1.z, p2.z)[0, 1] < 0.9
    assert p1.method == "pls" and p1.penalty is None


def test_ridge_direction_tends_to_pls_as_the_penalty_grows():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(4)
    w, y = _weights_and_indicator(rng)
    xs = (w - w.mean(0)) / w.std(0, ddof=1)
    big = Ridge(alpha=1e9).fit(xs, (y - y.mean()) / y.std(ddof=1)).coef_
    pls = pls_direction(w, y).v
    assert abs(float(big @ pls)) / np.linalg.norm(big) == pytest.approx(1.0, abs=1e-6)


def test_find_direction_refuses_unknown_methods_and_bad_indicators():
    rng = np.random.default_rng(5)
    w, y = _weights_and_indicator(rng)
    with pytest.raises(ValueError, match="unknown direction 'cca'"):
        find_direction(w, y, "cca")
    with pytest.raises(ValueError, match="zero variance"):
        find_direction(w, np.full(len(y), 0.7), "ridge")
    with pytest.raises(ValueError, match="NaN"):
        find_direction(w, np.where(np.arange(len(y)) == 3, np.nan, y), "ridge")
    assert find_direction(w, y, "pls").method == "pls"


def test_auto_direction_is_the_designs():
    pca = TrainConfig.for_profile("quick")
    dense = TrainConfig.for_profile("quick", fc_encoder="dense")
    assert resolve_direction(InterveneConfig(), pca).direction == "ridge"
    assert resolve_direction(InterveneConfig(), dense).direction == "pls"
    assert resolve_direction(InterveneConfig(direction="pls"), pca).direction == "pls"
    with pytest.raises(ValueError, match="unknown direction"):
        InterveneConfig(direction="cca").validate()


def test_effect_size_is_change_in_pre_sd():
    pre = np.array([1.0, 2.0, 3.0])
    post = pre - np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(effect_size(pre, post), [1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="zero variance"):
        effect_size(np.ones(3), np.zeros(3))


def test_config_refuses_insane_doses_and_edits():
    for bad in (
        {"alpha": 9.0},
        {"doses": (0.0, 7.5)},
        {"doses": (0.5, 1.0)},
        {"fc_edit": 1.5},
        {"indicator": "mood"},
        {"copies": 0},
    ):
        with pytest.raises(ValueError):
            InterveneConfig(**bad).validate()
    InterveneConfig().validate()


def test_fc_edit_keeps_a_symmetric_unit_diagonal_matrix_and_changes_only_targets():
    from dtb.data.fc import vector_to_matrix

    rng = np.random.default_rng(2)
    fc = np.arctanh(rng.uniform(-0.6, 0.6, N_FC))
    edges = np.array([0, 10, 5000, N_FC - 1])
    signs = np.array([1, -1, 1, -1])
    new = edit_fc(fc, edges, signs, 0.1, participant="sub-X")
    r_old, r_new = np.tanh(fc), np.tanh(new)
    np.testing.assert_allclose(r_new[edges] - r_old[edges], 0.1 * signs, atol=1e-12)
    others = np.setdiff1d(np.arange(N_FC), edges)
    np.testing.assert_allclose(new[others], fc[others], atol=1e-12)
    m = vector_to_matrix(r_new, N, diagonal=1.0)
    assert np.array_equal(m, m.T) and np.all(np.diag(m) == 1.0)
    assert np.abs(m).max() <= 1.0


def test_fc_edit_that_leaves_the_unit_interval_is_refused_by_name():
    fc = np.zeros(N_FC)
    fc[N - 1] = np.arctanh(0.95)  # row 0 holds N - 1 edges: the next is regions 1-2
    with pytest.raises(ValueError, match=r"sub-Y.*regions 1-2.*\[-1, 1\]"):
        edit_fc(fc, np.array([N - 1]), np.array([1]), 0.1, participant="sub-Y")
    with pytest.raises(ValueError, match="amount"):
        edit_fc(fc, np.array([0]), np.array([1]), 0.0)


def _scores_table(rng):
    parcels = parcel_table()
    scores = rng.normal(size=N_FC)
    return scores, parcels, edge_table(scores, parcels, threshold=2.5)


def test_edge_table_indexes_the_upper_triangle_and_flags_targets():
    rng = np.random.default_rng(3)
    scores, parcels, edges = _scores_table(rng)
    iu, ju = np.triu_indices(N, 1)
    k = 12345
    assert (edges.loc[k, "i"], edges.loc[k, "j"]) == (iu[k], ju[k])
    assert edges.loc[k, "label_i"] == parcels.loc[iu[k], "label"]
    z = (scores - scores.mean()) / scores.std()
    assert (edges["target"] == "strengthen").sum() == (z > 2.5).sum()
    assert (edges["target"] == "weaken").sum() == (z < -2.5).sum()
    summary = network_summary(edges)
    assert summary["n_edges"].sum() == N_FC
    assert summary["n_strengthen"].sum() == (z > 2.5).sum()
    assert set(summary["network_a"]) <= set(SUMMARY_NETWORKS)
    m = network_matrix(summary, "n_edges")
    assert np.array_equal(m.to_numpy(), m.to_numpy().T)
    # within-network pairs counted once: a network of k regions has k(k-1)/2 inner edges
    cb = parcels["summary"].eq("cerebellum").sum()
    assert m.loc["cerebellum", "cerebellum"] == cb * (cb - 1) // 2
    # a pair of few edges is left blank, not drawn as an all-or-nothing fraction
    least = cb * (cb - 1) // 2 + 1
    few = network_matrix(summary, "frac_strengthen", min_edges=least)
    for row in summary.itertuples(index=False):
        value = few.loc[row.network_a, row.network_b]
        assert np.isnan(value) == (row.n_edges < least)
    assert np.isnan(few.loc["cerebellum", "cerebellum"])


def test_planted_recovery_scores_a_perfect_and_a_random_map():
    from dtb.data.synth import trait_edges

    rng = np.random.default_rng(4)
    planted, signs = trait_edges("speed")
    _, parcels, edges = _scores_table(rng)
    chance = planted_recovery(edges, planted, signs, lower_sign=1)
    assert abs(chance["auc_abs"] - 0.5) < 0.05
    assert abs(chance["sign_agreement"] - 0.5) < 0.1
    iu_pos = planted[:, 0] * N - planted[:, 0] * (planted[:, 0] + 1) // 2
    pos = iu_pos + planted[:, 1] - planted[:, 0] - 1
    scores = rng.normal(scale=0.1, size=N_FC)
    scores[pos] = 5.0 * signs
    perfect = planted_recovery(edge_table(scores, parcels), planted, signs, lower_sign=1)
    assert perfect["auc_abs"] == pytest.approx(1.0)
    assert perfect["auc_signed"] == pytest.approx(1.0)
    assert perfect["sign_agreement"] == 1.0
    assert perfect["precision_at_k"][str(len(planted))] == 1.0
    flipped = planted_recovery(edge_table(scores, parcels), planted, signs, lower_sign=-1)
    assert flipped["sign_agreement"] == 0.0 and flipped["auc_signed"] < 0.01


@pytest.fixture(scope="module", params=["pca", "dense"])
def tiny_network(request):
    """An untrained quick-size network of each design, its FC statistics fitted on noise."""
    tc = TrainConfig.for_profile("quick", fc_encoder=request.param)
    net = build_network(tc, tc.model_config(N_FC), torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    sd = torch.empty(N_FC).uniform_(0.05, 0.4, generator=g)
    fc = 0.1 + torch.randn(24, N_FC, generator=g) * sd
    net.fit_inputs(fc)
    return net.eval()


def test_smoothgrad_without_noise_is_the_mean_gradient(tiny_network):
    rng = np.random.default_rng(5)
    fc = rng.normal(scale=0.3, size=(3, N_FC)).astype(np.float32)
    u = torch.randn(tiny_network.core.hyper.n_params, generator=torch.Generator().manual_seed(3))
    got = smoothgrad(tiny_network, fc, u, copies=2, noise=0.0, rng=rng)
    x = torch.from_numpy(fc).requires_grad_(True)
    (tiny_network.core.hyper(tiny_network.normalise(x)) @ u).sum().backward()
    np.testing.assert_allclose(got, x.grad.mean(0).numpy(), rtol=1e-4, atol=1e-7)


def test_smoothgrad_does_not_depend_on_the_chunk_size(tiny_network):
    fc = np.random.default_rng(6).normal(scale=0.3, size=(2, N_FC)).astype(np.float32)
    u = torch.randn(tiny_network.core.hyper.n_params, generator=torch.Generator().manual_seed(4))
    a = smoothgrad(tiny_network, fc, u, copies=5, chunk=1, rng=np.random.default_rng(7))
    b = smoothgrad(tiny_network, fc, u, copies=5, chunk=5, rng=np.random.default_rng(7))
    c = smoothgrad(tiny_network, fc, u, copies=5, chunk=5, rng=np.random.default_rng(8))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)
    assert not np.allclose(b, c)


def test_twin_from_its_own_weights_equals_twin_from_fc(tiny_network):
    from dtb.intervene import generated_weights
    from dtb.twin import DigitalTwin

    rng = np.random.default_rng(9)
    fc = rng.normal(scale=0.3, size=(1, N_FC)).astype(np.float32)
    x = rng.normal(size=(300, 9)).astype(np.float32)
    a = DigitalTwin.from_fc(fc[0], tiny_network).simulate(x)
    b = DigitalTwin.from_weights(generated_weights(tiny_network, fc)[0], tiny_network).simulate(x)
    np.testing.assert_allclose(a.bold, b.bold, atol=1e-5)
    with pytest.raises(ValueError, match="weights of shape"):
        DigitalTwin.from_weights(torch.zeros(5), tiny_network)


def test_a_model_without_the_amygdala_output_cannot_give_the_affect_indicator():
    with pytest.raises(ValueError, match="AMY_R"):
        amygdala_index(ModelConfig.profile("quick", n_bold=10))


def test_clinical_check_reads_nda_tables_and_applies_bh_fdr(tmp_path):
    from dtb.clinical import correlate_measures, read_phenotype

    rng = np.random.default_rng(10)
    ids = [f"NDAR_INV{k:08d}" for k in range(40)]
    latent = rng.normal(size=40)
    table = pd.DataFrame(
        {
            "subjectkey": ids,
            "interview_age": rng.integers(200, 600, 40),
            "related": latent + rng.normal(scale=0.5, size=40),
            "unrelated": rng.normal(size=40),
        }
    )
    desc = pd.DataFrame([{c: f"description of {c}" for c in table.columns}])
    pd.concat([desc, table]).to_csv(tmp_path / "abc01.tsv", sep="\t", index=False)
    (tmp_path / "abc01_definitions.tsv").write_text("ElementName\tDataType\nrelated\tFloat\n")
    measures = read_phenotype(tmp_path)
    assert list(measures.columns) == ["abc01:related", "abc01:unrelated"]
    series = pd.Series(latent, index=[f"sub-{i.replace('_', '')}" for i in ids])
    out = correlate_measures(series, measures)
    assert list(out["measure"]) == ["abc01:related", "abc01:unrelated"]
    r_ref = np.corrcoef(latent, table["related"])[0, 1]
    assert out.loc[0, "r"] == pytest.approx(r_ref)
    # Benjamini-Hochberg with two tests: q_(1) = min(2 p_(1), q_(2)), q_(2) = p_(2)
    p = out["p"].to_numpy()
    assert out.loc[1, "q"] == pytest.approx(p[1])
    assert out.loc[0, "q"] == pytest.approx(min(2 * p[0], p[1]))
    assert bool(out.loc[0, "significant"]) and out.loc[0, "n"] == 40


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, synth_root):
    from dtb.data.prepare import prepare

    base = tmp_path_factory.mktemp("iv")
    cache = prepare(synth_root, base / "cache", progress=False)
    return train(
        cache,
        base / "run",
        TrainConfig.for_profile("quick", max_epochs=2, fc_components=2),
        device="cpu",
        progress=False,
    )


def test_intervene_cli_writes_consistent_results(trained_run, tmp_path, capsys):
    out = tmp_path / "iv"
    argv = ["intervene", str(trained_run), "--indicator", "affect", "--out", str(out)]
    assert main([*argv, "--copies", "3", "--doses", "0", "1", "2", "--quiet"]) == 0
    assert "r(latent, indicator)" in capsys.readouterr().out
    s = json.loads((out / "intervention.json").read_text())
    assert s["config"]["indicator"] == "affect" and s["config"]["copies"] == 3
    assert s["config"]["direction"] == "ridge" == s["direction"]["method"]  # the pca design's
    assert s["run"]["data_key"] and s["n_participants"] == 6
    dose = pd.read_csv(out / "dose_response.tsv", sep="\t")
    part = pd.read_csv(out / "participants.tsv", sep="\t")
    pre = dose[dose["alpha"] == 0].set_index("participant")["amygdala_t"]
    post = dose[dose["alpha"] == 2].set_index("participant")["amygdala_t"]
    expect = (pre - post) / pre.std(ddof=1)
    got = part.set_index("participant")["effect"]
    np.testing.assert_allclose(got.loc[expect.index], expect, rtol=1e-4)
    assert np.allclose(dose.loc[dose["alpha"] == 0, "effect"], 0)
    edges = pd.read_csv(out / "edges.tsv", sep="\t", keep_default_na=False)
    assert len(edges) == N_FC
    assert s["targets"]["n_strengthen"] == (edges["target"] == "strengthen").sum()
    assert s["recovery"]["n_planted"] > 0  # the synthetic truth was found beside the data
    assert "truth" in set(pd.read_csv(out / "fc_treatment.tsv", sep="\t")["edit"])
    clinical = pd.read_csv(out / "clinical.tsv", sep="\t")
    assert len(clinical) == 0  # six participants: too few for any measure
    with np.load(out / "direction.npz") as z:
        lat = z["latent"]
    np.testing.assert_allclose(lat, part["latent"], rtol=1e-5)
    assert np.corrcoef(lat, part["indicator_pre"])[0, 1] == pytest.approx(
        s["direction"]["r_latent_indicator"], abs=1e-4
    )


def test_intervene_refuses_bad_input(trained_run, tmp_path, capsys):
    base = ["intervene", str(trained_run), "--out", str(tmp_path / "x"), "--quiet"]
    assert main([*base, "--indicator", "affect", "--alpha", "8"]) == 1
    assert "outside [-5.0, 5.0]" in capsys.readouterr().err
    assert main([*base, "--indicator", "affect", "--fc-edit", "1.2"]) == 1
    assert "fc_edit" in capsys.readouterr().err
    inside = ["intervene", str(trained_run), "--indicator", "affect", "--quiet"]
    assert main([*inside, "--out", str(trained_run / "iv")]) == 1
    assert "inside" in capsys.readouterr().err
    assert main(["intervene", str(tmp_path), "--indicator", "speed", "--out", "y"]) == 1
    assert "not a training run" in capsys.readouterr().err


def test_every_smoothgrad_map_lies_in_the_first_layer_span(tiny_network):
    from dtb.targets import gradient_span_projection

    rng = np.random.default_rng(11)
    fc = rng.normal(scale=0.3, size=(2, N_FC)).astype(np.float32)
    u = torch.randn(tiny_network.core.hyper.n_params, generator=torch.Generator().manual_seed(5))
    scores = smoothgrad(tiny_network, fc, u, copies=3, rng=rng)
    np.testing.assert_allclose(
        gradient_span_projection(tiny_network, scores), scores, atol=1e-6 * np.abs(scores).max()
    )
    # a pattern on a few edges is not in that span: its projection loses most of it
    pattern = np.zeros(N_FC)
    pattern[:50] = 1.0
    assert np.linalg.norm(gradient_span_projection(tiny_network, pattern)) < 0.5 * np.sqrt(50)


def test_parcel_table_reads_a_label_file_and_the_default_map_matches_its_left_hemisphere(
    tcp_root, tmp_path
):
    labels = tcp_root / "atlas" / "region_labels_434.tsv"
    real = parcel_table(labels)
    approx = parcel_table()
    assert len(real) == len(approx) == N
    assert (real["network"][:200] == approx["network"][:200]).all()
    assert (real["summary"][400:432] == "subcortex").all()
    assert (real["summary"][432:] == "cerebellum").all()
    assert set(real["summary"]) == set(SUMMARY_NETWORKS)
    bad = pd.read_csv(labels, sep="\t")
    bad.loc[5, "network"] = "Nowhere"
    bad.to_csv(tmp_path / "bad.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="bad.tsv.*Nowhere"):
        parcel_table(tmp_path / "bad.tsv")
    bad.iloc[:-1].to_csv(tmp_path / "short.tsv", sep="\t", index=False)
    with pytest.raises(ValueError, match="short.tsv.*0..433"):
        parcel_table(tmp_path / "short.tsv")


def test_edge_positions_index_the_upper_triangle():
    from dtb.targets import edge_positions

    iu, ju = np.triu_indices(N, 1)
    pick = np.array([0, 1, 432, 433, 5000, N_FC - 1])
    np.testing.assert_array_equal(edge_positions(np.c_[iu[pick], ju[pick]], N), pick)
    with pytest.raises(ValueError, match="i < j"):
        edge_positions(np.array([[3, 3]]), N)
