"""The digital twin: a hypernetwork maps a connectome to the weights of a task-performing RNN.

Takahashi, Soda, Tomita, Yamashita (BME Frontiers 2026), section "Model":

* the **hypernetwork** reads one participant's resting-state FC vector (Fisher z, upper triangle)
  and outputs every parameter of the main network::

      fc -> dropout(0.1) -> Linear(F, 200) -> Mish -> Linear(200, 200) -> Mish -> Linear(200, P)

* the **main network** is a tanh RNN with 400 units and a linear readout to 23 outputs (3 action
  logits, then 20 BOLD regions); all its ``P = 173,623`` parameters come from the hypernetwork::

      h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   h_{-1} = 0,   y_t = W_ho h_t + b_ho

* the input is shifted one step, so the output at ``t`` sees inputs up to ``t - 1`` (the model
  predicts the next step); loss = BCE(action) + MSE(BOLD), weights 1 and 1 in the paper
  (a training config may weigh the actions more: :func:`weighted_loss`).

A batch holds the FC of ``S`` distinct participants and ``B`` windows, each window tagged by
``owner`` with the row of its participant. The hypernetwork runs once per participant (``S``
rows, not ``B``), and the windows of one participant share its generated weights. With one FC
row per window (``owner = arange(B)``) the model runs per window instead, with one dropout mask
per window as in the authors' code; with one row per participant the dropout mask is shared by
that participant's windows in the batch, which is the cheaper and default choice of the trainer.

Read top to bottom: configuration, the main network's parameter shapes, the hypernetwork, the
model (grouping of windows, then :func:`dtb.recurrence.main_network`), the loss, and a slow
per-sample reference used by the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from dtb.encoders import ENCODERS, PCAEncoder
from dtb.recurrence import main_network, main_network_autograd
from dtb.tasks import N_ACTION, N_INPUT

__all__ = [
    "ModelConfig",
    "main_param_shapes",
    "n_main_params",
    "shift_inputs",
    "HyperNetwork",
    "DigitalTwinModel",
    "loss_fn",
    "loss_sums",
    "weighted_loss",
    "reference_forward",
]


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the hypernetwork and of the main network.

    Parameters
    ----------
    n_fc : int
        Length of the FC vector, ``n_regions * (n_regions - 1) / 2``; 93,961 for the 434 regions
        of the OpenNeuro release (the paper's 446 regions give 99,235).
    hyper_hidden : int
        Width of the hypernetwork's two hidden layers (paper: 200).
    dropout : float
        Dropout probability on the FC input (paper: 0.1).
    n_hidden : int
        Units of the main RNN (paper: 400).
    n_input : int
        Main-network inputs: 8 sensory + 1 task flag.
    n_action : int
        Action outputs (logits; the sigmoid is in the loss).
    n_bold : int
        BOLD outputs (20 regions).
    fc_encoder : {"dense", "pca"}
        How the FC enters the hypernetwork (:mod:`dtb.encoders`): ``dense``, the paper's first
        layer over all edges; ``pca``, the whitened scores on the leading ``fc_components``
        principal components of the training participants' FC.
    fc_components : int
        ``K`` of the ``pca`` encoder (and of the direct-input ablation's compression).
    init_spread : float
        Initial scale of the FC-dependent part of each generated parameter relative to its
        shared part (see :class:`HyperNetwork`). ``paper``: 0.5, so participants differ from the
        start; ``quick``: 0.1, so twins start close to one shared network and individual
        differences grow only as far as the data support them, which lets a hypernetwork
        trained on a few dozen people generalise to unseen ones (zero-shot).

    Notes
    -----
    Two named profiles, :meth:`profile`:

    * ``"paper"``: the paper's sizes. The hypernetwork has 53.7 M parameters (205 MiB), 18.8 M
      of them in its first layer and 34.7 M in its last, which generates P = 173,623 values.
    * ``"quick"``: ``hyper_hidden = 64`` and ``n_hidden = 64`` on the same full FC vector. The
      first layer shrinks to 6.0 M parameters, the generated set to P = 6,295 (last layer 0.4 M,
      6.4 M parameters and 25 MiB in all), and one RNN step to 1/40 of the paper's products, so
      a training batch of 50 windows x 262 steps costs tens of milliseconds on 2 CPU cores and a
      few hundred steps on about 40 participants run in minutes. The FC vector stays complete
      so that the quick run reads the same connectome as the paper-size one.
    """

    n_fc: int = 93_961
    hyper_hidden: int = 200
    dropout: float = 0.1
    n_hidden: int = 400
    n_input: int = N_INPUT
    n_action: int = N_ACTION
    n_bold: int = 20
    fc_encoder: str = "dense"
    fc_components: int = 8
    init_spread: float = 0.5

    def __post_init__(self) -> None:
        if self.fc_encoder not in ENCODERS:
            raise ValueError(
                f"ModelConfig.fc_encoder must be one of {', '.join(ENCODERS)}; "
                f"got {self.fc_encoder!r}"
            )
        for name in (
            "n_fc",
            "hyper_hidden",
            "n_hidden",
            "n_input",
            "n_action",
            "n_bold",
            "fc_components",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer; got {value!r}")
        if not self.init_spread >= 0.0:
            raise ValueError(f"ModelConfig.init_spread must be >= 0; got {self.init_spread!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ModelConfig.dropout must lie in [0, 1); got {self.dropout!r}")

    @property
    def n_output(self) -> int:
        """Outputs of the main network: actions then BOLD (23)."""
        return self.n_action + self.n_bold

    @property
    def n_encoded(self) -> int:
        """Inputs of the hypernetwork's first layer: ``n_fc`` (dense) or ``fc_components``."""
        return self.n_fc if self.fc_encoder == "dense" else self.fc_components

    @classmethod
    def profile(cls, name: str, **overrides) -> ModelConfig:
        """The sizes of a named profile, ``"paper"`` or ``"quick"``, with optional overrides.

        Examples
        --------
        >>> ModelConfig.profile("quick", n_fc=93_961).n_hidden
        64
        """
        if name not in _PROFILES:
            raise ValueError(f"unknown model profile {name!r}; choose one of {sorted(_PROFILES)}")
        return replace(cls(**_PROFILES[name]), **overrides)


_PROFILES: dict[str, dict] = {
    "paper": {},
    "twin": {"fc_encoder": "pca", "init_spread": 0.1},
    "quick": {
        "hyper_hidden": 64,
        "n_hidden": 64,
        "init_spread": 0.1,
        "fc_encoder": "pca",
    },
}


# ---------------------------------------------------------------------------------------------
# The main network's parameters: declared shapes, generated by the hypernetwork
# ---------------------------------------------------------------------------------------------


def main_param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Shapes of the main network's parameters, in the order the hypernetwork outputs them.

    Returns
    -------
    shapes : dict of str to tuple
        ``W_ih (H, I)``, ``b_ih (H,)``, ``W_hh (H, H)``, ``b_hh (H,)``, ``W_ho (O, H)``,
        ``b_ho (O,)`` with ``H = n_hidden``, ``I = n_input``, ``O = n_action + n_bold``.
    """
    h, i, o = cfg.n_hidden, cfg.n_input, cfg.n_output
    return {
        "W_ih": (h, i),
        "b_ih": (h,),
        "W_hh": (h, h),
        "b_hh": (h,),
        "W_ho": (o, h),
        "b_ho": (o,),
    }


def n_main_params(cfg: ModelConfig) -> int:
    """Number ``P`` of generated parameters (173,623 at the paper's sizes)."""
    return sum(math.prod(shape) for shape in main_param_shapes(cfg).values())


def shift_inputs(inputs: torch.Tensor) -> torch.Tensor:
    """Delay the inputs by one step: prepend a zero step and drop the last one.

    The output at step ``t`` is computed from ``shifted[:t+1] = inputs[:t]``, i.e. it sees the
    inputs up to ``t - 1`` only, so the model predicts the next step (a response or BOLD value at
    ``t`` cannot be read off the stimulus at ``t``).

    Parameters
    ----------
    inputs : torch.Tensor, shape (B, T, I)

    Returns
    -------
    shifted : torch.Tensor, shape (B, T, I)
        ``shifted[:, 0] = 0`` and ``shifted[:, t] = inputs[:, t - 1]``.
    """
    return torch.cat([torch.zeros_like(inputs[:, :1]), inputs[:, :-1]], dim=1)


# ---------------------------------------------------------------------------------------------
# The hypernetwork
# ---------------------------------------------------------------------------------------------

#: The paper profile's ``ModelConfig.init_spread``: initial scale of the FC-dependent part of
#: each generated parameter, relative to the scale of its shared part (see HyperNetwork).
INIT_SPREAD = 0.5
#: Scale of the FC-dependent part of the generated biases (their shared part is 0).
INIT_BIAS_SCALE = 0.1


class HyperNetwork(nn.Module):
    """FC vector -> all parameters of the main network.

    ``dropout(p) -> Linear(F, hh) -> Mish -> Linear(hh, hh) -> Mish -> Linear(hh, P)``

    Parameters
    ----------
    cfg : ModelConfig
    generator : torch.Generator, optional
        Source of the initial weights (the global generator when omitted).

    Notes
    -----
    Initialisation (why the generated RNN starts in a sane regime). The output layer computes
    ``theta = W z + c`` from the last hidden activations ``z``. Its bias ``c`` is set to an
    ordinary initialisation of the main network, shared by all participants:

    * ``W_hh``: a random orthogonal matrix, so its spectral radius and every singular value
      are exactly 1 (the edge of chaos: activity neither dies out nor saturates over 262 steps);
    * ``W_ih ~ N(0, 1/I)``: a one-hot stimulus moves the pre-activations by about 1;
    * ``W_ho ~ N(0, 1/H)``: outputs of order 0.5 for tanh states of order 1;
    * all biases 0 (in particular a zero output bias).

    Its weight ``W`` adds an FC-dependent part: the rows generating one parameter tensor
    are ``N(0, (init_spread * s)^2 / hh)``, where ``s`` is the scale of that tensor's shared part
    (``1/sqrt(I)``, ``1/sqrt(H)``, ``1/sqrt(H)``; ``INIT_BIAS_SCALE`` for the biases). For hidden
    activations of RMS ``r`` the FC-dependent part has ``init_spread * r`` times the SD
    of the shared part, so ``W_hh`` keeps a spectral radius of about
    ``sqrt(1 + (init_spread * r)^2)``, between 1 and 1.12 for ``r <= 1`` at 0.5 (the tests
    check it), and participants differ from the start, which gives the earlier layers a
    gradient. The hidden layers are LeCun-normal
    (``N(0, 1/fan_in)``, zero bias), which keeps unit-variance (standardised) FC features at
    pre-activations of order 1.
    """

    def __init__(self, cfg: ModelConfig, *, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        self.shapes = main_param_shapes(cfg)
        self.n_params = n_main_params(cfg)
        # skip_init: allocate without the default initialisation, which would draw 53.7 M
        # numbers from the global generator only to be overwritten by reset_parameters.
        self.encoder = (
            PCAEncoder(cfg.n_fc, cfg.fc_components) if cfg.fc_encoder == "pca" else None
        )
        self.fc1 = nn.utils.skip_init(nn.Linear, cfg.n_encoded, cfg.hyper_hidden)
        self.fc2 = nn.utils.skip_init(nn.Linear, cfg.hyper_hidden, cfg.hyper_hidden)
        self.out = nn.utils.skip_init(nn.Linear, cfg.hyper_hidden, self.n_params)
        self.act = nn.Mish()
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """(Re-)initialise all weights as described in the class notes."""
        for layer in (self.fc1, self.fc2):
            nn.init.normal_(layer.weight, 0.0, layer.in_features**-0.5, generator=generator)
            nn.init.zeros_(layer.bias)
        cfg, hh = self.cfg, self.cfg.hyper_hidden
        shared_scale = {
            "W_ih": cfg.n_input**-0.5,
            "W_hh": cfg.n_hidden**-0.5,
            "W_ho": cfg.n_hidden**-0.5,
        }
        weights = self.split(self.out.weight.T.unsqueeze(0))  # views: (1, hh, *shape) each
        biases = self.split(self.out.bias.unsqueeze(0))  # views: (1, *shape) each
        for name in self.shapes:
            s = shared_scale.get(name, INIT_BIAS_SCALE)
            spread = cfg.init_spread * s / math.sqrt(hh)
            nn.init.normal_(weights[name], 0.0, spread, generator=generator)
            bias = biases[name][0]
            if name == "W_hh":
                nn.init.orthogonal_(bias, generator=generator)
            elif name in shared_scale:
                nn.init.normal_(bias, 0.0, shared_scale[name], generator=generator)
            else:
                nn.init.zeros_(bias)

    def forward(
        self, fc: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Generate the main-network parameters of each FC row.

        Parameters
        ----------
        fc : torch.Tensor, shape (S, F)
            One FC vector per participant.
        generator : torch.Generator, optional
            Source of the dropout mask in training mode (the global generator when omitted).

        Returns
        -------
        flat : torch.Tensor, shape (S, P)
            Parameters in the order of :func:`main_param_shapes`; see :meth:`split`.
        """
        p = self.cfg.dropout
        if self.training and p > 0:
            # Inverted dropout, written out so that the mask can come from a passed generator.
            keep = torch.rand(fc.shape, generator=generator, device=fc.device) >= p
            fc = fc * keep.to(fc.dtype) / (1.0 - p)
        if self.encoder is not None:
            fc = self.encoder(fc)
        z = self.act(self.fc1(fc))
        z = self.act(self.fc2(z))
        # contiguous: the generated matrices are then plain row-major blocks for the products.
        return _transposed_linear(self.out, z).contiguous()

    def edge_rows(self) -> torch.Tensor:
        """The linear map from the (normalised) FC to the first layer's pre-activations.

        Shape ``(hyper_hidden, n_fc)``. The rest of the hypernetwork sees the FC only through
        it, so every gradient with respect to the FC is a combination of its rows.
        """
        w = self.fc1.weight
        return w if self.encoder is None else w @ self.encoder.edge_rows()

    def split(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cut flat parameter rows into the main network's tensors (views, no copy).

        Parameters
        ----------
        flat : torch.Tensor, shape (S, ..., P)

        Returns
        -------
        params : dict of str to torch.Tensor
            ``name -> (S, ..., *shape)`` for each entry of :func:`main_param_shapes`.
        """
        if flat.shape[-1] != self.n_params:
            raise ValueError(
                f"flat parameters must have last dimension P = {self.n_params}; "
                f"got shape {tuple(flat.shape)}"
            )
        # One split (not six slices): its backward assembles the gradient of `flat` in one pass.
        sizes = [math.prod(shape) for shape in self.shapes.values()]
        pieces = flat.split(sizes, dim=-1)
        return {
            name: piece.unflatten(-1, shape)
            for (name, shape), piece in zip(self.shapes.items(), pieces, strict=True)
        }


def _transposed_linear(layer: nn.Linear, z: torch.Tensor) -> torch.Tensor:
    """``layer(z)`` computed as ``(W z^T + b)^T``.

    Same values and gradients as ``layer(z)``. For the hypernetwork's output layer (200 -> P,
    with a few rows) MKL computes this orientation 2-4x faster than ``z W^T``, and the backward
    costs the same. (For the first layer it is the reverse: its backward gets slower.)
    """
    return torch.addmm(layer.bias.unsqueeze(1), layer.weight, z.t()).t()


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Groups:
    """How the B windows are laid out as G groups of K windows sharing one weight set.

    ``slot[b]`` is the row of window ``b`` in the ``(G * K)`` layout (None: ``slot = arange(B)``);
    ``weights[g]`` is the participant whose weights group ``g`` uses (None: ``g`` itself).
    """

    n_groups: int
    size: int
    slot: torch.Tensor | None = None
    weights: torch.Tensor | None = None


def _group_windows(owner: torch.Tensor, n_participants: int) -> _Groups:
    """Choose the layout of the windows for the batched recurrence.

    * windows already sorted by participant with equal counts ``K``: ``S`` groups of ``K``, no
      copy at all (the trainer's batches are drawn this way);
    * otherwise, when padding every participant to the largest count wastes at most as many rows
      as there are windows: ``S`` groups padded with zero windows whose outputs are dropped (they
      receive no gradient, so the result stays exact);
    * otherwise: one group per window, with its participant's weights gathered (per-window
      matrix-vector products; memory-bound, several times slower per window).
    """
    n_windows = owner.shape[0]
    counts = torch.bincount(owner, minlength=n_participants)
    k_max = int(counts.max())
    if n_windows == n_participants * k_max:
        expected = torch.arange(n_participants, device=owner.device).repeat_interleave(k_max)
        if torch.equal(owner, expected):
            return _Groups(n_participants, k_max)
    if n_participants * k_max <= 2 * n_windows:
        order = torch.argsort(owner, stable=True)
        first = torch.cumsum(counts, 0) - counts  # first sorted position of each participant
        rank = torch.arange(n_windows, device=owner.device) - first[owner[order]]
        slot = torch.empty_like(owner)
        slot[order] = owner[order] * k_max + rank
        return _Groups(n_participants, k_max, slot=slot)
    return _Groups(n_windows, 1, weights=owner)


class DigitalTwinModel(nn.Module):
    """Hypernetwork + main RNN: FC and task inputs -> action logits and BOLD.

    Parameters
    ----------
    cfg : ModelConfig
    generator : torch.Generator, optional
        Source of the initial weights (the global generator when omitted).
    custom_backward : bool
        Differentiate the main network with the hand-written backward through time of
        :mod:`dtb.recurrence` (default; 3-5x cheaper) or with plain autograd (needed only for
        second derivatives). Both compute the same gradients.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        *,
        generator: torch.Generator | None = None,
        custom_backward: bool = True,
    ):
        super().__init__()
        self.cfg = cfg
        self.hyper = HyperNetwork(cfg, generator=generator)
        self.custom_backward = custom_backward

    def generate(
        self, fc: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """The main-network parameters of each participant (one hypernetwork pass).

        Parameters
        ----------
        fc : torch.Tensor, shape (S, n_fc)
        generator : torch.Generator, optional
            Source of the dropout mask in training mode.

        Returns
        -------
        params : dict of str to torch.Tensor
            ``name -> (S, *shape)`` for each entry of :func:`main_param_shapes`.
        """
        _check_fc(fc, self.cfg)
        return self.hyper.split(self.hyper(fc, generator=generator))

    def forward(
        self,
        fc: torch.Tensor,
        inputs: torch.Tensor,
        owner: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict actions and BOLD for a batch of windows.

        Parameters
        ----------
        fc : torch.Tensor, shape (S, n_fc)
            FC vectors of the ``S`` distinct participants of the batch.
        inputs : torch.Tensor, shape (B, T, n_input)
            Task inputs of ``B`` windows, *not* shifted: the one-step shift for next-step
            prediction (:func:`shift_inputs`) is applied here.
        owner : torch.Tensor of int64, shape (B,)
            Row of ``fc`` each window belongs to. Windows sorted by owner with the same count per
            participant take the fastest path.
        generator : torch.Generator, optional
            Source of the dropout mask in training mode.

        Returns
        -------
        action_logits : torch.Tensor, shape (B, T, n_action)
            Logits; ``torch.sigmoid`` gives press probabilities.
        bold : torch.Tensor, shape (B, T, n_bold)

        Raises
        ------
        ValueError
            On a wrong shape, a non-finite value in ``fc`` or ``inputs``, or an ``owner`` out of
            range.
        """
        params = self.generate(fc, generator=generator)
        return self.run_main(params, inputs, owner)

    def run_main(
        self, params: dict[str, torch.Tensor], inputs: torch.Tensor, owner: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the main network with given (possibly edited) generated parameters.

        Parameters
        ----------
        params : dict of str to torch.Tensor
            ``name -> (S, *shape)``, as returned by :meth:`generate`.
        inputs : torch.Tensor, shape (B, T, n_input)
            Unshifted task inputs (cast to the parameters' dtype).
        owner : torch.Tensor of int64, shape (B,)

        Returns
        -------
        action_logits : torch.Tensor, shape (B, T, n_action)
        bold : torch.Tensor, shape (B, T, n_bold)
        """
        cfg = self.cfg
        n_part = _check_params(params, cfg)
        w_hh = params["W_hh"]
        inputs = _check_inputs(inputs, cfg).to(w_hh.dtype)
        _check_owner(owner, inputs.shape[0], n_part)
        n_windows, t_steps, n_in = inputs.shape
        groups = _group_windows(owner, n_part)
        g, k = groups.n_groups, groups.size

        x = shift_inputs(inputs)
        if groups.slot is not None:  # padded layout: zero windows fill the gaps
            x = x.new_zeros(g * k, t_steps, n_in).index_copy(0, groups.slot, x)
        # (G*K, T, I) -> time-major inside each group, (G, T, K, I): a small copy (I = 9) that
        # lets every large tensor of the recurrence stay contiguous.
        x = x.view(g, k, t_steps, n_in).transpose(1, 2).contiguous()

        if groups.weights is not None:
            params = {name: p.index_select(0, groups.weights) for name, p in params.items()}
        run = main_network if self.custom_backward else main_network_autograd
        y = run(
            x,
            params["W_ih"],
            params["b_ih"] + params["b_hh"],
            params["W_hh"],
            params["W_ho"],
            params["b_ho"],
        )  # (G, T, K, O)
        y = y.transpose(1, 2).reshape(g * k, t_steps, cfg.n_output)
        if groups.slot is not None:
            y = y.index_select(0, groups.slot)
        return y[..., : cfg.n_action], y[..., cfg.n_action :]


# ---------------------------------------------------------------------------------------------
# Loss
# ---------------------------------------------------------------------------------------------

#: The paper's weights of the two loss terms; a training config may weigh the actions more
#: (:attr:`dtb.config.TrainConfig.action_weight`).
ACTION_WEIGHT = 1.0
BOLD_WEIGHT = 1.0


def weighted_loss(
    action: torch.Tensor, bold: torch.Tensor, action_weight: float = ACTION_WEIGHT
) -> torch.Tensor:
    """``action_weight * action + BOLD_WEIGHT * bold``: how the two terms make one loss."""
    return action_weight * action + BOLD_WEIGHT * bold


def loss_sums(
    action_logits: torch.Tensor,
    bold: torch.Tensor,
    action_target: torch.Tensor,
    bold_target: torch.Tensor,
    action_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The loss's two sums and their counts: the one definition of the masked loss.

    Parameters
    ----------
    action_logits : torch.Tensor, shape (B, T, A)
    bold : torch.Tensor, shape (B, T, R)
    action_target : torch.Tensor, shape (B, T, A)
        1 where that button is pressed, else 0. At masked steps any value (NaN included) is
        ignored.
    bold_target : torch.Tensor, shape (B, T, R)
    action_mask : torch.Tensor of bool, shape (B, T), optional
        False at steps whose action target is unknown (e.g. the key of an error trial); those
        steps do not contribute.

    Returns
    -------
    action_sum, bold_sum : torch.Tensor, scalars
        Summed BCE over the unmasked action targets; summed squared BOLD error.
    n_action, n_bold : torch.Tensor, scalars
        How many terms each sum holds. :func:`loss_fn` divides by them; a data-parallel rank
        divides by their sum over ranks (:mod:`dtb.distributed`).
    """
    if action_target.shape != action_logits.shape:
        raise ValueError(
            f"action_target must have the shape of action_logits {tuple(action_logits.shape)}; "
            f"got {tuple(action_target.shape)}"
        )
    if bold_target.shape != bold.shape:
        raise ValueError(
            f"bold_target must have the shape of bold {tuple(bold.shape)}; "
            f"got {tuple(bold_target.shape)}"
        )
    if action_mask is None:
        action_mask = torch.ones(action_logits.shape[:-1], dtype=torch.bool, device=bold.device)
    if action_mask.shape != action_logits.shape[:-1]:
        raise ValueError(
            f"action_mask must have shape (B, T) = {tuple(action_logits.shape[:-1])}; "
            f"got {tuple(action_mask.shape)}"
        )
    keep = action_mask.to(torch.bool).unsqueeze(-1).expand_as(action_logits)
    # Zero the unknown targets first: a NaN there would otherwise leak into the gradient.
    target = torch.where(keep, action_target.to(action_logits.dtype), 0.0)
    bce = F.binary_cross_entropy_with_logits(action_logits, target, reduction="none")
    action_sum = torch.where(keep, bce, 0.0).sum()
    bold_sum = ((bold - bold_target.to(bold.dtype)) ** 2).sum()
    n_bold = torch.tensor(float(bold.numel()), device=bold.device)
    return action_sum, bold_sum, keep.sum(), n_bold


def loss_fn(
    action_logits: torch.Tensor,
    bold: torch.Tensor,
    action_target: torch.Tensor,
    bold_target: torch.Tensor,
    action_mask: torch.Tensor | None = None,
    action_weight: float = ACTION_WEIGHT,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """BCE on the actions plus MSE on BOLD, weights 1 and 1 by default (the paper's loss).

    Parameters are those of :func:`loss_sums`, and ``action_weight``, the weight of the action
    term. The action loss is the mean over the unmasked steps and buttons (0 when none
    remains); the BOLD loss the mean squared error.

    Returns
    -------
    total : torch.Tensor, scalar
        :func:`weighted_loss` of the two means.
    parts : dict of str to torch.Tensor
        ``"action"`` and ``"bold"``, detached scalars.
    """
    a_sum, b_sum, n_action, n_bold = loss_sums(
        action_logits, bold, action_target, bold_target, action_mask
    )
    action = a_sum / n_action.clamp_min(1)
    bold_loss = b_sum / n_bold
    total = weighted_loss(action, bold_loss, action_weight)
    return total, {"action": action.detach(), "bold": bold_loss.detach()}


# ---------------------------------------------------------------------------------------------
# Reference implementation (slow, obvious; for tests)
# ---------------------------------------------------------------------------------------------


def reference_forward(
    model: DigitalTwinModel, fc: torch.Tensor, inputs: torch.Tensor, owner: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's forward pass written per sample and per step with explicit products.

    Same contract as :meth:`DigitalTwinModel.forward` (run it in eval mode, or the dropout masks
    differ). Loops in Python over windows and steps; use only on small sizes.
    """
    params = model.generate(fc)
    x = shift_inputs(_check_inputs(inputs, model.cfg).to(params["W_hh"].dtype))
    _check_owner(owner, x.shape[0], fc.shape[0])
    windows = []
    for b in range(x.shape[0]):
        p = {name: value[owner[b]] for name, value in params.items()}
        h = x.new_zeros(model.cfg.n_hidden)
        steps = []
        for t in range(x.shape[1]):
            h = torch.tanh(p["W_ih"] @ x[b, t] + p["b_ih"] + p["W_hh"] @ h + p["b_hh"])
            steps.append(p["W_ho"] @ h + p["b_ho"])
        windows.append(torch.stack(steps))
    y = torch.stack(windows)
    return y[..., : model.cfg.n_action], y[..., model.cfg.n_action :]


# ---------------------------------------------------------------------------------------------
# Input checks: clear errors that name the offending shape
# ---------------------------------------------------------------------------------------------


def _check_fc(fc: torch.Tensor, cfg: ModelConfig) -> None:
    if not isinstance(fc, torch.Tensor) or fc.dim() != 2 or fc.shape[1] != cfg.n_fc:
        shape = tuple(fc.shape) if isinstance(fc, torch.Tensor) else type(fc).__name__
        raise ValueError(f"fc must have shape (S, n_fc) = (S, {cfg.n_fc}); got {shape}")
    if fc.shape[0] < 1:
        raise ValueError(f"fc must hold at least one participant; got shape {tuple(fc.shape)}")
    if not fc.is_floating_point():
        raise ValueError(f"fc must be a floating-point tensor; got dtype {fc.dtype}")
    _check_finite(fc, "fc")


def _check_inputs(inputs: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 3 or inputs.shape[2] != cfg.n_input:
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(
            f"inputs must have shape (B, T, n_input) = (B, T, {cfg.n_input}); got {shape}"
        )
    if inputs.shape[0] < 1 or inputs.shape[1] < 1:
        raise ValueError(
            f"inputs must hold at least one window and step; got shape {tuple(inputs.shape)}"
        )
    if inputs.is_floating_point():
        _check_finite(inputs, "inputs")
    return inputs


def _check_owner(owner: torch.Tensor, n_windows: int, n_participants: int) -> None:
    if not isinstance(owner, torch.Tensor) or owner.shape != (n_windows,):
        shape = tuple(owner.shape) if isinstance(owner, torch.Tensor) else type(owner).__name__
        raise ValueError(f"owner must have shape (B,) = ({n_windows},); got {shape}")
    if owner.dtype != torch.int64:
        raise ValueError(f"owner must be a tensor of int64 (torch.long); got dtype {owner.dtype}")
    low, high = int(owner.min()), int(owner.max())
    if low < 0 or high >= n_participants:
        raise ValueError(
            f"owner values must lie in [0, S) = [0, {n_participants}) for fc of {n_participants} "
            f"rows; got values from {low} to {high}"
        )


def _check_params(params: dict[str, torch.Tensor], cfg: ModelConfig) -> int:
    shapes = main_param_shapes(cfg)
    if set(params) != set(shapes):
        raise ValueError(f"params must hold exactly {list(shapes)}; got {sorted(params)}")
    n_part = params["W_hh"].shape[0]
    for name, shape in shapes.items():
        if tuple(params[name].shape) != (n_part, *shape):
            raise ValueError(
                f"params[{name!r}] must have shape (S, *{shape}) = {(n_part, *shape)}; "
                f"got {tuple(params[name].shape)}"
            )
    return n_part


def _check_finite(tensor: torch.Tensor, name: str) -> None:
    # A NaN or Inf anywhere makes the sum non-finite: one cheap reduction in the common case,
    # the element-wise count only to word the error.
    if bool(torch.isfinite(tensor.sum())):
        return
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        raise ValueError(
            f"{name} of shape {tuple(tensor.shape)} contains {int(bad.sum())} NaN or Inf "
            f"value(s); fix the data rather than the model"
        )
