"""Time and memory of SmoothGrad (``dtb.smoothgrad.smoothgrad``) at the paper's sizes.

The paper's connectome-target analysis takes 100 noisy copies of each of 228 participants' FC
(93,961 edges) through the hypernetwork (93,961 -> 200 -> 200 -> 173,623) and back. The copies are
processed ``chunk`` at a time, so the working memory is set by the chunk, not by the cohort.
For each case this prints the time, the process's resident memory before (model + the cohort's
FC) and at its peak, and the peak increase, which should not grow with the number of
participants.

Usage::

    python benchmarks/smoothgrad.py [--participants 57 228] [--chunks 25 100] [--copies 100]
                                    [--device cpu|cuda] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import PeakMemory  # noqa: E402

from dtb.config import TrainConfig  # noqa: E402
from dtb.model import ModelConfig  # noqa: E402
from dtb.network import build_network  # noqa: E402
from dtb.smoothgrad import smoothgrad  # noqa: E402


def current_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, nargs="+", default=[57, 228])
    ap.add_argument("--chunks", type=int, nargs="+", default=[25, 100])
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    cfg = ModelConfig.profile("paper")
    net = build_network(TrainConfig.for_profile("paper"), cfg, torch.Generator().manual_seed(0))
    net = net.to(dev).eval()
    u = torch.randn(net.core.hyper.n_params)
    rng = np.random.default_rng(0)
    fc = rng.normal(scale=0.3, size=(max(args.participants), cfg.n_fc)).astype(np.float32)
    mem = PeakMemory(dev)
    flops_per_copy = 4 * (cfg.n_fc * cfg.hyper_hidden + cfg.hyper_hidden**2)
    flops_per_copy += 4 * cfg.hyper_hidden * net.core.hyper.n_params
    print(
        f"device {dev}, {args.threads} threads; paper sizes: FC {cfg.n_fc:,}, "
        f"generated weights {net.core.hyper.n_params:,}; {args.copies} copies per participant"
    )
    print(
        f"{'participants':>12} {'chunk':>6} {'seconds':>8} {'GFLOP/s':>8} "
        f"{'RSS before':>11} {'peak':>9} {'increase':>9}"
    )
    for n in args.participants:
        for chunk in args.chunks:
            before = current_rss()
            mem.reset()
            t0 = time.perf_counter()
            smoothgrad(net, fc[:n], u, copies=args.copies, chunk=chunk, rng=rng)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            dt = time.perf_counter() - t0
            peak = mem.peak()
            gflops = flops_per_copy * n * args.copies / dt / 1e9
            print(
                f"{n:>12} {chunk:>6} {dt:>8.1f} {gflops:>8.0f} {before / 2**20:>8.0f} MiB "
                f"{peak / 2**20:>5.0f} MiB {(peak - before) / 2**20:>5.0f} MiB"
                + ("" if mem.resettable or dev.type == "cuda" else " (lifetime peak)")
            )


if __name__ == "__main__":
    main()
