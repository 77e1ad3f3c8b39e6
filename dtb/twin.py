"""A participant's digital twin: generated once from an FC vector, then run on any task input.

>>> twin = DigitalTwin.from_fc(fc, network)          # doctest: +SKIP
>>> out = twin.simulate(inputs)                      # (T, 9) task inputs at 80 ms
>>> choice, rt = twin.respond(inputs, trials)        # per-trial choices and RTs (s)

Works for a participant the model never saw: only the FC is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dtb.responses import model_responses
from dtb.tasks import FLAG_DIM


@dataclass
class Simulation:
    """Output of :meth:`DigitalTwin.simulate`.

    Attributes
    ----------
    action_prob : ndarray, shape (T, 3)
        Press probabilities at 80 ms steps.
    bold : ndarray, shape (T, 20)
        Predicted z-scored BOLD at 80 ms steps.
    """

    action_prob: np.ndarray
    bold: np.ndarray

    def bold_at(self, steps: np.ndarray) -> np.ndarray:
        """BOLD back at acquisition times.

        Parameters
        ----------
        steps : ndarray of int, shape (n_volumes,)
            Steps at which volumes were acquired
            (:meth:`dtb.data.prepare.PreparedCohort.volume_steps`).

        Returns
        -------
        bold : ndarray, shape (n_volumes, 20)
        """
        return self.bold[np.asarray(steps, dtype=int)]


class DigitalTwin:
    """One participant's twin: a trained network plus that participant's FC.

    For a hypernetwork model the main-network weights are generated once, at construction, and
    kept (``params``), so they can also be inspected or edited (virtual interventions).

    Parameters
    ----------
    network : dtb.network.Network
        A trained network (``dtb.network.network_from_checkpoint``).
    fc : torch.Tensor, shape (n_fc,)
        Raw Fisher-z FC vector of the participant.
    weights : torch.Tensor, shape (P,), optional
        Flat main-network weights to use instead of generating them from ``fc`` (an edited
        twin, see :meth:`from_weights`).
    """

    def __init__(
        self, network, fc: torch.Tensor | None = None, weights: torch.Tensor | None = None
    ):
        self.network = network.eval()
        device = network.fc_mean.device
        core = network.core
        if (fc is None) == (weights is None):
            raise ValueError("give either an FC vector or main-network weights")
        self.fc = None
        if fc is not None:
            n_fc = network.fc_mean.shape[0]
            fc = torch.as_tensor(fc, dtype=torch.float32, device=device)
            if fc.shape != (n_fc,):
                raise ValueError(
                    f"FC vector of shape {tuple(fc.shape)}, the model expects ({n_fc},)"
                )
            if not torch.isfinite(fc).all():
                raise ValueError("FC vector holds NaN/Inf")
            self.fc = fc
            with torch.no_grad():
                self.params = (
                    core.generate(network.normalise(fc[None]))
                    if hasattr(core, "generate")
                    else None
                )
        else:
            if not hasattr(core, "hyper"):
                raise ValueError("this model has no generated main-network weights to set")
            w = torch.as_tensor(weights, dtype=torch.float32, device=device)
            n_out = core.hyper.out.out_features
            if w.shape != (n_out,):
                raise ValueError(f"weights of shape {tuple(w.shape)}, the model has ({n_out},)")
            if not torch.isfinite(w).all():
                raise ValueError("weights hold NaN/Inf")
            self.params = core.hyper.split(w[None])

    @classmethod
    def from_fc(cls, fc, network) -> DigitalTwin:
        """Generate the twin of the participant with FC vector ``fc`` (shape (n_fc,))."""
        return cls(network, fc)

    @classmethod
    def from_weights(cls, weights, network) -> DigitalTwin:
        """A twin with the given flat main-network weights (shape (P,)), e.g. edited ones."""
        return cls(network, weights=weights)

    @torch.no_grad()
    def simulate(self, inputs: np.ndarray, window: int = 262, burn_in: int = 50) -> Simulation:
        """Run the twin on a task input sequence.

        The twin was trained on windows that start from a zero state, so a long input is run
        in windows too: each window starts ``burn_in`` steps early from h = 0 and only its last
        ``window - burn_in`` outputs are kept; all windows run as one batch.

        Parameters
        ----------
        inputs : ndarray, shape (T, 9)
        window, burn_in : int

        Returns
        -------
        simulation : Simulation
        """
        x = torch.as_tensor(
            np.asarray(inputs), dtype=torch.float32, device=self.network.fc_mean.device
        )
        core = self.network.core  # the hypernetwork model (cfg) or the direct-input one (config)
        n_in = (getattr(core, "cfg", None) or core.config).n_input
        if x.ndim != 2 or x.shape[1] != n_in:
            raise ValueError(f"inputs must have shape (T, {n_in}), got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("inputs hold NaN/Inf")
        if not 0 <= burn_in < window:
            raise ValueError("burn_in must be in 0..window-1")
        t_total = x.shape[0]
        keep = window - burn_in
        starts = list(range(0, t_total, keep))
        # padding shows nothing but keeps the task flag of the run
        blank = torch.zeros_like(x[:1])
        blank[:, FLAG_DIM] = x[0, FLAG_DIM]
        padded = torch.cat([blank.expand(burn_in, -1), x, blank.expand(keep, -1)])
        batch = torch.stack([padded[s : s + window] for s in starts])
        owner = torch.zeros(len(starts), dtype=torch.long, device=x.device)
        if self.params is not None:
            logits, bold = self.network.core.run_main(self.params, batch, owner)
        else:
            logits, bold = self.network(self.fc[None], batch, owner)
        prob = torch.sigmoid(logits)[:, burn_in:].reshape(-1, logits.shape[-1])[:t_total]
        bold = bold[:, burn_in:].reshape(-1, bold.shape[-1])[:t_total]
        return Simulation(prob.cpu().numpy(), bold.cpu().numpy())

    def respond(
        self, inputs: np.ndarray, trials: np.ndarray, **kwargs
    ) -> tuple[np.ndarray, np.ndarray]:
        """Choices and RTs of the twin for the trials of a run (see :mod:`dtb.responses`).

        Parameters
        ----------
        inputs : ndarray, shape (T, 9)
        trials : ndarray, shape (n_trials, 7)
            Trial table whose onset steps index ``inputs``.

        Returns
        -------
        choice : ndarray of int, shape (n_trials,)
        rt : ndarray of float, shape (n_trials,)
        """
        sim = self.simulate(inputs, **kwargs)
        return model_responses(sim.action_prob, trials)
