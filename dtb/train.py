"""``dtb train``: fit the hypernetwork (or a control) on a prepared cohort.

Windows of 262 steps are cut from each participant's training part (both tasks). The last
window of each participant and task is held out for validation and early stopping (or, under
zero-shot with ``val_participants`` > 0, every window of participants held out whole). A batch
holds ``participants_per_batch`` participants x ``windows_per_participant`` windows, so the
hypernetwork runs once per participant per batch and one generated weight set serves several
windows (paper sizes: 6 x 8 = 48 windows, close to the paper's 50; quick: 12 x 8). Loss: BCE
(actions, masked where the pressed key is unknown) + MSE (BOLD), Adam, gradient-norm clipping.
With ``ema_decay`` > 0 the weights validated and kept as ``best.pt`` are an exponential moving
average of the trained ones (:class:`torch.optim.swa_utils.AveragedModel`).

Runs are reproducible and resumable: the batch order of epoch e and the dropout noise of step s
come from generators seeded by (seed, e) and (seed, s), so an interrupted run resumed from its
checkpoint reaches the same weights as an uninterrupted one. Checkpoints carry the configs, the
code version, the cohort's hash and the seed, are written atomically, and are loaded with
``torch.load(weights_only=True)``; a checkpoint from another config or cohort is refused.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from dtb import distributed
from dtb.config import TrainConfig
from dtb.data.prepare import PreparedCohort, load_prepared
from dtb.errors import DtbError
from dtb.fileio import ensure_outside, write_json, write_text
from dtb.model import ACTION_WEIGHT, loss_fn, loss_sums, weighted_loss
from dtb.network import (
    Network,
    build_network,
    check_compatible,
    fitted_participants,
    identity,
    load_checkpoint,
    network_from_checkpoint,
    resolve_device,
    save_checkpoint,
)
from dtb.precision import check_precision, precision_context
from dtb.progress import tqdm
from dtb.protocols import fc_source
from dtb.provenance import code_version
from dtb.tasks import TASK_NAMES

__all__ = [
    "TASK_NAMES",
    "TrainConfig",
    "TrainingDiverged",
    "load_checkpoint",
    "network_from_checkpoint",
    "resolve_device",
    "train",
]


class TrainingDiverged(DtbError):
    """The loss became NaN/Inf; the message says at which epoch, step and batch."""


# --------------------------------------------------------------------------------------------
# windows and batches


@dataclass(frozen=True)
class WindowTable:
    """Every window of the cohort: participant row, task index, start step, validation flag."""

    participant: np.ndarray
    task: np.ndarray
    start: np.ndarray
    is_val: np.ndarray


def window_table(
    cohort: PreparedCohort, rows: np.ndarray, val_rows: np.ndarray | None = None
) -> WindowTable:
    """Training and validation windows of the given participants.

    Without ``val_rows`` the last window of each participant and task is for validation (the
    paper's within-participant split). With ``val_rows``, every window of those participants
    is for validation and none of theirs is trained on: early stopping then measures
    generalisation to unseen people, as the zero-shot protocol needs.
    """
    val_set = set(() if val_rows is None else np.asarray(val_rows).tolist())
    starts = cohort["window_starts"]
    if len(starts) < 2:
        raise ValueError(f"{cohort.path}: need at least 2 windows per run (1 for validation)")
    p, t, s, v = [], [], [], []
    for i in rows:
        for ti, task in enumerate(TASK_NAMES):
            if not cohort[f"{task}_present"][i]:
                continue
            for k, st in enumerate(starts):
                is_val = (i in val_set) if val_rows is not None else k == len(starts) - 1
                p.append(i), t.append(ti), s.append(st), v.append(is_val)
    if not p:
        raise ValueError(f"{cohort.path}: no participant with a task run among the training rows")
    return WindowTable(np.array(p), np.array(t), np.array(s), np.array(v))


def epoch_batches(table: WindowTable, cfg: TrainConfig, epoch: int) -> list[np.ndarray]:
    """The batches of one epoch, as arrays of window indices grouped by participant.

    Each participant's training windows are shuffled and cut into groups of
    ``windows_per_participant`` (a short remainder group is dropped this epoch and reshuffled
    the next); groups are shuffled and packed ``participants_per_batch`` to a batch.
    """
    g = np.random.default_rng([cfg.seed, epoch, 1])
    train = np.flatnonzero(~table.is_val)
    groups = []
    for i in np.unique(table.participant[train]):
        idx = g.permutation(train[table.participant[train] == i])
        k = cfg.windows_per_participant
        groups.extend(idx[j : j + k] for j in range(0, len(idx) - k + 1, k))
    if not groups:
        raise ValueError(
            f"no participant has {cfg.windows_per_participant} training windows; "
            "lower windows_per_participant"
        )
    order = g.permutation(len(groups))
    s = cfg.participants_per_batch
    return [np.concatenate([groups[j] for j in order[b : b + s]]) for b in range(0, len(order), s)]


class CohortTensors:
    """The cohort's arrays as tensors on one device, and window gathering."""

    def __init__(self, cohort: PreparedCohort, fc_rows: np.ndarray, device: torch.device):
        self.device = device
        self.fc = torch.from_numpy(cohort["fc"][fc_rows]).to(device)
        self.window = int(cohort.meta["config"]["window"])
        stack = lambda name: torch.from_numpy(  # noqa: E731
            np.stack([cohort[f"{t}_{name}"] for t in TASK_NAMES], axis=1)
        ).to(device)
        self.inputs = stack("inputs")  # (n, 2, S, 9)
        self.actions = stack("actions")
        self.mask = stack("mask")
        self.bold = stack("bold")

    def batch(self, table: WindowTable, idx: np.ndarray):
        """Tensors of a batch: fc (P, F), inputs (B, T, 9), owner (B,), targets and mask."""
        parts, owner = np.unique(table.participant[idx], return_inverse=True)
        offs = torch.arange(self.window, device=self.device)
        pi = torch.as_tensor(table.participant[idx], device=self.device)[:, None]
        ti = torch.as_tensor(table.task[idx], device=self.device)[:, None]
        si = torch.as_tensor(table.start[idx], device=self.device)[:, None] + offs
        return (
            self.fc[torch.as_tensor(parts, device=self.device)],
            self.inputs[pi, ti, si],
            torch.as_tensor(owner, device=self.device),
            self.actions[pi, ti, si],
            self.bold[pi, ti, si],
            self.mask[pi, ti, si],
        )


# --------------------------------------------------------------------------------------------
# the loop


def _optimizer(network: Network, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    first = [p for n, p in network.named_parameters() if n.startswith("core.hyper.fc1.")]
    first_ids = {id(p) for p in first}
    rest = [p for p in network.parameters() if id(p) not in first_ids]
    groups = [{"params": rest, "lr": cfg.lr}]
    if first:
        groups.append({"params": first, "lr": cfg.lr_first_layer})
    for g in groups:
        g["weight_decay"] = cfg.weight_decay
    # fused Adam avoids per-step temporaries of the size of the hypernetwork (performance notes)
    return torch.optim.AdamW(groups, fused=True)


def _step_generator(cfg: TrainConfig, step: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(cfg.seed * 1_000_003 + step)
    return g


@torch.no_grad()
def validation_loss(
    network: Network,
    data: CohortTensors,
    table: WindowTable,
    batch: int = 64,
    action_weight: float = ACTION_WEIGHT,
) -> float:
    """Mean loss over the validation windows (eval mode, no dropout), weighted as in training."""
    network.eval()
    idx = np.flatnonzero(table.is_val)
    total, count = 0.0, 0
    for j in range(0, len(idx), batch):
        fc, x, owner, a, y, m = data.batch(table, idx[j : j + batch])
        logits, bold = network(fc, x, owner)
        loss, _ = loss_fn(logits, bold, a, y, m, action_weight)
        total += float(loss) * len(x)
        count += len(x)
    network.train()
    return total / count


def train(
    cache: Path | str,
    out: Path | str,
    config: TrainConfig | None = None,
    *,
    device: str = "auto",
    resume: bool = False,
    max_steps: int | None = None,
    progress: bool = True,
) -> Path:
    """Train a network on a prepared cohort; return the run folder.

    Parameters
    ----------
    cache : path-like
        Prepared cohort (``dtb prepare``).
    out : path-like
        Run folder: ``checkpoint.pt`` (latest), ``best.pt`` (lowest validation loss),
        ``log.tsv`` (one row per step), ``run.json`` (configs, provenance, outcome).
    config : TrainConfig, optional
        Default: ``TrainConfig()`` (the quick profile).
    device : {"auto", "cpu", "cuda"}
    resume : bool
        Continue from ``out/checkpoint.pt`` (must match config and cohort).
    max_steps : int, optional
        Stop after this many optimiser steps in total (a checkpoint is written first).
    progress : bool

    Raises
    ------
    TrainingDiverged
        On a NaN/Inf loss; the last good checkpoint is kept.
    ValueError
        On a bad config, an existing run without ``resume``, or an incompatible checkpoint.
    """
    config = config if config is not None else TrainConfig()
    config.validate()
    cache, out = Path(cache), Path(out)
    cohort = load_prepared(cache)
    ensure_outside(out, Path(cohort.meta["root"]))
    ctx = distributed.from_environment()
    if ctx.active and config.control == "direct-input":
        raise ValueError("the direct-input ablation trains in one process only (no torchrun)")
    dev = distributed.setup(ctx, resolve_device(device))
    check_precision(config.precision, dev)
    try:
        return _train(cache, out, cohort, config, dev, ctx, resume, max_steps, progress)
    finally:
        distributed.teardown(ctx)


def _distributed_step(model, data, table, idx, config, generator, ctx):
    """Forward and backward of this rank's share of a global batch (see dtb.distributed).

    Returns the loss of the whole global batch and its two parts, equal on every rank.
    """
    parts_all = np.unique(table.participant[idx])
    fc = data.fc[torch.as_tensor(parts_all, device=data.device)]
    mine = distributed.shard(idx, config.windows_per_participant, ctx)
    weight = 1.0
    if len(mine) == 0:  # fewer groups than ranks: run one window with no weight, for the sync
        mine, weight = idx[:1], 0.0
    _, x, owner, a, y, m = data.batch(table, mine)
    keep = torch.as_tensor(
        np.searchsorted(parts_all, np.unique(table.participant[mine])), device=fc.device
    )
    with precision_context(config.precision, fc.device):
        logits, bold = model(fc, x, owner, generator=generator, keep=keep)
        a_sum, b_sum, n_a, n_b = loss_sums(logits.float(), bold.float(), a, y, m)
    # the global batch's counts (unmasked action targets, BOLD values): the sum over ranks
    n_action, n_bold = distributed.all_sum(torch.stack([n_a, n_b]).to(y.dtype) * weight, ctx)
    local = torch.stack([a_sum / n_action.clamp_min(1), b_sum / n_bold]) * weight
    # DDP averages gradients over ranks: scaling by the world size makes it their sum
    (weighted_loss(local[0], local[1], config.action_weight) * ctx.world).backward()
    both = distributed.all_sum(local, ctx)
    total = weighted_loss(both[0], both[1], config.action_weight)
    return total, {"action": both[0], "bold": both[1]}


@dataclass
class RunSetup:
    """A run's participants, windows, tensors, network and identity, before the first step."""

    train_rows: np.ndarray
    val_rows: np.ndarray | None
    table: WindowTable
    data: CohortTensors
    network: Network
    ident: dict
    averaged: AveragedModel | None = None

    @property
    def evaluated(self) -> Network:
        """The weights validated and kept as ``best.pt``: the moving average, when there is one."""
        return self.network if self.averaged is None else self.averaged.module


def setup_run(
    cache: Path, cohort: PreparedCohort, config: TrainConfig, dev: torch.device
) -> RunSetup:
    """Split the participants, cut the windows, and build the network fitted to its inputs.

    The FC normalisation and the FC encoder are fitted on the training participants' FC only
    (the FC each one is given: another participant's under the shuffle control).
    """
    n = len(cohort.participants)
    fc_all = cohort["fc"]
    if not np.isfinite(fc_all).all():
        raise ValueError(f"{cache}: FC holds NaN/Inf")
    model_cfg = config.model_config(fc_all.shape[1])
    train_rows, val_rows = config.participant_split(n)
    src = fc_source(config.control, n, config.shuffle_shift)
    rows = train_rows if val_rows is None else np.union1d(train_rows, val_rows)
    table = window_table(cohort, rows, val_rows)
    data = CohortTensors(cohort, src, dev)
    network = build_network(config, model_cfg, torch.Generator().manual_seed(config.seed))
    where = f"{config.protocol} run, fold {config.fold}" if val_rows is not None else cache.name
    network.fit_inputs(torch.from_numpy(fc_all[src[train_rows]]), where=where)
    ident = identity(config, model_cfg, cohort.key, fitted_participants(config, cohort))
    network = network.to(dev)
    averaged = weight_average(network, config.ema_decay)
    return RunSetup(train_rows, val_rows, table, data, network, ident, averaged)


def weight_average(network: nn.Module, decay: float) -> AveragedModel | None:
    """The exponential moving average of ``network``'s parameters, or None when ``decay`` is 0.

    Update it with ``update_parameters(network)`` after each optimiser step. Buffers (the FC
    statistics and encoder) are fixed before training, so they are copied once, not averaged.
    """
    if decay <= 0:
        return None
    return AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(decay))


def _initial_state() -> dict:
    return {
        "epoch": 0,
        "batch": 0,
        "step": 0,
        "best_val": math.inf,
        "bad_epochs": 0,
        "history": [],
        "stopped": None,
    }


def _restore(out: Path, resume: bool, run: RunSetup, optimizer, dev) -> dict:
    """The state to start from: fresh, or the checkpoint of ``out`` when resuming."""
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not resume:
        raise ValueError(
            f"{out} already holds a run; pass --resume to continue it or choose a new --out"
        )
    if not resume:
        return _initial_state()
    blob = load_checkpoint(ckpt, map_location=dev)
    check_compatible(blob, run.ident, ckpt)
    run.network.load_state_dict(blob["model"])
    optimizer.load_state_dict(blob["optimizer"])
    if run.averaged is not None:
        run.averaged.load_state_dict(blob["ema"])
    return blob["state"]


def _write_log(out: Path, history: list[dict]) -> None:
    cols = ["step", "epoch", "loss", "action", "bold", "val_loss", "seconds"]
    lines = ["\t".join(cols)] + [
        "\t".join(
            "" if r.get(c) is None else f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c])
            for c in cols
        )
        for r in history
    ]
    write_text(out / "log.tsv", "\n".join(lines) + "\n")


