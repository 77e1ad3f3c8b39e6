"""Numeric precision of training: fp32 (default), tf32 or bf16 autocast.

* ``fp32``: every product in float32 (the default, and the reference).
* ``tf32``: float32 tensors, but CUDA matrix products on TensorFloat-32 tensor cores (10-bit
  mantissa inputs, float32 accumulation).
* ``bf16``: ``torch.autocast`` to bfloat16 for the hypernetwork and the loss. The 262-step
  recurrence (:func:`dtb.recurrence.main_network`) always runs in float32: its hand-written
  backward through time accumulates over every step, where bfloat16's 8-bit mantissa would add
  error at each step.

``benchmarks/gpu_check.sh`` reports each precision's error against fp32 on the same batch
(loss, gradients, predicted RT) beside its speed; keep a faster precision only where that error
is small.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "tf32", "bf16")


def check_precision(precision: str, device: torch.device | str) -> None:
    """Refuse an unknown precision, or one the device has no use for.

    Raises
    ------
    ValueError
        ``tf32`` is a CUDA option (a CPU has no TF32 products). ``bf16`` autocast also runs on
        a CPU, where it is slower than fp32 and serves to test the code path.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision == "tf32" and torch.device(device).type != "cuda":
        raise ValueError(
            f"precision tf32 is a CUDA option; on {torch.device(device).type} use fp32"
        )


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device | str) -> Iterator[None]:
    """Run the enclosed forward (and the backward started inside it) at ``precision``.

    Restores the TF32 switches on exit.
    """
    check_precision(precision, device)
    if precision == "fp32":
        yield
        return
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        if precision == "tf32":
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            yield
        else:
            with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
                yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def float32_recurrence(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The recurrence's half-precision arguments in float32 (under bf16 autocast the generated
    weights arrive in bfloat16); float32 and float64 ones are left as they are."""
    low = (torch.bfloat16, torch.float16)
    return tuple(t.float() if t.dtype in low else t for t in tensors)
