"""The PLS step: the direction in the twins' weight space that moves an indicator.

The generated main-network weights ``W`` (participants x P) and an indicator ``s`` (one value
per twin) are standardised, and a unit vector ``v`` in that space is signed so that ``+v`` lowers
the indicator; the latent ``z = W v`` places each twin along it. Two ways to find ``v``:

* ``pls`` (the paper): the first PLS weight vector ``v = W^T s / |W^T s|``, checked against
  scikit-learn's ``PLSRegression``. It weighs every direction of weight variation by how much
  the weights vary along it, and that metric is set by the hypernetwork's parameters: twins
  trained from other seeds vary along the same participant directions with other metrics, so
  their directions, and the connectome targets found from them, differ.
* ``ridge`` (the recommended design): the coefficients of a ridge regression of ``s`` on ``W``
  (scikit-learn's ``RidgeCV``, penalty by leave-one-out over the twins). With a small penalty
  the latent is the part of ``s`` that the weights' participant subspace explains, whatever the
  metric (it tends to PLS as the penalty grows).
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
    method : {"pls", "ridge"}
        How ``v`` was found.
    penalty : float or None
        The ridge penalty chosen by leave-one-out, relative to the largest eigenvalue of the
        standardised weights' Gram matrix (``None`` for PLS).
    """

    v: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    z: np.ndarray
    r: float
    method: str = "pls"
    penalty: float | None = None

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


DIRECTIONS = ("pls", "ridge")
RIDGE_PENALTIES = np.logspace(-5, 2, 29)  # x the largest eigenvalue of the weights' Gram matrix


def _standardised(weights, indicator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, ys, mean, sd)``: weights and indicator standardised (ddof 1), after checks."""
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
    return (x - mean) / sd, (y - y.mean()) / y.std(ddof=1), mean, sd


def _direction(w, xs, y, mean, sd, method: str, penalty: float | None = None) -> Direction:
    norm = np.linalg.norm(w)
    if norm == 0:
        raise ValueError("the weights do not covary with the indicator: no direction")
    v = -w / norm
    z = xs @ v
    r = float(stats.pearsonr(z, y)[0])
    return Direction(v=v, mean=mean, sd=sd, z=z, r=r, method=method, penalty=penalty)


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
    xs, ys, mean, sd = _standardised(weights, indicator)
    return _direction(xs.T @ ys, xs, np.asarray(indicator, dtype=float), mean, sd, "pls")


def ridge_direction(weights: np.ndarray | torch.Tensor, indicator: np.ndarray) -> Direction:
    """Ridge-regression coefficients of a standardised indicator on standardised weights.

    Parameters
    ----------
    weights : array, shape (S, P)
        Generated main-network weights of ``S`` participants.
    indicator : ndarray, shape (S,)

    Returns
    -------
    direction : Direction
        ``v = -b / |b|`` with ``b`` the coefficients of scikit-learn's ``RidgeCV``, its
        penalty chosen by leave-one-out among :data:`RIDGE_PENALTIES` times the largest
        eigenvalue of ``X X^T`` (so the grid follows the weights' scale); ``+v`` lowers the
        indicator.

    Raises
    ------
    ValueError
        As :func:`pls_direction`.
    """
    from sklearn.linear_model import RidgeCV

    xs, ys, mean, sd = _standardised(weights, indicator)
    top = float(np.linalg.norm(xs, 2) ** 2)
    if top == 0:
        raise ValueError("the weights do not vary across twins: no direction")
    fit = RidgeCV(alphas=top * RIDGE_PENALTIES, fit_intercept=True).fit(xs, ys)
    y = np.asarray(indicator, dtype=float)
    return _direction(fit.coef_, xs, y, mean, sd, "ridge", float(fit.alpha_ / top))


def find_direction(weights, indicator, method: str) -> Direction:
    """:func:`pls_direction` or :func:`ridge_direction`, by name."""
    if method not in DIRECTIONS:
        raise ValueError(f"unknown direction {method!r}; choose from {', '.join(DIRECTIONS)}")
    return (pls_direction if method == "pls" else ridge_direction)(weights, indicator)
