"""A trained network and its checkpoint: build it, save it, load it, choose its device.

Evaluation, the twin and the interventions load a network from here without importing the
training loop. A checkpoint holds the configs, the code version, the cohort's hash and, for an
FC encoder fitted on data, the participants it was fitted on; it is loaded with
``torch.load(weights_only=True)``, and one made with another config, cohort or fit set is
refused with a message naming the file.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from dtb.config import TrainConfig
from dtb.fileio import atomic_path
from dtb.model import DigitalTwinModel, ModelConfig
from dtb.protocols import fc_source
from dtb.provenance import code_version

#: Version of the checkpoint layout.
CHECKPOINT_FORMAT = 2


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

    @torch.no_grad()
    def fit_inputs(self, fc: torch.Tensor, *, where: str = "") -> None:
        """Fit what the network learns from its training participants' FC before training.

        The normalisation's mean and SD and, when the core has one, the FC encoder's
        components, all from ``fc``.

        Parameters
        ----------
        fc : torch.Tensor, shape (n_train, n_fc)
            Raw FC of the training participants only (never validation or test ones).
        where : str
            Names the run in errors.
        """
        fc64 = fc.double()
        self.fc_mean.copy_(fc64.mean(0).to(self.fc_mean.dtype))
        self.fc_sd.copy_(fc64.std(0).clamp_min(1e-6).to(self.fc_sd.dtype))
        encoder = fc_encoder(self)
        if encoder is not None:
            encoder.fit(self.normalise(fc.to(self.fc_mean.dtype)), where=where)

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


def fc_encoder(network: Network):
    """The network's fitted FC encoder (:class:`dtb.encoders.PCAEncoder`), or None (dense)."""
    core = network.core
    return getattr(core.hyper, "encoder", None) if hasattr(core, "hyper") else core.encoder


def build_network(
    train_cfg: TrainConfig, model_cfg: ModelConfig, generator: torch.Generator | None = None
) -> Network:
    """An untrained network for a config, initialised from ``generator``."""
    if train_cfg.control == "direct-input":
        from dtb.ablation import DirectInputModel

        core = DirectInputModel(model_cfg, generator=generator)
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
# checkpoints


def identity(
    train_cfg: TrainConfig, model_cfg: ModelConfig, cohort_key: str, fitted_on: list[str]
) -> dict:
    """What makes a checkpoint this run's: configs, cohort hash, the FC fit's participants."""
    return {
        "train_config": asdict(train_cfg),
        "model_config": asdict(model_cfg),
        "data_key": cohort_key,
        "fitted_on": list(fitted_on),
    }


def save_checkpoint(
    path: Path, network: Network, optimizer, state: dict, ident: dict, averaged=None
) -> None:
    """Write a checkpoint atomically (with the weights' moving average, ``averaged``, if any)."""
    blob = {
        "format": CHECKPOINT_FORMAT,
        "model": network.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "state": state,
        "ema": averaged.state_dict() if averaged is not None else None,
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
    if not isinstance(blob, dict) or "model" not in blob:
        raise ValueError(f"{path}: not a dtb checkpoint")
    if blob.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path}: checkpoint format {blob.get('format')} was written by dtb "
            f"{blob.get('code_version')}; this version reads format {CHECKPOINT_FORMAT}: retrain"
        )
    return blob


def check_compatible(blob: dict, ident: dict, path: Path) -> None:
    """Refuse a checkpoint made with another config, cohort or FC fit set."""
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
    check_fitted_on(blob, ident["fitted_on"], path)


def check_fitted_on(blob: dict, expected: list[str], path: Path | str) -> None:
    """Refuse a checkpoint whose FC statistics were fitted on other participants.

    Parameters
    ----------
    blob : dict
        A loaded checkpoint.
    expected : list of str
        The participants whose FC the run's configuration trains on.
    """
    got = list(blob.get("fitted_on", []))
    if got != list(expected):
        extra = sorted(set(got) - set(expected))
        missing = sorted(set(expected) - set(got))
        raise ValueError(
            f"{path}: the FC normalisation and encoder were fitted on other participants than "
            f"this run's training set ({len(extra)} not in it, e.g. {extra[:3]}; "
            f"{len(missing)} missing, e.g. {missing[:3]})"
        )


def fitted_participants(config: TrainConfig, cohort) -> list[str]:
    """The participants whose FC a run of ``config`` fits its normalisation and encoder on.

    Its training participants, less those held out whole for validation; under the shuffle
    control, the participants whose FC they are given.
    """
    n = len(cohort.participants)
    train_rows, _ = config.participant_split(n)
    src = fc_source(config.control, n, config.shuffle_shift)
    return [cohort.participants[i] for i in src[train_rows]]


def open_run(blob: dict, cohort, path: Path | str, device: str | torch.device = "cpu"):
    """The network of a checkpoint for a cohort, after checking it belongs to that cohort.

    Refuses a checkpoint trained on another cohort, or whose FC statistics were fitted on
    other participants than its configuration's training set.

    Returns
    -------
    network, train_config, model_config
    """
    if blob.get("data_key") != cohort.key:
        raise ValueError(
            f"{path}: trained on cohort {str(blob.get('data_key'))[:16]}, not on "
            f"{cohort.key[:16]}"
        )
    network, tc, mc = network_from_checkpoint(blob, device)
    check_fitted_on(blob, fitted_participants(tc, cohort), path)
    return network, tc, mc


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
