"""Time one training batch of the digital twin at the paper's sizes.

One batch = forward + loss + backward + gradient-norm clipping + Adam step (+ the update of the
weights' moving average where the profile has one, ``ema_decay``), on B = 50 windows of
262 steps (20.96 s at 80 ms), FC of 93,961 features, hypernetwork 200 wide, RNN 400 units.
Cases:

* ``ours, grouped``: 5 participants x 10 windows; the hypernetwork runs on 5 rows and the windows
  of a participant share its weights (batches drawn participant by participant, as the trainer
  draws them);
* ``ours, per window``: 50 participants x 1 window (or the per-window mode: one FC row per window);
* ``naive``: the authors' reduced-code pattern: the hypernetwork on one FC row per window, then a
  Python loop over time around an ``nn.RNNCell`` and an ``nn.Linear`` readout applied per sample
  with ``torch.func.vmap`` + ``functional_call``, differentiated by autograd.

Printed per case: ms per batch (median and min over repeats, with the forward / backward /
clip+Adam split), peak memory (RSS on CPU, reset between cases through /proc/self/clear_refs
where the kernel allows; ``torch.cuda.max_memory_allocated`` on GPU), the batch's FLOPs counted
analytically, the measured fp32 matmul throughput (2048 x 2048), the floor time FLOPs /
throughput and ms per batch as a multiple of it. On CPU with glibc the two cases of ours are
timed again with the allocator keeping freed memory instead of returning it to the kernel
(``mallopt``): every batch allocates a few hundred MB of gradients, and fresh pages cost a page
fault each.

Usage::

    python benchmarks/train_step.py [--device cpu|cuda] [--repeats N] [--skip-naive]
                                    [--naive-repeats 1] [--threads 2]
                                    [--profile paper|twin|quick]
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import os
import platform
import resource
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, vmap

from dtb.model import DigitalTwinModel, ModelConfig, loss_fn, n_main_params, shift_inputs
from dtb.train import weight_average

T_STEPS = 262
N_WINDOWS = 50
CLIP_NORM = 0.05
LR = 1e-6  # the paper's; the time of a step does not depend on it


# ---------------------------------------------------------------------------------------------
# FLOPs, throughput, memory
# ---------------------------------------------------------------------------------------------


def batch_flops(cfg: ModelConfig, n_hyper_rows: int, n_windows: int, t_steps: int) -> dict:
    """Multiply-add FLOPs (2 per multiply-add) of one training batch, counted analytically.

    Forward: the hypernetwork once per FC row (for the pca design, the projection on the K
    components first), the RNN input, recurrent and readout products per window and step.
    Backward: a weight gradient for every learnt product, plus an input gradient for every
    product whose input needs one (not the FC, not the task inputs), i.e. about twice the
    forward. Element-wise work, the loss and Adam (memory-bound) are left out.
    """
    hh, p = cfg.hyper_hidden, n_main_params(cfg)
    h, i, o = cfg.n_hidden, cfg.n_input, cfg.n_output
    rows = n_windows * t_steps
    # the pca encoder projects the FC on K fixed components (no gradient to them or the FC)
    encode = cfg.n_fc * cfg.fc_components if cfg.fc_encoder == "pca" else 0
    learnt = cfg.n_encoded * hh + hh * hh + hh * p
    hyper_fwd = 2 * n_hyper_rows * (encode + learnt)
    hyper_bwd = 2 * n_hyper_rows * learnt + 2 * n_hyper_rows * (hh * hh + hh * p)
    rnn_fwd = 2 * rows * (i * h + h * h + h * o)
    rnn_bwd = rnn_fwd + 2 * rows * (h * h + o * h)
    return {
        "hypernetwork": hyper_fwd + hyper_bwd,
        "rnn": rnn_fwd + rnn_bwd,
        "total": hyper_fwd + hyper_bwd + rnn_fwd + rnn_bwd,
    }


def matmul_throughput(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """Measured fp32 matmul throughput in FLOP/s (median of ``repeats`` n x n products)."""
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=gen)
    b = torch.randn(n, n, device=device, generator=gen)
    out = torch.empty(n, n, device=device)
    times = []
    for _ in range(repeats + 2):
        _sync(device)
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times[2:])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PeakMemory:
    """Peak resident memory of the process (CPU) or peak allocated memory (CUDA), in bytes."""

    def __init__(self, device: torch.device):
        self.device = device
        self.resettable = False

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:  # "5" resets the peak RSS (VmHWM) of this process to its current RSS
            Path("/proc/self/clear_refs").write_text("5")
            self.resettable = True
        except OSError:
            self.resettable = False

    def peak(self) -> int:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device)
        status = Path("/proc/self/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        # ru_maxrss: kilobytes on Linux, bytes on macOS; peak over the process's lifetime.
        scale = 1 if platform.system() == "Darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    @property
    def label(self) -> str:
        if self.device.type == "cuda":
            return "peak CUDA allocated"
        return "peak RSS" if self.resettable else "peak RSS (process lifetime)"


def keep_freed_memory() -> bool:
    """Ask glibc to serve large blocks from its heap and keep freed memory (no page faults).

    ``M_MMAP_MAX = 0``: never use mmap for large blocks; ``M_TRIM_THRESHOLD`` huge: never give
    the heap's top back to the kernel. Returns False where it does not apply (not glibc).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    ok = libc.mallopt(m_mmap_max, 0) == 1
    ok &= libc.mallopt(m_trim_threshold, ctypes.c_int(2**31 - 1)) == 1
    return bool(ok)


