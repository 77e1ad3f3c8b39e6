"""FC encoders: the pca encoder against scikit-learn, its fit set, and the refusals."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from dtb.config import TrainConfig
from dtb.encoders import PCAEncoder
from dtb.model import HyperNetwork, ModelConfig


def _fc(n=30, f=200, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 5)) @ rng.normal(size=(5, f))
    return (latent + rng.normal(scale=0.5, size=(n, f))).astype(np.float32)


def test_pca_encoder_equals_scikit_learn_whitened_pca():
    fc = _fc()
    enc = PCAEncoder(200, 6).fit(torch.from_numpy(fc[:20]))
    ref = PCA(n_components=6, whiten=True).fit(fc[:20].astype(np.float64))
    got = enc(torch.from_numpy(fc[20:])).numpy()
    want = ref.transform(fc[20:].astype(np.float64))
    # the sign of a component is arbitrary; scikit-learn's svd_flip fixes it the same way
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    train_scores = enc(torch.from_numpy(fc[:20])).numpy()
    np.testing.assert_allclose(train_scores.std(0, ddof=1), 1.0, rtol=1e-4)  # whitened
    assert enc.explained_variance_ratio.sum() <= 1.0


def test_pca_encoder_gradients_map_back_to_edges_exactly():
    enc = PCAEncoder(200, 4).fit(_fc())
    x = torch.from_numpy(_fc(n=3, seed=1)).requires_grad_(True)
    w = torch.randn(4, generator=torch.Generator().manual_seed(0))
    (enc(x) @ w).sum().backward()
    expect = (enc.edge_rows().T @ w).expand(3, -1)
    torch.testing.assert_close(x.grad, expect, rtol=1e-5, atol=1e-6)


def test_pca_encoder_refuses_a_fit_set_too_small_for_k():
    with pytest.raises(ValueError, match=r"fold 2: 5 training participants are too few for 8"):
        PCAEncoder(200, 8).fit(_fc(n=5), where="fold 2")
    bad = _fc()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PCAEncoder(200, 3).fit(bad)
    with pytest.raises(ValueError, match=r"shape \(n, 200\)"):
        PCAEncoder(200, 3).fit(_fc(f=199))


def test_hypernetwork_with_the_pca_encoder_reads_k_inputs():
    cfg = ModelConfig(n_fc=200, hyper_hidden=8, n_hidden=5, fc_encoder="pca", fc_components=4)
    hyper = HyperNetwork(cfg, generator=torch.Generator().manual_seed(0))
    assert hyper.fc1.in_features == 4
    hyper.encoder.fit(_fc())
    rows = hyper.edge_rows()
    assert rows.shape == (8, 200)
    # the first layer's pre-activations are a linear map of the FC through these rows
    x = torch.from_numpy(_fc(n=2, seed=3))
    torch.testing.assert_close(
        hyper.fc1(hyper.encoder(x)) - hyper.fc1(hyper.encoder(torch.zeros_like(x))),
        x @ rows.T,
        rtol=1e-4,
        atol=1e-4,
    )


def test_profiles_choose_the_design():
    assert TrainConfig.for_profile("paper").fc_encoder == "dense"
    assert TrainConfig.for_profile("paper").lr_first_layer == 1e-5
    twin = TrainConfig.for_profile("twin")
    assert twin.fc_encoder == "pca" and twin.lr_first_layer == twin.lr
    assert twin.model_config(93_961).n_hidden == 400
    quick_dense = TrainConfig.for_profile("quick", fc_encoder="dense")
    assert quick_dense.lr_first_layer == 1e-5
    assert quick_dense.model_config(93_961).n_encoded == 93_961
    with pytest.raises(ValueError, match="unknown FC encoder"):
        TrainConfig.for_profile("quick", fc_encoder="sparse")
    with pytest.raises(ValueError, match="unknown profile"):
        TrainConfig.for_profile("huge")


def test_the_plain_config_is_the_quick_profile_and_lr_follows_for_pca():
    assert TrainConfig() == TrainConfig.for_profile("quick")
    assert TrainConfig.for_profile("quick", lr=5e-3).lr_first_layer == 5e-3
    assert TrainConfig.for_profile("paper", lr=5e-3).lr_first_layer == 1e-5
    assert TrainConfig.for_profile("paper").participants_per_batch == 6
