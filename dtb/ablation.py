"""The direct-input ablation: one shared RNN that reads a compressed FC as extra inputs.

The paper's ablation replaces the hypernetwork by feeding the FC into a single RNN shared by
everyone; it reports RT r of about 0. Here the FC (already normalised) is compressed to its
first ``n_components`` principal components, fitted on the training participants and scaled to
unit variance, and appended to the 9 task inputs at every step. The RNN has the same size and
readout as the twin's main network, but its weights are ordinary shared parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from dtb.model import ModelConfig, shift_inputs


class DirectInputModel(nn.Module):
    """Shared tanh RNN with FC principal components as extra inputs.

    Parameters
    ----------
    config : ModelConfig
        ``n_fc``, ``n_hidden``, ``n_input``, ``n_action`` and ``n_bold`` are used.
    n_components : int
        FC principal components appended to the inputs.
    """

    def __init__(
        self, config: ModelConfig, n_components: int = 16, generator: torch.Generator | None = None
    ):
        super().__init__()
        self.config = config
        self.n_components = n_components
        self.register_buffer("components", torch.zeros(n_components, config.n_fc))
        self.register_buffer("scale", torch.ones(n_components))
        self.rnn = nn.RNN(
            config.n_input + n_components, config.n_hidden, nonlinearity="tanh", batch_first=True
        )
        self.readout = nn.Linear(config.n_hidden, config.n_action + config.n_bold)
        # torch's default initialisation, redrawn from the passed generator (no global state)
        bound = config.n_hidden**-0.5
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound, generator=generator)

    @torch.no_grad()
    def fit_compression(self, fc: torch.Tensor) -> None:
        """Fit the principal components on the training participants' normalised FC.

        Parameters
        ----------
        fc : torch.Tensor, shape (n_participants, n_fc)
        """
        n = fc.shape[0]
        if n < 2:
            raise ValueError(
                f"need at least 2 training participants for the FC compression, got {n}"
            )
        centred = fc - fc.mean(0)
        _, s, vh = torch.linalg.svd(centred.double(), full_matrices=False)
        k = min(self.n_components, vh.shape[0])
        self.components.zero_()
        self.components[:k] = vh[:k].to(self.components.dtype)
        sd = (s[:k] / (n - 1) ** 0.5).clamp_min(1e-8)
        self.scale.fill_(1.0)
        self.scale[:k] = sd.to(self.scale.dtype)

    def compress(self, fc: torch.Tensor) -> torch.Tensor:
        """Unit-variance principal-component scores, shape (S, n_components)."""
        return (fc @ self.components.T) / self.scale

    def forward(
        self,
        fc: torch.Tensor,
        inputs: torch.Tensor,
        owner: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Same contract as :class:`dtb.model.DigitalTwinModel` (``generator`` is unused).

        Parameters
        ----------
        fc : torch.Tensor, shape (S, n_fc)
        inputs : torch.Tensor, shape (B, T, 9)
        owner : torch.Tensor of long, shape (B,)

        Returns
        -------
        action_logits : torch.Tensor, shape (B, T, 3)
        bold : torch.Tensor, shape (B, T, 20)
        """
        z = self.compress(fc)[owner]  # (B, C)
        x = shift_inputs(inputs)
        x = torch.cat([x, z[:, None, :].expand(-1, x.shape[1], -1)], dim=-1)
        h, _ = self.rnn(x)
        y = self.readout(h)
        return y[..., : self.config.n_action], y[..., self.config.n_action :]
