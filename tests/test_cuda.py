"""The CUDA path against the CPU, on a machine with a GPU (`pytest -m cuda`); skipped elsewhere.

Tolerances: CUDA float32 against CPU float64 on the same batch, relative to the largest value of
each tensor: 1e-4 for outputs and loss, 2e-3 for gradients (float32 rounding accumulates over
the 262 steps of the backward through time); the hand-written backward against autograd on the
same device, 1e-4.
"""

from __future__ import annotations

import pytest
import torch

from dtb.model import DigitalTwinModel, ModelConfig, loss_fn
from dtb.recurrence import main_network, main_network_autograd

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

CFG = ModelConfig(n_fc=500, hyper_hidden=32, n_hidden=48, dropout=0.0)
T = 262


def _batch(dtype, device, seed=0, n_part=3, per_part=4):
    gen = torch.Generator().manual_seed(seed)
    b = n_part * per_part
    fc = torch.randn(n_part, CFG.n_fc, generator=gen)
    x = (torch.rand(b, T, CFG.n_input, generator=gen) < 0.2).float()
    owner = torch.arange(n_part).repeat_interleave(per_part)
    action = (torch.rand(b, T, CFG.n_action, generator=gen) < 0.05).float()
    bold = torch.randn(b, T, CFG.n_bold, generator=gen)
    mask = torch.rand(b, T, generator=gen) < 0.95
    cast = [fc, x, owner, action, bold, mask]
    return [
        t.to(device=device, dtype=dtype) if t.is_floating_point() else t.to(device) for t in cast
    ]


def _loss_and_grads(model, batch):
    fc, x, owner, action, bold, mask = batch
    logits, pred = model(fc, x, owner)
    loss, _ = loss_fn(logits, pred, action, bold, mask)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return loss, logits, grads


def _rel(a, b):
    return float((a.double().cpu() - b.double().cpu()).abs().max() / (b.abs().max() + 1e-12))


def test_forward_and_backward_on_cuda_match_cpu_float64():
    ref = DigitalTwinModel(CFG, generator=torch.Generator().manual_seed(0)).double()
    gpu = DigitalTwinModel(CFG, generator=torch.Generator().manual_seed(0)).cuda()
    loss64, out64, grads64 = _loss_and_grads(ref, _batch(torch.float64, "cpu"))
    loss32, out32, grads32 = _loss_and_grads(gpu, _batch(torch.float32, "cuda"))
    assert _rel(loss32, loss64) < 1e-4
    assert _rel(out32, out64) < 1e-4
    names = [n for n, _ in ref.named_parameters()]
    for name, g32, g64 in zip(names, grads32, grads64, strict=True):
        assert _rel(g32, g64) < 2e-3, name


def test_hand_written_backward_matches_autograd_on_cuda():
    gen = torch.Generator().manual_seed(1)
    g, k, h, i, o = 4, 5, 48, 9, 23
    args = [
        (torch.rand(g, T, k, i, generator=gen) < 0.2).float(),
        torch.randn(g, h, i, generator=gen) / i**0.5,
        torch.randn(g, h, generator=gen) * 0.1,
        torch.linalg.qr(torch.randn(g, h, h, generator=gen))[0],
        torch.randn(g, o, h, generator=gen) / h**0.5,
        torch.randn(g, o, generator=gen) * 0.1,
    ]
    args = [a.cuda().requires_grad_(n > 0) for n, a in enumerate(args)]
    w = torch.randn(g, T, k, o, generator=gen).cuda()
    custom = torch.autograd.grad((main_network(*args) * w).sum(), args[1:])
    auto = torch.autograd.grad((main_network_autograd(*args) * w).sum(), args[1:])
    for a, b in zip(custom, auto, strict=True):
        assert _rel(a, b) < 1e-4


def test_resume_on_cuda_reaches_the_same_weights(synth_root, tmp_path):
    from dtb.config import TrainConfig
    from dtb.data.prepare import prepare
    from dtb.train import load_checkpoint, train

    cache = prepare(synth_root, tmp_path / "cache", progress=False)
    cfg = TrainConfig.for_profile(
        "quick", max_epochs=2, checkpoint_every=1, fc_components=2, participants_per_batch=6
    )
    full = train(cache, tmp_path / "full", cfg, device="cuda", progress=False)
    n = load_checkpoint(full / "checkpoint.pt")["state"]["step"]
    part = train(cache, tmp_path / "part", cfg, device="cuda", progress=False, max_steps=n - 1)
    train(cache, part, cfg, device="cuda", progress=False, resume=True)
    a = load_checkpoint(full / "checkpoint.pt")["model"]
    b = load_checkpoint(part / "checkpoint.pt")["model"]
    for k in a:
        # CUDA reductions may differ in the last bits between launches
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