# ---------------------------------------------------------------------------------------------
# The batch and the two implementations
# ---------------------------------------------------------------------------------------------


@dataclass
class Batch:
    fc: torch.Tensor  # (S, F)
    inputs: torch.Tensor  # (B, T, 9)
    owner: torch.Tensor  # (B,)
    action: torch.Tensor  # (B, T, 3)
    bold: torch.Tensor  # (B, T, 20)
    mask: torch.Tensor  # (B, T)


def make_batch(
    cfg: ModelConfig, n_part: int, per_part: int, device: torch.device, seed: int
) -> Batch:
    """Random data of the right shapes and scales: standardised FC, sparse 0/1 inputs."""
    gen = torch.Generator().manual_seed(seed)
    b = n_part * per_part
    batch = Batch(
        fc=torch.randn(n_part, cfg.n_fc, generator=gen),
        inputs=(torch.rand(b, T_STEPS, cfg.n_input, generator=gen) < 0.2).float(),
        owner=torch.arange(n_part).repeat_interleave(per_part),
        action=(torch.rand(b, T_STEPS, cfg.n_action, generator=gen) < 0.05).float(),
        bold=torch.randn(b, T_STEPS, cfg.n_bold, generator=gen),
        mask=torch.rand(b, T_STEPS, generator=gen) < 0.95,
    )
    return Batch(**{k: v.to(device) for k, v in vars(batch).items()})


