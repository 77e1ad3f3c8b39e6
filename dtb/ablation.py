"""The direct-input ablation: one shared RNN that reads a compressed FC as extra inputs.

The paper's ablation replaces the hypernetwork by feeding the FC into a single RNN shared by
everyone; it reports RT r of about 0. Here the FC (already normalised) is compressed by
:class:`dtb.encoders.PCAEncoder`, the recommended twin's FC encoder (the first ``fc_components``
principal components of the training participants' FC, whitened), and appended to the 9 task
inputs at every step. The RNN has the same size and readout as the twin's main network, but its
weights are ordinary shared parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from dtb.encoders import PCAEncoder
from dtb.model import ModelConfig, shift_inputs


class DirectInputModel(nn.Module):
    """Shared tanh RNN with FC principal components as extra inputs.

    Parameters
    ----------
    config : ModelConfig
        ``n_fc``, ``fc_components``, ``n_hidden``, ``n_input``, ``n_action`` and ``n_bold`` are
        used.
    """

    def __init__(self, config: ModelConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.encoder = PCAEncoder(config.n_fc, config.fc_components)
        self.rnn = nn.RNN(
            config.n_input + config.fc_components,
            config.n_hidden,
            nonlinearity="tanh",
            batch_first=True,
        )
        self.readout = nn.Linear(config.n_hidden, config.n_action + config.n_bold)
        # torch's default initialisation, redrawn from the passed generator (no global state)
        bound = config.n_hidden**-0.5
        with torch.no_grad():
            for p in (*self.rnn.parameters(), *self.readout.parameters()):
                p.uniform_(-bound, bound, generator=generator)

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
        z = self.encoder(fc)[owner]  # (B, K)
        x = shift_inputs(inputs)
        x = torch.cat([x, z[:, None, :].expand(-1, x.shape[1], -1)], dim=-1)
        h, _ = self.rnn(x)
        y = self.readout(h)
        return y[..., : self.config.n_action], y[..., self.config.n_action :]