def _step(model, run: RunSetup, idx, config, optimizer, gen, ctx) -> tuple[torch.Tensor, dict]:
    """One optimiser step on the windows ``idx``; returns the loss and its parts."""
    optimizer.zero_grad(set_to_none=True)
    if ctx.active:
        loss, parts = _distributed_step(model, run.data, run.table, idx, config, gen, ctx)
    else:
        fc, x, owner, a, y, m = run.data.batch(run.table, idx)
        with precision_context(config.precision, fc.device):
            logits, bold = run.network(fc, x, owner, generator=gen)
            loss, parts = loss_fn(logits.float(), bold.float(), a, y, m, config.action_weight)
    if torch.isfinite(loss):
        if not ctx.active:
            loss.backward()
        nn.utils.clip_grad_norm_(run.network.parameters(), config.clip_norm)
        optimizer.step()
        if run.averaged is not None:
            run.averaged.update_parameters(run.network)
    return loss, parts


def _end_epoch(run: RunSetup, state: dict, config: TrainConfig, out: Path, dev, ctx) -> None:
    """Validation loss, best checkpoint and early-stopping bookkeeping after an epoch."""
    val = validation_loss(run.evaluated, run.data, run.table, action_weight=config.action_weight)
    if ctx.active:  # identical on every rank in exact arithmetic; one value decides for all
        total = distributed.all_sum(torch.tensor(val, dtype=torch.float64, device=dev), ctx)
        val = float(total) / ctx.world
    if not math.isfinite(val):
        raise TrainingDiverged(f"validation loss became {val} after epoch {state['epoch']}")
    state["history"][-1]["val_loss"] = val
    state["epoch"] += 1
    state["batch"] = 0
    if val < state["best_val"]:
        state["best_val"], state["bad_epochs"] = val, 0
        if ctx.is_main:
            save_checkpoint(out / "best.pt", run.evaluated, None, state, run.ident)
    else:
        state["bad_epochs"] += 1
    if state["bad_epochs"] >= config.patience:
        state["stopped"] = "early-stopping"