def naive_forward(
    model: DigitalTwinModel,
    fc: torch.Tensor,
    inputs: torch.Tensor,
    owner: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' reduced-code pattern: per-sample cell through vmap, Python loop over time."""
    cfg = model.cfg
    # The hypernetwork on one FC row per window, as in the authors' code.
    params = model.hyper.split(model.hyper(fc[owner], generator=generator))
    with torch.device("meta"):  # modules only name the parameters; their values come from params
        cell = nn.RNNCell(cfg.n_input, cfg.n_hidden, nonlinearity="tanh")
        readout = nn.Linear(cfg.n_hidden, cfg.n_output)
    cell_params = {
        "weight_ih": params["W_ih"],
        "bias_ih": params["b_ih"],
        "weight_hh": params["W_hh"],
        "bias_hh": params["b_hh"],
    }
    out_params = {"weight": params["W_ho"], "bias": params["b_ho"]}

    def step(p_cell, p_out, x_t, h):
        h = functional_call(cell, p_cell, (x_t.unsqueeze(0), h.unsqueeze(0))).squeeze(0)
        return h, functional_call(readout, p_out, (h,))

    batched_step = vmap(step)
    x = shift_inputs(inputs)
    h = x.new_zeros(x.shape[0], cfg.n_hidden)
    ys = []
    for t in range(x.shape[1]):
        h, y = batched_step(cell_params, out_params, x[:, t], h)
        ys.append(y)
    y = torch.stack(ys, dim=1)
    return y[..., : cfg.n_action], y[..., cfg.n_action :]


def make_optimizer(model: nn.Module) -> tuple[torch.optim.Optimizer, str]:
    """Adam, fused where this torch build supports it on the device (fewer, in-place passes)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=LR, fused=True), "Adam(fused=True)"
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=LR, foreach=True), "Adam(foreach=True)"


def time_case(
    name: str,
    cfg: ModelConfig,
    n_part: int,
    per_part: int,
    device: torch.device,
    repeats: int,
    warmup: int,
    naive: bool = False,
    ema_decay: float = 0.0,
) -> dict:
    """Train ``warmup + repeats`` batches and time the last ``repeats``.

    With ``ema_decay`` > 0 each step also updates the weights' moving average, as the trainer does.
    """
    gc.collect()
    memory = PeakMemory(device)
    memory.reset()
    model = DigitalTwinModel(cfg, generator=torch.Generator().manual_seed(0))
    if model.hyper.encoder is not None:  # components of random "training participants"
        fit_on = torch.randn(cfg.fc_components + 1, cfg.n_fc, generator=torch.Generator())
        model.hyper.encoder.fit(fit_on)
    model = model.to(device)
    model.train()
    optimizer, opt_name = make_optimizer(model)
    averaged = weight_average(model, ema_decay)
    if averaged is not None:
        opt_name += f" + AveragedModel(EMA {ema_decay:g})"
    batch = make_batch(cfg, n_part, per_part, device, seed=1)
    dropout_gen = torch.Generator(device=device).manual_seed(2)
    forward = functools.partial(naive_forward, model) if naive else model
    steps = []
    throughput = None
    for i in range(warmup + repeats):
        if i == warmup:  # the machine's speed right now, for this case's floor
            throughput = matmul_throughput(device)
        _sync(device)
        t0 = time.perf_counter()
        logits, bold = forward(batch.fc, batch.inputs, batch.owner, generator=dropout_gen)
        loss, _ = loss_fn(logits, bold, batch.action, batch.bold, batch.mask)
        _sync(device)
        t1 = time.perf_counter()
        loss.backward()
        _sync(device)
        t2 = time.perf_counter()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if averaged is not None:
            averaged.update_parameters(model)
        _sync(device)
        t3 = time.perf_counter()
        if not torch.isfinite(loss):
            raise RuntimeError(f"{name}: non-finite loss at step {i}")
        if i >= warmup:
            steps.append((t3 - t0, t1 - t0, t2 - t1, t3 - t2))
    peak = memory.peak()
    total = [s[0] for s in steps]
    result = {
        "name": name,
        "grouping": f"{n_part * per_part} x 1" if naive else f"{n_part} x {per_part}",
        "hyper_rows": n_part * per_part if naive else n_part,
        "optimizer": opt_name,
        "ms": 1e3 * statistics.median(total),
        "ms_min": 1e3 * min(total),
        "fwd": 1e3 * statistics.median(s[1] for s in steps),
        "bwd": 1e3 * statistics.median(s[2] for s in steps),
        "opt": 1e3 * statistics.median(s[3] for s in steps),
        "peak_bytes": peak,
        "matmul_flops": throughput,
        "peak_label": memory.label,
    }
    del model, optimizer, averaged, batch, logits, bold, loss
    gc.collect()
    return result


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per case")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow naive reference")
    parser.add_argument("--naive-repeats", type=int, default=1, help="timed naive batches")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--profile",
        default="paper",
        choices=["paper", "twin", "quick"],
        help="model sizes and design: paper (dense encoder), twin (pca encoder, paper sizes)",
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    from dtb.config import TrainConfig

    train_cfg = TrainConfig.for_profile(args.profile)
    cfg = train_cfg.model_config(ModelConfig().n_fc)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads")
    print(
        f"profile {args.profile}: B = {N_WINDOWS} windows x {T_STEPS} steps, n_fc {cfg.n_fc}, "
        f"FC encoder {cfg.fc_encoder} ({cfg.n_encoded} inputs), hyper {cfg.hyper_hidden}, "
        f"RNN {cfg.n_hidden}, P = {n_main_params(cfg):,}"
    )
    if hasattr(os, "getloadavg"):
        print(f"load average before: {os.getloadavg()[0]:.2f} (a busy machine slows everything)")

    cases = [
        ("ours, grouped", 5, 10, {"ema_decay": train_cfg.ema_decay}),
        ("ours, per window", 50, 1, {"ema_decay": train_cfg.ema_decay}),
    ]
    if not args.skip_naive:
        cases.append(("naive (vmap RNNCell)", 5, 10, {"naive": True}))
    results = []
    for name, n_part, per_part, extra in cases:
        repeats = args.naive_repeats if extra.get("naive") else args.repeats
        warmup = 1 if extra.get("naive") else args.warmup
        results.append(time_case(name, cfg, n_part, per_part, device, repeats, warmup, **extra))
    if device.type == "cpu" and keep_freed_memory():
        for name, n_part, per_part, extra in cases[:2]:
            results.append(
                time_case(
                    name + ", malloc kept",
                    cfg,
                    n_part,
                    per_part,
                    device,
                    args.repeats,
                    args.warmup,
                    **extra,
                )
            )

    print()
    header = (
        f"{'case':<32}{'S x K':>8}{'ms/batch':>10}{'min':>8}{'fwd':>7}{'bwd':>7}{'opt':>6}"
        f"{'GFLOP':>7}{'GF/s':>6}{'floor':>7}{'x floor':>8}{'% GF/s':>7}{'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        flops = batch_flops(cfg, r["hyper_rows"], N_WINDOWS, T_STEPS)["total"]
        floor_ms = 1e3 * flops / r["matmul_flops"]
        r.update(gflop=flops / 1e9, floor_ms=floor_ms, floor_multiple=r["ms"] / floor_ms)
        print(
            f"{r['name']:<32}{r['grouping']:>8}{r['ms']:>10.0f}{r['ms_min']:>8.0f}{r['fwd']:>7.0f}"
            f"{r['bwd']:>7.0f}{r['opt']:>6.0f}{r['gflop']:>7.1f}{r['matmul_flops'] / 1e9:>6.0f}"
            f"{floor_ms:>7.0f}"
            f"{r['floor_multiple']:>8.1f}{100 / r['floor_multiple']:>7.0f}"
            f"{r['peak_bytes'] / 2**20:>9.0f}"
        )
    print()
    print(
        f"optimizer: {results[0]['optimizer']}, clip_grad_norm_({CLIP_NORM}); memory: "
        f"{results[0]['peak_label']}"
    )
    print(
        "GF/s = fp32 2048^2 matmul throughput measured just before the case; floor = analytic "
        "FLOPs / GF/s;\n% GF/s = the share of that throughput the step achieves; "
        "'opt' = clip + Adam + zero_grad\n(+ the weights' moving average where the profile "
        "keeps one); ms are medians over the timed batches"
    )
    if any(r["name"].endswith("malloc kept") for r in results):
        print("'malloc kept' peaks include heap memory kept from the cases before them")
    if hasattr(os, "getloadavg"):
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    naive = [r for r in results if r["name"].startswith("naive")]
    if naive:
        for r in results:
            if r["name"].startswith("ours"):
                print(f"naive / {r['name']}: {naive[0]['ms'] / r['ms']:.1f}x")


if __name__ == "__main__":
    main()
