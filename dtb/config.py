"""The training configuration and its named profiles (one table of defaults).

Three profiles, two designs:

* ``paper``: the paper's design exactly, at its sizes: the ``dense`` FC encoder (a first layer
  over all 93,961 edges), Adam with the authors' reduced code's learning rate, no weight decay.
* ``twin``: the recommended design at the paper's sizes: the ``pca`` FC encoder
  (:mod:`dtb.encoders`), its first layer trained at the same rate as the rest, weight decay,
  a moving average of its weights evaluated (``ema_decay``) and a loss that weighs the button
  presses more than the BOLD (``action_weight``).
* ``quick``: the recommended design at CPU sizes (what ``make reproduce`` trains).

``--fc-encoder`` switches a profile to the other design, with that design's defaults
(:data:`PROFILE_DEFAULTS`), so ``quick`` with ``dense`` is the paper's design at CPU sizes.
The settings of the recommended design were chosen at the quick sizes on the validation
participants of a development cohort (book, methods page), never on test results; ``twin``
takes the same encoder, decays and action weight with the paper's learning rate, not yet
validated at the paper's sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dtb.encoders import ENCODERS
from dtb.model import ACTION_WEIGHT as PAPER_ACTION_WEIGHT
from dtb.model import ModelConfig
from dtb.precision import PRECISIONS
from dtb.protocols import CONTROLS, PROTOCOLS, training_split

#: Decay per step of the weights' exponential moving average in the recommended design: the
#: twin is read from the average of its recent weights, not from the last noisy step.
EMA_DECAY = 0.95
#: Weight of the action term of the recommended design's loss (the BOLD term keeps 1): the
#: BOLD error of a window is mostly noise the twin cannot explain, and at equal weights its
#: gradient drowns the between-person differences in timing that set a twin's reaction times.
RECOMMENDED_ACTION_WEIGHT = 3.0
_PAPER_OPTIMISER = {
    # Adam at the rate of the authors' reduced code, no decay; the dense first layer sees
    # 93,961 inputs: at the common rate Adam moves its pre-activations by about
    # lr * sum(|fc|) per step and the run diverges, hence its small rate.
    "participants_per_batch": 6,  # 6 x 8 = 48 windows, close to the paper's 50
    "lr": 3e-4,
    "lr_first_layer": 1e-5,
    "weight_decay": 0.0,
    "ema_decay": 0.0,
    "action_weight": PAPER_ACTION_WEIGHT,
    "val_participants": 0.2,
    "max_epochs": 800,
    "patience": 30,
    "checkpoint_every": 200,
}
_TWIN_OPTIMISER = {
    # the pca encoder's first layer has K whitened inputs and trains at the common rate
    "fc_components": 8,
    "participants_per_batch": 6,
    "lr": 3e-4,
    "lr_first_layer": None,  # None: the common rate
    "weight_decay": 1.0,
    "ema_decay": EMA_DECAY,
    "action_weight": RECOMMENDED_ACTION_WEIGHT,
    "val_participants": 0.0,
    "max_epochs": 800,
    "patience": 30,
    "checkpoint_every": 200,
}

#: Training defaults of each profile and design (on top of :class:`TrainConfig`'s field
#: defaults); the first design of a profile is its own. ``quick`` with ``dense`` is the paper's
#: design at CPU sizes.
PROFILE_DEFAULTS: dict[str, dict[str, dict]] = {
    "paper": {"dense": _PAPER_OPTIMISER, "pca": _TWIN_OPTIMISER},
    "twin": {"pca": _TWIN_OPTIMISER, "dense": _PAPER_OPTIMISER},
    "quick": {
        "pca": {
            "fc_components": 8,
            "participants_per_batch": 12,
            "lr": 2e-3,
            "lr_first_layer": None,
            "weight_decay": 1.0,
            "ema_decay": EMA_DECAY,
            "action_weight": RECOMMENDED_ACTION_WEIGHT,
            "val_participants": 0.0,
            "max_epochs": 40,
        },
        # the paper's design at CPU sizes, trained like the pca design but for its first
        # layer's small rate: the two differ in how the FC enters, nothing else
        "dense": {
            "participants_per_batch": 12,
            "lr": 2e-3,
            "lr_first_layer": 1e-5,
            "weight_decay": 1.0,
            "ema_decay": EMA_DECAY,
            "action_weight": RECOMMENDED_ACTION_WEIGHT,
            "val_participants": 0.0,
            "max_epochs": 40,
        },
    },
}
PROFILES = tuple(PROFILE_DEFAULTS)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the data.

    Attributes
    ----------
    profile : {"quick", "twin", "paper"}
        Model sizes (:meth:`dtb.model.ModelConfig.profile`) and training defaults.
    fc_encoder : {"dense", "pca"}
        How the FC enters the model (:mod:`dtb.encoders`); ``dense`` is the paper's design.
    fc_components : int
        ``K`` principal components of the ``pca`` encoder and of the direct-input ablation,
        fitted on the run's training participants (never its validation or test ones).
    protocol : {"paper", "zero-shot"}
        See :mod:`dtb.protocols`.
    control : {"none", "shuffle", "direct-input"}
        See :mod:`dtb.protocols`.
    fold, n_folds : int
        Zero-shot fold held out, and the number of folds.
    shuffle_shift : int
        Cyclic shift of the FC-shuffle control.
    participants_per_batch, windows_per_participant : int
        Batch = participants x windows each.
    lr : float
        Adam learning rate of every parameter but the hypernetwork's first layer.
    lr_first_layer : float
        Learning rate of the hypernetwork's first layer (:data:`PROFILE_DEFAULTS`).
    weight_decay : float
        Decoupled weight decay (AdamW, applied as lr x weight_decay per step). With a few dozen
        participants the hypernetwork can memorise people; decay keeps it to a smoother mapping
        that generalises to unseen ones. ``paper`` uses 0 (plain Adam, as the paper).
    ema_decay : float
        The weights validated, kept in ``best.pt`` and evaluated are an exponential moving
        average of the trained weights, updated after every step with this decay
        (``torch.optim.swa_utils``); 0 keeps the last step's weights (the paper). Averaging
        damps the step-to-step noise of small batches, which sets much of a zero-shot twin's
        prediction otherwise.
    action_weight : float
        Weight of the action (button-press) term of the loss; the BOLD term's weight is 1
        (:func:`dtb.model.weighted_loss`). 1 is the paper's loss. Validation uses the same
        weights.
    val_participants : float
        Zero-shot only: fraction of the training participants held out whole for validation
        and early stopping (generalisation to unseen people); 0 trains on every training
        participant and validates on each one's last window, as the paper's protocol does.
        The recommended design takes 0: with a few dozen people per fold, a fifth of them
        held out costs the hypernetwork more than early stopping on unseen people gains.
    clip_norm : float
        Gradient-norm clipping.
    max_epochs, patience : int
        Early stopping: stop when the validation loss has not improved for ``patience`` epochs.
    checkpoint_every : int
        Steps between checkpoints (also written at every epoch's end).
    seed : int
        Initial weights, batch order, dropout, zero-shot folds and validation participants.
    precision : {"fp32", "tf32", "bf16"}
        Numeric precision of the training steps (:mod:`dtb.precision`); fp32 by default.
        Evaluation and interventions always run in fp32.
    """

    profile: str = "quick"
    fc_encoder: str = "pca"
    fc_components: int = 8
    protocol: str = "paper"
    control: str = "none"
    fold: int = 0
    n_folds: int = 5
    shuffle_shift: int = 1
    participants_per_batch: int = 12
    windows_per_participant: int = 8
    lr: float = 2e-3
    lr_first_layer: float = 2e-3
    weight_decay: float = 1.0
    ema_decay: float = EMA_DECAY
    action_weight: float = RECOMMENDED_ACTION_WEIGHT
    val_participants: float = 0.0
    clip_norm: float = 1.0
    max_epochs: int = 40
    patience: int = 8
    checkpoint_every: int = 50
    seed: int = 0
    precision: str = "fp32"

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> TrainConfig:
        """The defaults of a profile and of its FC encoder, then ``overrides``.

        Examples
        --------
        >>> TrainConfig.for_profile("paper").fc_encoder
        'dense'
        >>> TrainConfig.for_profile("quick", fc_encoder="dense").lr_first_layer
        1e-05
        """
        if profile not in PROFILE_DEFAULTS:
            raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
        designs = PROFILE_DEFAULTS[profile]
        encoder = overrides.get("fc_encoder", next(iter(designs)))
        if encoder not in designs:
            raise ValueError(f"unknown FC encoder {encoder!r}; choose from {', '.join(ENCODERS)}")
        values = {"profile": profile, "fc_encoder": encoder, **designs[encoder], **overrides}
        if values["lr_first_layer"] is None:
            values["lr_first_layer"] = values.get("lr", cls.lr)
        return replace(cls(), **values)

    def model_config(self, n_fc: int) -> ModelConfig:
        """The model sizes of this run: the profile's, with this run's FC encoder."""
        return ModelConfig.profile(
            self.profile,
            n_fc=n_fc,
            fc_encoder=self.fc_encoder,
            fc_components=self.fc_components,
        )

    def participant_split(self, n: int):
        """Training rows and whole-participant validation rows (or None) of ``n`` people.

        :func:`dtb.protocols.training_split` with this run's protocol, fold and seed.
        """
        return training_split(
            self.protocol,
            n,
            fold=self.fold,
            n_folds=self.n_folds,
            seed=self.seed,
            val_fraction=self.val_participants,
        )

    def validate(self) -> None:
        """Raise ``ValueError`` on an inconsistent config."""
        if self.profile not in PROFILE_DEFAULTS:
            raise ValueError(f"unknown profile {self.profile!r}; choose from {', '.join(PROFILES)}")
        if self.fc_encoder not in ENCODERS:
            raise ValueError(
                f"unknown FC encoder {self.fc_encoder!r}; choose from {', '.join(ENCODERS)}"
            )
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
            "fc_components",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}"
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1); got {self.ema_decay}")
        if not 0.0 <= self.val_participants < 1.0:
            raise ValueError(f"val_participants must be in [0, 1); got {self.val_participants}")
        if not self.action_weight > 0:
            raise ValueError(f"action_weight must be positive; got {self.action_weight}")
        if not (self.lr > 0 and self.lr_first_layer > 0 and self.clip_norm > 0):
            raise ValueError("learning rates and clip_norm must be positive")