def _train(cache, out, cohort, config, dev, ctx, resume, max_steps, progress) -> Path:
    run = setup_run(cache, cohort, config, dev)
    optimizer = _optimizer(run.network, config, dev)
    model = run.network
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(run.network)
    ckpt = out / "checkpoint.pt"
    state = _restore(out, resume, run, optimizer, dev)
    if state.get("stopped") in ("early-stopping", "max-epochs"):
        return out
    state["stopped"] = None  # a run cut short by max_steps goes on
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)

    def checkpoint() -> None:
        if ctx.is_main:
            save_checkpoint(ckpt, run.network, optimizer, state, run.ident, run.averaged)
            _write_log(out, state["history"])

    run.network.train()
    t0 = time.perf_counter()
    bar = tqdm(
        total=config.max_epochs,
        initial=state["epoch"],
        desc=f"train {config.fc_encoder} {config.protocol}/{config.control}",
        unit="epoch",
        disable=not (progress and ctx.is_main),
    )
    while state["epoch"] < config.max_epochs and state["stopped"] is None:
        batches = epoch_batches(run.table, config, state["epoch"])
        while state["batch"] < len(batches):
            if max_steps is not None and state["step"] >= max_steps:
                state["stopped"] = "max-steps"
                break
            gen = _step_generator(config, state["step"], dev)
            loss, parts = _step(model, run, batches[state["batch"]], config, optimizer, gen, ctx)
            if not torch.isfinite(loss):
                bar.close()
                raise TrainingDiverged(
                    f"loss became {loss.item()} at epoch {state['epoch']}, step {state['step']}, "
                    f"batch {state['batch']}; the last good checkpoint is kept in {ckpt}"
                )
            state["step"] += 1
            state["batch"] += 1
            state["history"].append(
                {
                    "step": state["step"],
                    "epoch": state["epoch"],
                    "loss": loss.item(),
                    "action": float(parts["action"]),
                    "bold": float(parts["bold"]),
                    "val_loss": None,
                    "seconds": time.perf_counter() - t0,
                }
            )
            if state["step"] % config.checkpoint_every == 0:
                checkpoint()
        if state["stopped"] == "max-steps":
            break
        _end_epoch(run, state, config, out, dev, ctx)
        bar.update(1)
        bar.set_postfix(
            loss=f"{state['history'][-1]['loss']:.4f}",
            val=f"{state['history'][-1]['val_loss']:.4f}",
        )
    if state["stopped"] is None:
        state["stopped"] = "max-epochs"
    checkpoint()
    bar.close()
    if ctx.is_main:
        _write_run(out, run.ident, state, cache, dev)
    return out


def _write_run(out: Path, ident: dict, state: dict, cache: Path, dev: torch.device) -> None:
    write_json(
        out / "run.json",
        {
            **ident,
            "code_version": code_version(),
            "cache": str(cache.resolve()),
            "device": str(dev),
            "steps": state["step"],
            "epochs": state["epoch"],
            "best_val_loss": state["best_val"] if math.isfinite(state["best_val"]) else None,
            "stopped": state["stopped"],
        },
    )
