"""``dtb train``: fit the hypernetwork (or a control) on a prepared cohort.

Windows of 262 steps are cut from each participant's training part (both tasks). The last
window of each participant and task is held out for validation and early stopping. A batch
holds ``participants_per_batch`` participants x ``windows_per_participant`` windows, so the
hypernetwork runs once per participant per batch and one generated weight set serves several
windows (6 x 8 = 48 windows, close to the paper's 50). Loss: BCE (actions, masked where the
pressed key is unknown) + MSE (BOLD), Adam, gradient-norm clipping.

Runs are reproducible and resumable: the batch order of epoch e and the dropout noise of step s
come from generators seeded by (seed, e) and (seed, s), so an interrupted run resumed from its
checkpoint reaches the same weights as an uninterrupted one. Checkpoints carry the configs, the
code version, the cohort's hash and the seed, are written atomically, and are loaded with
``torch.load(weights_only=True)``; a checkpoint from another config or cohort is refused.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from dtb import distributed
from dtb.data.prepare import PreparedCohort, load_prepared
from dtb.errors import DtbError
from dtb.fileio import atomic_path, ensure_outside, write_json, write_text
from dtb.model import DigitalTwinModel, ModelConfig, loss_fn
from dtb.protocols import CONTROLS, PROTOCOLS, fc_source, training_participants
from dtb.provenance import code_version

TASK_NAMES = ("faces", "stroop")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the data.

    Attributes
    ----------
    profile : {"quick", "paper"}
        Model sizes (:meth:`dtb.model.ModelConfig.profile`) and training defaults.
    protocol : {"paper", "zero-shot"}
        See :mod:`dtb.protocols`.
    control : {"none", "shuffle", "direct-input"}
        See :mod:`dtb.protocols`.
    fold, n_folds : int
        Zero-shot fold held out, and the number of folds.
    shuffle_shift : int
        Cyclic shift of the FC-shuffle control.
    direct_input_dims : int
        Principal components of the FC fed to the direct-input control.
    participants_per_batch, windows_per_participant : int
        Batch = participants x windows each.
    lr : float
        Adam learning rate of every parameter but the hypernetwork's first layer.
    lr_first_layer : float
        Learning rate of the hypernetwork's first layer, which sees 93,961 inputs: with the same
        rate as the rest, Adam moves its pre-activations by about ``lr * sum(abs(fc))`` per
        step and the run diverges within a few steps.
    weight_decay : float
        Decoupled weight decay (AdamW, applied as lr x weight_decay per step). With a few dozen
        participants and 93,961 FC features the hypernetwork can memorise people; decay keeps it
        to a smoother mapping that generalises to unseen ones. ``quick`` uses 1.0; ``paper``
        uses 0 (plain Adam, as the paper).
    val_participants : float
        Zero-shot only: fraction of the training participants held out whole for validation
        and early stopping (generalisation to unseen people), instead of each participant's
        last window.
    clip_norm : float
        Gradient-norm clipping.
    max_epochs, patience : int
        Early stopping: stop when the validation loss has not improved for ``patience`` epochs.
    checkpoint_every : int
        Steps between checkpoints (also written at every epoch's end).
    seed : int
    """

    profile: str = "quick"
    protocol: str = "paper"
    control: str = "none"
    fold: int = 0
    n_folds: int = 5
    shuffle_shift: int = 1
    direct_input_dims: int = 16
    participants_per_batch: int = 6
    windows_per_participant: int = 8
    lr: float = 1e-3
    lr_first_layer: float = 1e-5
    weight_decay: float = 1.0
    val_participants: float = 0.2
    clip_norm: float = 1.0
    max_epochs: int = 60
    patience: int = 8
    checkpoint_every: int = 50
    seed: int = 0

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> TrainConfig:
        """Defaults of a profile (``quick`` for CPU minutes, ``paper`` for the paper's sizes)."""
        if profile == "quick":
            base = cls(profile="quick")
        elif profile == "paper":
            base = cls(
                profile="paper",
                lr=3e-4,
                weight_decay=0.0,
                max_epochs=800,
                patience=30,
                checkpoint_every=200,
            )
        else:
            raise ValueError(f"unknown profile {profile!r}; choose quick or paper")
        return replace(base, **overrides)

    def validate(self) -> None:
        """Raise ``ValueError`` on an inconsistent config."""
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"unknown protocol {self.protocol!r}; choose from {', '.join(PROTOCOLS)}"
            )
        if self.control not in CONTROLS:
            raise ValueError(f"unknown control {self.control!r}; choose from {', '.join(CONTROLS)}")
        for name in (
            "participants_per_batch",
            "windows_per_participant",
            "max_epochs",
            "checkpoint_every",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not (self.lr > 0 and self.lr_first_layer > 0 and self.clip_norm > 0):
            raise ValueError("learning rates and clip_norm must be positive")


class TrainingDiverged(DtbError):
    """The loss became NaN/Inf; the message says at which epoch, step and batch."""


class Network(nn.Module):
    """FC normalisation (training participants' feature mean/SD) in front of a core model.

    ``forward(fc, inputs, owner)`` takes raw Fisher-z FC rows, so a twin can be generated from
    any participant's FC with the statistics the model was trained with.
    """

    def __init__(self, core: nn.Module, n_fc: int):
        super().__init__()
        self.core = core
        self.register_buffer("fc_mean", torch.zeros(n_fc))
        self.register_buffer("fc_sd", torch.ones(n_fc))

    def normalise(self, fc: torch.Tensor) -> torch.Tensor:
        """(fc - mean) / sd with the training statistics."""
        return (fc - self.fc_mean) / self.fc_sd

    def forward(
        self,
        fc,
        inputs,
        owner,
        generator: torch.Generator | None = None,
        keep: torch.Tensor | None = None,
    ):
        """Actions and BOLD of windows; ``owner`` indexes ``fc``, or ``keep`` when given.

        ``keep`` (int64, shape (S',)) selects, after all rows of ``fc`` went through the
        hypernetwork (one dropout draw for all of them), the participants these windows belong
        to: a data-parallel rank runs only its share of a batch yet sees the batch's dropout.
        """
        if keep is None:
            return self.core(self.normalise(fc), inputs, owner, generator=generator)
        params = self.core.generate(self.normalise(fc), generator=generator)
        params = {name: p.index_select(0, keep) for name, p in params.items()}
        return self.core.run_main(params, inputs, owner)


def build_network(
    train_cfg: TrainConfig, model_cfg: ModelConfig, generator: torch.Generator | None = None
) -> Network:
    """An untrained network for a config, initialised from ``generator``."""
    if train_cfg.control == "direct-input":
        from dtb.ablation import DirectInputModel

        core = DirectInputModel(model_cfg, train_cfg.direct_input_dims, generator=generator)
    else:
        core = DigitalTwinModel(model_cfg, generator=generator)
    return Network(core, model_cfg.n_fc)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; choose auto, cpu or cuda")
    return torch.device(device)


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
# checkpoints


def _identity(train_cfg: TrainConfig, model_cfg: ModelConfig, cohort_key: str) -> dict:
    return {
        "train_config": asdict(train_cfg),
        "model_config": asdict(model_cfg),
        "data_key": cohort_key,
    }


def save_checkpoint(path: Path, network: Network, optimizer, state: dict, ident: dict) -> None:
    """Write a checkpoint atomically."""
    blob = {
        "format": 1,
        "model": network.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "state": state,
        "code_version": code_version(),
        **ident,
    }
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def load_checkpoint(path: Path | str, map_location="cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``); raise ``ValueError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: checkpoint not found")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt or foreign file
        raise ValueError(f"{path}: not a readable dtb checkpoint ({exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != 1 or "model" not in blob:
        raise ValueError(f"{path}: not a dtb checkpoint")
    return blob


def check_compatible(blob: dict, ident: dict, path: Path) -> None:
    """Refuse a checkpoint made with another config or cohort."""
    if blob.get("data_key") != ident["data_key"]:
        raise ValueError(
            f"{path}: checkpoint was trained on cohort {str(blob.get('data_key'))[:16]}, "
            f"not on this one ({ident['data_key'][:16]}); use a new --out folder"
        )
    for key in ("train_config", "model_config"):
        old, new = blob.get(key, {}), ident[key]
        diff = sorted(
            k for k in set(old) | set(new) if old.get(k) != new.get(k) and k != "max_epochs"
        )
        if diff:
            detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
            raise ValueError(f"{path}: checkpoint has another {key.replace('_', ' ')} ({detail})")


def network_from_checkpoint(
    blob: dict, device: str | torch.device = "cpu"
) -> tuple[Network, TrainConfig, ModelConfig]:
    """Rebuild the trained network of a checkpoint (in eval mode)."""
    missing = [f.name for f in fields(TrainConfig) if f.name not in blob.get("train_config", {})]
    if missing:
        raise ValueError(
            f"checkpoint written by dtb {blob.get('code_version')} lacks config field(s) "
            f"{', '.join(missing)}: retrain it with this version"
        )
    tc = TrainConfig(**{f.name: blob["train_config"][f.name] for f in fields(TrainConfig)})
    mc = ModelConfig(**blob["model_config"])
    net = build_network(tc, mc)
    net.load_state_dict(blob["model"])
    return net.to(device).eval(), tc, mc


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
    network: Network, data: CohortTensors, table: WindowTable, batch: int = 64
) -> float:
    """Mean loss over the validation windows (eval mode, no dropout)."""
    network.eval()
    idx = np.flatnonzero(table.is_val)
    total, count = 0.0, 0
    for j in range(0, len(idx), batch):
        fc, x, owner, a, y, m = data.batch(table, idx[j : j + batch])
        logits, bold = network(fc, x, owner)
        loss, _ = loss_fn(logits, bold, a, y, m)
        total += float(loss) * len(x)
        count += len(x)
    network.train()
    return total / count


def train(
    cache: Path | str,
    out: Path | str,
    config: TrainConfig = TrainConfig(),
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
    config : TrainConfig
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
    config.validate()
    cache, out = Path(cache), Path(out)
    cohort = load_prepared(cache)
    ensure_outside(out, Path(cohort.meta["root"]))
    ctx = distributed.from_environment()
    if ctx.active and config.control == "direct-input":
        raise ValueError("the direct-input ablation trains in one process only (no torchrun)")
    dev = distributed.setup(ctx, resolve_device(device))
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
    # the global batch's counts (unmasked action targets, BOLD values): the sum over ranks
    counts = torch.stack([m.sum() * a.shape[-1], torch.tensor(y.numel(), device=y.device)])
    n_action, n_bold = distributed.all_sum(counts.to(y.dtype) * weight, ctx)
    keep = torch.as_tensor(
        np.searchsorted(parts_all, np.unique(table.participant[mine])), device=fc.device
    )
    logits, bold = model(fc, x, owner, generator=generator, keep=keep)
    a_sum, b_sum = distributed.loss_sums(logits, bold, a, y, m)
    local = torch.stack([a_sum / n_action.clamp_min(1), b_sum / n_bold]) * weight
    # DDP averages gradients over ranks: scaling by the world size makes it their sum
    (local.sum() * ctx.world).backward()
    both = distributed.all_sum(local, ctx)
    return both.sum(), {"action": both[0], "bold": both[1]}


def _train(cache, out, cohort, config, dev, ctx, resume, max_steps, progress) -> Path:
    n = len(cohort.participants)
    fc_all = cohort["fc"]
    if not np.isfinite(fc_all).all():
        raise ValueError(f"{cache}: FC holds NaN/Inf")
    model_cfg = ModelConfig.profile(config.profile, n_fc=fc_all.shape[1])
    rows = training_participants(
        config.protocol, n, fold=config.fold, n_folds=config.n_folds, seed=config.seed
    )
    val_rows = None
    if config.protocol == "zero-shot" and config.val_participants > 0:
        rng = np.random.default_rng([config.seed, config.fold, 2])
        n_val = max(1, int(round(config.val_participants * len(rows))))
        val_rows = np.sort(rng.choice(rows, size=n_val, replace=False))
    src = fc_source(config.control, n, config.shuffle_shift)
    table = window_table(cohort, rows, val_rows)
    data = CohortTensors(cohort, src, dev)
    ident = _identity(config, model_cfg, cohort.key)

    network = build_network(config, model_cfg, torch.Generator().manual_seed(config.seed))
    fc_train = torch.from_numpy(fc_all[src[rows]].astype(np.float64))
    network.fc_mean.copy_(fc_train.mean(0).float())
    network.fc_sd.copy_(fc_train.std(0).clamp_min(1e-6).float())
    if config.control == "direct-input":
        network.core.fit_compression(network.normalise(fc_train.float()))
    network.to(dev)
    optimizer = _optimizer(network, config, dev)
    model = network
    if ctx.active:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(network)

    ckpt = out / "checkpoint.pt"
    state = {
        "epoch": 0,
        "batch": 0,
        "step": 0,
        "best_val": math.inf,
        "bad_epochs": 0,
        "history": [],
        "stopped": None,
    }
    if ckpt.exists() and not resume:
        raise ValueError(
            f"{out} already holds a run; pass --resume to continue it or choose a new --out"
        )
    if resume:
        blob = load_checkpoint(ckpt, map_location=dev)
        check_compatible(blob, ident, ckpt)
        network.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        state = blob["state"]
        if state.get("stopped") in ("early-stopping", "max-epochs"):
            return out
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)

    def write_log() -> None:
        cols = ["step", "epoch", "loss", "action", "bold", "val_loss", "seconds"]
        lines = ["\t".join(cols)] + [
            "\t".join(
                "" if r.get(c) is None else f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c])
                for c in cols
            )
            for r in state["history"]
        ]
        write_text(out / "log.tsv", "\n".join(lines) + "\n")

    def checkpoint() -> None:
        if ctx.is_main:
            save_checkpoint(ckpt, network, optimizer, state, ident)
            write_log()

    network.train()
    t0 = time.perf_counter()
    bar = tqdm(
        total=config.max_epochs,
        initial=state["epoch"],
        desc=f"train {config.protocol}/{config.control}",
        unit="epoch",
        disable=not (progress and ctx.is_main),
    )
    while state["epoch"] < config.max_epochs:
        batches = epoch_batches(table, config, state["epoch"])
        while state["batch"] < len(batches):
            if max_steps is not None and state["step"] >= max_steps:
                state["stopped"] = "max-steps"
                checkpoint()
                bar.close()
                if ctx.is_main:
                    _write_run(out, ident, state, cache, dev)
                return out
            idx = batches[state["batch"]]
            gen = _step_generator(config, state["step"], dev)
            optimizer.zero_grad(set_to_none=True)
            if ctx.active:
                loss, parts = _distributed_step(model, data, table, idx, config, gen, ctx)
            else:
                fc, x, owner, a, y, m = data.batch(table, idx)
                logits, bold = network(fc, x, owner, generator=gen)
                loss, parts = loss_fn(logits, bold, a, y, m)
            if not torch.isfinite(loss):
                bar.close()
                raise TrainingDiverged(
                    f"loss became {loss.item()} at epoch {state['epoch']}, step {state['step']}, "
                    f"batch {state['batch']}; the last good checkpoint is kept in {ckpt}"
                )
            if not ctx.active:
                loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), config.clip_norm)
            optimizer.step()
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
        val = validation_loss(network, data, table)
        if ctx.active:  # identical on every rank in exact arithmetic; one value decides for all
            val = (
                float(distributed.all_sum(torch.tensor(val, dtype=torch.float64, device=dev), ctx))
                / ctx.world
            )
        if not math.isfinite(val):
            raise TrainingDiverged(f"validation loss became {val} after epoch {state['epoch']}")
        state["history"][-1]["val_loss"] = val
        state["epoch"] += 1
        state["batch"] = 0
        bar.update(1)
        bar.set_postfix(loss=f"{state['history'][-1]['loss']:.4f}", val=f"{val:.4f}")
        if val < state["best_val"]:
            state["best_val"], state["bad_epochs"] = val, 0
            if ctx.is_main:
                save_checkpoint(out / "best.pt", network, None, state, ident)
        else:
            state["bad_epochs"] += 1
        if state["bad_epochs"] >= config.patience:
            state["stopped"] = "early-stopping"
            break
    else:
        state["stopped"] = "max-epochs"
    checkpoint()
    bar.close()
    if ctx.is_main:
        _write_run(out, ident, state, cache, dev)
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
