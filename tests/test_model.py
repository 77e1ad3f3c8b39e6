"""The digital-twin model: sizes, batched vs per-sample equality, gradients, shift, loss, errors."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

import dtb.recurrence as recurrence
from dtb.model import (
    DigitalTwinModel,
    HyperNetwork,
    ModelConfig,
    _group_windows,
    loss_fn,
    main_param_shapes,
    n_main_params,
    reference_forward,
    shift_inputs,
)
from dtb.recurrence import main_network, main_network_autograd

SMALL = ModelConfig(n_fc=40, hyper_hidden=16, n_hidden=12, dropout=0.1)
TINY = ModelConfig(n_fc=6, hyper_hidden=4, n_hidden=3, n_bold=2, dropout=0.1)

# owner layouts, each exercising one path of the batched recurrence
LAYOUTS = {
    "sorted, equal counts": ([0, 0, 1, 1, 2, 2], "equal"),
    "unsorted, unequal counts": ([2, 0, 1, 0, 2, 1, 0], "padded"),
    "very unequal counts": ([1, 1, 1, 1, 1, 1, 0, 2], "per window"),
    "one window per participant": ([0, 1, 2], "equal"),
}


def _layout_kind(owner: torch.Tensor, n_part: int) -> str:
    groups = _group_windows(owner, n_part)
    if groups.weights is not None:
        return "per window"
    return "padded" if groups.slot is not None else "equal"


def _data(cfg: ModelConfig, owner: list[int], t_steps: int, seed: int, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    n_part = max(owner) + 1
    fc = torch.randn(n_part, cfg.n_fc, generator=gen, dtype=dtype)
    inputs = (torch.rand(len(owner), t_steps, cfg.n_input, generator=gen) < 0.3).to(dtype)
    return fc, inputs, torch.tensor(owner)


def _model(cfg: ModelConfig, seed: int = 0, dtype=torch.float32, **kwargs) -> DigitalTwinModel:
    model = DigitalTwinModel(cfg, generator=torch.Generator().manual_seed(seed), **kwargs)
    return model.to(dtype).eval()


# ---------------------------------------------------------------------------------------------
# Sizes and configuration
# ---------------------------------------------------------------------------------------------


def test_paper_sizes_generate_173623_parameters():
    cfg = ModelConfig.profile("paper")
    assert cfg.n_fc == 434 * 433 // 2 == 93_961
    assert (cfg.hyper_hidden, cfg.n_hidden, cfg.dropout) == (200, 400, 0.1)
    assert main_param_shapes(cfg) == {
        "W_ih": (400, 9),
        "b_ih": (400,),
        "W_hh": (400, 400),
        "b_hh": (400,),
        "W_ho": (23, 400),
        "b_ho": (23,),
    }
    assert n_main_params(cfg) == 3_600 + 400 + 160_000 + 400 + 9_200 + 23 == 173_623


def test_hypernetwork_output_is_split_by_the_declared_shapes():
    hyper = HyperNetwork(SMALL, generator=torch.Generator().manual_seed(0))
    assert hyper.out.out_features == n_main_params(SMALL)
    flat = torch.arange(3 * n_main_params(SMALL), dtype=torch.float32).view(3, -1)
    params = hyper.split(flat)
    assert {k: tuple(v.shape[1:]) for k, v in params.items()} == main_param_shapes(SMALL)
    # the pieces tile the flat vector in order, without gaps or overlap
    assert torch.equal(torch.cat([v.flatten(1) for v in params.values()], 1), flat)
    with pytest.raises(ValueError, match="last dimension P"):
        hyper.split(flat[:, :-1])


def test_profiles_and_overrides():
    quick = ModelConfig.profile("quick", n_fc=1234)
    assert (quick.n_fc, quick.hyper_hidden, quick.n_hidden) == (1234, 64, 64)
    assert n_main_params(quick) == 64 * 9 + 64 + 64 * 64 + 64 + 23 * 64 + 23
    assert ModelConfig.profile("paper") == ModelConfig()
    assert ModelConfig().fc_encoder == "dense"  # the paper's design, exactly
    assert ModelConfig.profile("twin").fc_encoder == "pca"
    assert ModelConfig.profile("twin").n_hidden == 400
    with pytest.raises(ValueError, match="fc_encoder"):
        ModelConfig(fc_encoder="sparse")
    with pytest.raises(ValueError, match="unknown model profile"):
        ModelConfig.profile("huge")
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(dropout=1.0)
    with pytest.raises(ValueError, match="n_hidden"):
        ModelConfig(n_hidden=0)


def test_init_spread_sets_the_initial_differences_between_participants():
    fc, _, _ = _data(SMALL, [0, 1], t_steps=1, seed=10)
    spread = {}
    for value in (0.0, 0.1, 0.5):
        model = _model(replace(SMALL, init_spread=value))
        with torch.no_grad():
            w_hh = model.generate(fc)["W_hh"]
        spread[value] = (w_hh[0] - w_hh[1]).abs().max().item()
    assert spread[0.0] == 0.0  # every twin starts as the same shared network
    assert 0 < spread[0.1] < spread[0.5]
    assert ModelConfig.profile("quick").init_spread == 0.1
    with pytest.raises(ValueError, match="init_spread"):
        ModelConfig(init_spread=-1.0)


def test_same_generator_same_model():
    a, b = _model(SMALL, seed=3), _model(SMALL, seed=3)
    c = _model(SMALL, seed=4)
    for (name, pa), pb, pc in zip(
        a.named_parameters(), b.parameters(), c.parameters(), strict=True
    ):
        assert torch.equal(pa, pb), name
        assert not torch.equal(pa, pc) or pa.abs().max() == 0, name


# ---------------------------------------------------------------------------------------------
# Initialisation: the generated RNN starts near the edge of stability
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fc_kind", ["standardised", "raw Fisher z"])
def test_initial_recurrent_weights_have_spectral_radius_near_one(fc_kind):
    cfg = ModelConfig(n_fc=2_000, hyper_hidden=64, n_hidden=200)
    model = _model(cfg)
    gen = torch.Generator().manual_seed(1)
    fc = torch.randn(4, cfg.n_fc, generator=gen)
    if fc_kind == "raw Fisher z":
        fc = 0.2 + 0.2 * fc
    with torch.no_grad():
        params = model.generate(fc)
    radius = torch.linalg.eigvals(params["W_hh"].double()).abs().max(-1).values
    assert ((radius > 0.9) & (radius < 1.25)).all(), radius
    assert params["b_ho"].abs().max() < 0.3
    # participants differ from the start (the hypernetwork's last layer is not zero)
    assert (params["W_hh"][0] - params["W_hh"][1]).abs().max() > 1e-3


# ---------------------------------------------------------------------------------------------
# Batched implementation == per-sample reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_batched_forward_matches_per_sample_reference(layout):
    owner_list, kind = LAYOUTS[layout]
    model = _model(SMALL)
    fc, inputs, owner = _data(SMALL, owner_list, t_steps=9, seed=1)
    assert _layout_kind(owner, fc.shape[0]) == kind
    actions, bold = model(fc, inputs, owner)
    ref_actions, ref_bold = reference_forward(model, fc, inputs, owner)
    assert actions.shape == (len(owner_list), 9, 3) and bold.shape == (len(owner_list), 9, 20)
    torch.testing.assert_close(actions, ref_actions, rtol=0, atol=1e-5)
    torch.testing.assert_close(bold, ref_bold, rtol=0, atol=1e-5)


@pytest.mark.parametrize("custom_backward", [True, False])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_batched_gradients_match_per_sample_reference(layout, custom_backward):
    owner_list, _ = LAYOUTS[layout]
    model = _model(SMALL, custom_backward=custom_backward)
    fc, inputs, owner = _data(SMALL, owner_list, t_steps=9, seed=2)
    gen = torch.Generator().manual_seed(5)
    w_action = torch.randn(len(owner_list), 9, 3, generator=gen)
    w_bold = torch.randn(len(owner_list), 9, 20, generator=gen)

    def grads(forward):
        fc_ = fc.clone().requires_grad_()
        actions, bold = forward(model, fc_, inputs, owner)
        out = (actions * w_action).sum() + (bold * w_bold).sum()
        params = [fc_, *model.parameters()]
        return torch.autograd.grad(out, params)

    batched = grads(lambda m, *a: m(*a))
    reference = grads(reference_forward)
    names = ["fc"] + [n for n, _ in model.named_parameters()]
    for name, g_b, g_r in zip(names, batched, reference, strict=True):
        scale = g_r.abs().max().item() + 1e-12
        assert (g_b - g_r).abs().max().item() <= 1e-5 * max(1.0, scale), name


def test_hypernetwork_runs_once_per_participant():
    model = _model(SMALL)
    fc, inputs, owner = _data(SMALL, [0, 0, 0, 1, 1, 1, 2, 2, 2], t_steps=5, seed=3)
    seen = []
    handle = model.hyper.fc1.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    try:
        model(fc, inputs, owner)
    finally:
        handle.remove()
    assert len(seen) == 1
    assert seen[0].shape == (3, SMALL.n_fc)  # S rows, not B = 9


def test_per_window_mode_equals_grouped_mode_without_dropout():
    model = _model(SMALL)
    fc, inputs, owner = _data(SMALL, [0, 0, 1, 1, 2, 2], t_steps=6, seed=4)
    grouped = model(fc, inputs, owner)
    per_window = model(fc[owner], inputs, torch.arange(len(owner)))
    for a, b in zip(grouped, per_window, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_dropout_follows_the_passed_generator():
    model = _model(SMALL).train()
    fc, inputs, owner = _data(SMALL, [0, 1, 1], t_steps=4, seed=5)
    run = [
        model(fc, inputs, owner, generator=torch.Generator().manual_seed(s))[1] for s in (7, 7, 8)
    ]
    assert torch.equal(run[0], run[1])
    assert not torch.equal(run[0], run[2])
    model.eval()
    assert torch.equal(model(fc, inputs, owner)[1], model(fc, inputs, owner)[1])


# ---------------------------------------------------------------------------------------------
# Exact gradients (float64 gradcheck)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("groups,per_group", [(2, 3), (3, 1)])
def test_main_network_function_gradcheck(monkeypatch, groups, per_group):
    monkeypatch.setattr(recurrence, "CHUNK", 2)  # several chunks, one of them partial
    gen = torch.Generator().manual_seed(0)
    g, t, k, i, h, o = groups, 5, per_group, 4, 3, 2

    def rand(*shape):
        return (0.7 * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    args = (rand(g, t, k, i), rand(g, h, i), rand(g, h), rand(g, h, h), rand(g, o, h), rand(g, o))
    assert torch.autograd.gradcheck(main_network, args)
    torch.testing.assert_close(main_network(*args), main_network_autograd(*args))


def test_whole_model_gradcheck():
    model = _model(TINY, dtype=torch.float64)
    fc, inputs, owner = _data(TINY, [1, 0, 1], t_steps=4, seed=6, dtype=torch.float64)
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]

    def f(fc, inputs, *params):
        return functional_call(model, dict(zip(names, params, strict=True)), (fc, inputs, owner))

    args = (fc.requires_grad_(), inputs.requires_grad_(), *params)
    assert torch.autograd.gradcheck(f, args)


# ---------------------------------------------------------------------------------------------
# Next-step prediction: the output at t sees inputs up to t - 1 only
# ---------------------------------------------------------------------------------------------


def test_shift_inputs():
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    shifted = shift_inputs(x)
    assert torch.equal(shifted[:, 0], torch.zeros(2, 3))
    assert torch.equal(shifted[:, 1:], x[:, :-1])


@pytest.mark.parametrize("step", [0, 3, 7])
def test_output_at_t_does_not_depend_on_inputs_at_or_after_t(step):
    model = _model(SMALL)
    fc, inputs, owner = _data(SMALL, [0, 1, 1], t_steps=8, seed=7)
    perturbed = inputs.clone()
    perturbed[:, step:] += 5.0
    before = torch.cat(model(fc, inputs, owner), -1)
    after = torch.cat(model(fc, perturbed, owner), -1)
    assert torch.equal(before[:, : step + 1], after[:, : step + 1])
    if step + 1 < inputs.shape[1]:
        assert (before[:, step + 1] - after[:, step + 1]).abs().max() > 1e-4


# ---------------------------------------------------------------------------------------------
# Loss
# ---------------------------------------------------------------------------------------------


def _loss_data(seed: int = 8):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 5, 3, generator=gen, requires_grad=True)
    bold = torch.randn(2, 5, 4, generator=gen, requires_grad=True)
    action = (torch.rand(2, 5, 3, generator=gen) < 0.3).float()
    bold_target = torch.randn(2, 5, 4, generator=gen)
    mask = torch.rand(2, 5, generator=gen) < 0.6
    mask[0, 0], mask[1, 4] = True, False
    return logits, bold, action, bold_target, mask


def test_loss_matches_hand_computation():
    logits, bold, action, bold_target, mask = _loss_data()
    total, parts = loss_fn(logits, bold, action, bold_target, mask)
    bce = F.binary_cross_entropy_with_logits(logits[mask], action[mask])  # mean over kept steps
    mse = F.mse_loss(bold, bold_target)
    torch.testing.assert_close(parts["action"], bce)
    torch.testing.assert_close(parts["bold"], mse)
    torch.testing.assert_close(total, bce + mse)
    unmasked, _ = loss_fn(logits, bold, action, bold_target)
    torch.testing.assert_close(unmasked, F.binary_cross_entropy_with_logits(logits, action) + mse)
    # by hand, from the definition of BCE on logits
    p = torch.sigmoid(logits[mask])
    y = action[mask]
    by_hand = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    torch.testing.assert_close(parts["action"], by_hand, rtol=1e-5, atol=1e-6)


def test_action_weight_scales_the_action_term_only():
    logits, bold, action, bold_target, mask = _loss_data()
    total, parts = loss_fn(logits, bold, action, bold_target, mask, action_weight=3.0)
    bce = F.binary_cross_entropy_with_logits(logits[mask], action[mask])
    torch.testing.assert_close(total, 3.0 * bce + F.mse_loss(bold, bold_target))
    torch.testing.assert_close(parts["action"], bce)  # the logged parts stay unweighted
    g3, gb3 = torch.autograd.grad(total, (logits, bold))
    plain, _ = loss_fn(logits, bold, action, bold_target, mask)
    g1, gb1 = torch.autograd.grad(plain, (logits, bold))
    torch.testing.assert_close(g3, 3.0 * g1)
    torch.testing.assert_close(gb3, gb1)


def test_masked_steps_do_not_contribute():
    logits, bold, action, bold_target, mask = _loss_data()
    total, _ = loss_fn(logits, bold, action, bold_target, mask)
    (grad,) = torch.autograd.grad(total, logits)
    changed = action.clone()
    changed[~mask] = 1.0 - changed[~mask]
    total_changed, _ = loss_fn(logits, bold, changed, bold_target, mask)
    changed[~mask] = float("nan")  # unknown targets may even be NaN
    total_nan, _ = loss_fn(logits, bold, changed, bold_target, mask)
    (grad_nan,) = torch.autograd.grad(total_nan, logits)
    assert torch.equal(total, total_changed) and torch.equal(total, total_nan)
    assert torch.equal(grad, grad_nan) and (grad[~mask] == 0).all()


def test_loss_rejects_mismatched_shapes():
    logits, bold, action, bold_target, mask = _loss_data()
    with pytest.raises(ValueError, match="action_target"):
        loss_fn(logits, bold, action[:, :4], bold_target)
    with pytest.raises(ValueError, match="bold_target"):
        loss_fn(logits, bold, action, bold_target[..., :3])
    with pytest.raises(ValueError, match=r"action_mask must have shape \(B, T\)"):
        loss_fn(logits, bold, action, bold_target, mask[:, :4])


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors that name the shape
# ---------------------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    model = _model(SMALL)
    fc, inputs, owner = _data(SMALL, [0, 1, 1], t_steps=4, seed=9)
    with pytest.raises(
        ValueError, match=r"fc must have shape \(S, n_fc\) = \(S, 40\); got \(2, 39\)"
    ):
        model(fc[:, :-1], inputs, owner)
    with pytest.raises(ValueError, match=r"fc must have shape .* got \(40,\)"):
        model(fc[0], inputs, owner)
    bad_fc = fc.clone()
    bad_fc[1, 3] = float("nan")
    with pytest.raises(ValueError, match=r"fc of shape \(2, 40\) contains 1 NaN or Inf"):
        model(bad_fc, inputs, owner)
    bad_inputs = inputs.clone()
    bad_inputs[0, 2, 1] = float("inf")
    with pytest.raises(ValueError, match=r"inputs of shape \(3, 4, 9\) contains 1 NaN or Inf"):
        model(fc, bad_inputs, owner)
    with pytest.raises(ValueError, match=r"inputs must have shape \(B, T, n_input\)"):
        model(fc, inputs[..., :8], owner)
    with pytest.raises(ValueError, match=r"owner values must lie in \[0, S\) = \[0, 2\)"):
        model(fc, inputs, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"owner values must lie"):
        model(fc, inputs, torch.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match=r"owner must have shape \(B,\) = \(3,\)"):
        model(fc, inputs, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="int64"):
        model(fc, inputs, owner.to(torch.int32))


def test_main_network_rejects_mismatched_weights():
    x = torch.zeros(2, 3, 1, 4)
    w = {"w_ih": torch.zeros(2, 5, 4), "b": torch.zeros(2, 5), "w_hh": torch.zeros(2, 5, 5)}
    with pytest.raises(ValueError, match=r"w_ho must have shape \(2, 6, 5\)"):
        main_network(x, w["w_ih"], w["b"], w["w_hh"], torch.zeros(2, 6, 4), torch.zeros(2, 6))
    with pytest.raises(ValueError, match=r"w_ih must have shape \(2, 5, 4\)"):
        main_network(x, w["w_ih"][:1], w["b"], w["w_hh"], torch.zeros(2, 6, 5), torch.zeros(2, 6))


def test_quick_profile_is_small():
    cfg = ModelConfig.profile("quick")
    assert cfg.fc_encoder == "pca" and cfg.n_encoded == cfg.fc_components
    n_params = (
        cfg.n_encoded * cfg.hyper_hidden
        + cfg.hyper_hidden**2
        + cfg.hyper_hidden * n_main_params(cfg)
    )
    assert n_params < 5e5  # the paper's is 53.7 M
    assert math.isclose(n_main_params(cfg) / n_main_params(ModelConfig()), 6_295 / 173_623)
