"""The PLS step: the direction in the twins' weight space that moves an indicator.

The generated main-network weights ``W`` (participants x P) and an indicator ``s`` (one value
per twin) are standardised; the first PLS weight vector ``v = W^T s / |W^T s|`` (the paper's
direction, checked against scikit-learn's ``PLSRegression``) is signed so that ``+v`` lowers the
indicator, and the latent ``z = W v`` places each twin along it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats


@dataclass
class Direction:
    """A PLS direction in the standardised weight space.

    Attributes
    ----------
    v : ndarray, shape (P,)
        Unit vector; ``+v`` lowers the indicator.
    mean, sd : ndarray, shape (P,)
        Standardisation of the weights (``sd`` 1 where a weight does not vary).
    z : ndarray, shape (S,)
        Latent of each participant.
    r : float
        Pearson r of ``z`` with the indicator (negative by construction of the sign).
    """

    v: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    z: np.ndarray
    r: float

    @property
    def sd_z(self) -> float:
        """SD of the latent over participants (the dose unit)."""
        return float(np.std(self.z, ddof=1))

    def latent(self, weights: np.ndarray | torch.Tensor) -> np.ndarray:
        """``z`` of raw weights (shape (S, P) -> (S,))."""
        w = np.asarray(weights, dtype=np.float64)
        return ((w - self.mean) / self.sd) @ self.v

    def shift(self, weights: torch.Tensor, alpha: float) -> torch.Tensor:
        """``W + alpha SD(z) v``, in raw weight units (shape (S, P))."""
        step = torch.from_numpy(alpha * self.sd_z * self.v * self.sd).to(weights.dtype)
        return weights + step.to(weights.device)


def pls_direction(weights: np.ndarray | torch.Tensor, indicator: np.ndarray) -> Direction:
    """First PLS weight vector of standardised weights against a standardised indicator.

    Parameters
    ----------
    weights : array, shape (S, P)
        Generated main-network weights of ``S`` participants.
    indicator : ndarray, shape (S,)

    Returns
    -------
    direction : Direction
        ``v = -X^T y / |X^T y|`` with ``X``, ``y`` standardised (ddof 1, as scikit-learn's
        ``PLSRegression(scale=True)``), so ``+v`` lowers the indicator.

    Raises
    ------
    ValueError
        On mismatched shapes, NaN, fewer than 3 participants or an indicator without variance.
    """
    x = np.asarray(weights, dtype=np.float64)
    y = np.asarray(indicator, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"weights (S, P) and indicator (S,) expected, got {x.shape} and {y.shape}")
    if len(y) < 3:
        raise ValueError(f"a direction needs at least 3 participants, got {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("weights or indicator hold NaN/Inf")
    if np.ptp(y) == 0:
        raise ValueError(
            f"the indicator has zero variance across {len(y)} participants: no direction"
        )
    mean, sd = x.mean(0), x.std(0, ddof=1)
    sd[sd == 0] = 1.0
    xs = (x - mean) / sd
    ys = (y - y.mean()) / y.std(ddof=1)
    w = xs.T @ ys
    norm = np.linalg.norm(w)
    if norm == 0:
        raise ValueError("the weights do not covary with the indicator: no direction")
    v = -w / norm
    z = xs @ v
    return Direction(v=v, mean=mean, sd=sd, z=z, r=float(stats.pearsonr(z, y)[0]))
