"""Training precision (dtb.precision): the options, their checks, bf16 autocast against fp32."""

from __future__ import annotations

import pytest
import torch

from dtb.config import TrainConfig
from dtb.model import DigitalTwinModel, ModelConfig, loss_fn
from dtb.precision import check_precision, precision_context
from dtb.recurrence import main_network

CFG = ModelConfig(n_fc=60, hyper_hidden=16, n_hidden=12, dropout=0.0)


def test_unknown_or_misplaced_precisions_are_refused():
    with pytest.raises(ValueError, match="one of fp32, tf32, bf16"):
        check_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="tf32 is a CUDA option"):
        check_precision("tf32", "cpu")
    check_precision("bf16", "cpu")
    with pytest.raises(ValueError, match="unknown precision"):
        TrainConfig(precision="fp16").validate()
    assert TrainConfig().precision == "fp32"


def test_tf32_switches_are_restored():
    before = torch.backends.cuda.matmul.allow_tf32
    if torch.cuda.is_available():
        with precision_context("tf32", "cuda"):
            assert torch.backends.cuda.matmul.allow_tf32
    with precision_context("fp32", "cpu"):
        pass
    assert torch.backends.cuda.matmul.allow_tf32 == before


def test_the_recurrence_stays_float32_under_bf16_autocast():
    gen = torch.Generator().manual_seed(0)
    g, t, k, h, i, o = 2, 30, 3, 12, 9, 23
    args = [
        (torch.rand(g, t, k, i, generator=gen) < 0.2).float(),
        torch.randn(g, h, i, generator=gen) / 3,
        torch.randn(g, h, generator=gen) * 0.1,
        torch.randn(g, h, h, generator=gen) / h**0.5,
        torch.randn(g, o, h, generator=gen) / h**0.5,
        torch.randn(g, o, generator=gen) * 0.1,
    ]
    low = [a.to(torch.bfloat16) for a in args]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = main_network(*low)
    assert y.dtype == torch.float32
    # exactly the fp32 recurrence of the (rounded) inputs
    torch.testing.assert_close(y, main_network(*[a.float() for a in low]), rtol=0, atol=0)


def _loss_and_grads(model, precision):
    gen = torch.Generator().manual_seed(1)
    fc = torch.randn(2, CFG.n_fc, generator=gen)
    x = (torch.rand(4, 40, CFG.n_input, generator=gen) < 0.2).float()
    owner = torch.tensor([0, 0, 1, 1])
    action = (torch.rand(4, 40, 3, generator=gen) < 0.05).float()
    bold = torch.randn(4, 40, 20, generator=gen)
    mask = torch.ones(4, 40, dtype=torch.bool)
    model.zero_grad(set_to_none=True)
    with precision_context(precision, "cpu"):
        logits, pred = model(fc, x, owner)
        loss, _ = loss_fn(logits.float(), pred.float(), action, bold, mask)
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in model.parameters()]


def test_bf16_loss_and_gradients_stay_close_to_fp32():
    model = DigitalTwinModel(CFG, generator=torch.Generator().manual_seed(0))
    loss32, grads32 = _loss_and_grads(model, "fp32")
    loss16, grads16 = _loss_and_grads(model, "bf16")
    assert loss16 != loss32  # autocast did change the arithmetic
    assert abs(loss16 - loss32) / loss32 < 2e-2
    for g16, g32 in zip(grads16, grads32, strict=True):
        cos = torch.nn.functional.cosine_similarity(g16.flatten(), g32.flatten(), dim=0)
        assert cos > 0.98


def test_cli_refuses_tf32_on_a_cpu(synth_root, tmp_path, capsys):
    from dtb.cli import main
    from dtb.data.prepare import prepare

    cache = prepare(synth_root, tmp_path / "cache", progress=False)
    argv = ["train", str(cache), "--out", str(tmp_path / "r"), "--device", "cpu"]
    assert main([*argv, "--precision", "tf32"]) == 1
    assert "precision tf32 is a CUDA option" in capsys.readouterr().err
    assert not (tmp_path / "r" / "checkpoint.pt").exists()
