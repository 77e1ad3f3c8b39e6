"""Data-parallel training over processes (``torchrun``), with one global batch definition.

``torchrun --nproc_per_node N -m dtb train CACHE --out RUN ...`` starts N copies of the same
training; each finds its rank in the environment torchrun sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) and joins a process group (NCCL on CUDA, gloo
on CPU). Every rank draws the same global batches (:func:`dtb.train.epoch_batches` depends only
on the seed and the epoch); a batch's participant groups are dealt round-robin to the ranks. Each
rank generates the weights of all the batch's participants with the same dropout mask, runs the
RNN on its own windows only, and scales its summed loss by the global counts, so that the
gradient DistributedDataParallel averages is the gradient of the one-process loss. Rank 0 alone
writes checkpoints and logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Context:
    """Where this process stands: rank, number of ranks, whether a group was joined."""

    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment() -> Context:
    """The context torchrun describes in the environment (one process without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return Context(rank, world)


def setup(ctx: Context, device: torch.device) -> torch.device:
    """Join the process group (once) and return this rank's device."""
    import torch.distributed as dist

    if not ctx.active:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def teardown(ctx: Context) -> None:
    """Leave the process group."""
    import torch.distributed as dist

    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()


def shard(batch: np.ndarray, group_size: int, ctx: Context) -> np.ndarray:
    """This rank's windows of a global batch: participant groups dealt round-robin.

    Parameters
    ----------
    batch : ndarray of int, shape (n_groups * group_size,)
        Window indices, consecutive groups of ``group_size`` windows of one participant
        (:func:`dtb.train.epoch_batches`).

    Returns
    -------
    windows : ndarray of int
        Possibly empty when the batch has fewer groups than ranks.
    """
    if len(batch) % group_size:
        raise ValueError(f"a batch of {len(batch)} windows is not made of groups of {group_size}")
    groups = batch.reshape(-1, group_size)
    return groups[ctx.rank :: ctx.world].reshape(-1)


def all_sum(values: torch.Tensor, ctx: Context) -> torch.Tensor:
    """Sum a tensor over ranks (a copy; the input is untouched)."""
    import torch.distributed as dist

    out = values.detach().clone()
    if ctx.active:
        dist.all_reduce(out)
    return out
