import numpy as np
import pytest
import torch

from dtb.config import TrainConfig
from dtb.data.encoding import TRIAL_FIELDS
from dtb.data.events import NO_PRESS, UNKNOWN_KEY
from dtb.model import ModelConfig
from dtb.network import Network, build_network
from dtb.responses import concordance, model_responses
from dtb.twin import DigitalTwin


def _trials(onsets, pressed=None):
    t = np.full((len(onsets), len(TRIAL_FIELDS)), np.nan)
    t[:, 0] = onsets
    if pressed is not None:
        t[:, TRIAL_FIELDS.index("pressed")] = pressed
    return t


def test_first_crossing_gives_choice_and_rt():
    prob = np.zeros((200, 3))
    prob[30:40, 2] = 0.9  # trial 1 (onset 20): button 2 after 10 steps = 0.8 s
    prob[33:40, 0] = 0.95
    prob[150:160, 1] = 0.6  # trial 3 (onset 140): button 1 after 0.8 s
    choice, rt = model_responses(prob, _trials([20, 100, 140, np.nan]))
    assert choice.tolist() == [2, NO_PRESS, 1, NO_PRESS]
    np.testing.assert_allclose(rt[[0, 2]], [0.8, 0.8])
    assert np.isnan(rt[[1, 3]]).all()
    # concordance ignores trials whose key is unknown
    assert concordance(np.array([2, -1, 0]), _trials([0, 1, 2], [2, -1, UNKNOWN_KEY])) == 1.0


@pytest.fixture
def network():
    cfg = ModelConfig.profile("quick", n_fc=45)
    net = build_network(TrainConfig(), cfg, torch.Generator().manual_seed(0))
    assert isinstance(net, Network)
    return net.eval()


def test_twin_matches_the_network_on_one_window(network):
    rng = np.random.default_rng(0)
    fc = torch.from_numpy(rng.normal(size=45).astype(np.float32))
    x = rng.random((100, 9)).astype(np.float32)
    twin = DigitalTwin.from_fc(fc, network)
    sim = twin.simulate(x, window=100, burn_in=0)
    logits, bold = network(fc[None], torch.from_numpy(x)[None], torch.zeros(1, dtype=torch.long))
    np.testing.assert_allclose(
        sim.action_prob, torch.sigmoid(logits)[0].detach().numpy(), atol=1e-6
    )
    np.testing.assert_allclose(sim.bold, bold[0].detach().numpy(), atol=1e-6)
    # windows with burn-in cover a long input exactly once, in order
    long = twin.simulate(rng.random((1000, 9)).astype(np.float32))
    assert long.action_prob.shape == (1000, 3)
    np.testing.assert_array_equal(long.bold_at(np.arange(0, 1000, 10)), long.bold[::10])


def test_twin_bad_inputs(network):
    with pytest.raises(ValueError, match=r"FC vector of shape \(44,\), the model expects \(45,\)"):
        DigitalTwin.from_fc(torch.zeros(44), network)
    with pytest.raises(ValueError, match="NaN"):
        DigitalTwin.from_fc(torch.full((45,), float("nan")), network)
    twin = DigitalTwin.from_fc(torch.zeros(45), network)
    with pytest.raises(ValueError, match=r"shape \(T, 9\)"):
        twin.simulate(np.zeros((10, 8)))
