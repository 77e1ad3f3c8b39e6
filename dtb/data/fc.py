"""Resting-state functional connectivity as the hypernetwork's input vector."""

from __future__ import annotations

import numpy as np

#: Correlations are clipped to +-(1 - FC_CLIP_EPS) before Fisher's z so that the diagonal or a
#: duplicated region cannot produce infinities.
FC_CLIP_EPS = 1e-7


def n_edges(n_regions: int) -> int:
    """Number of upper-triangle edges of an ``n_regions`` x ``n_regions`` matrix."""
    return n_regions * (n_regions - 1) // 2


def correlation_matrix(timeseries: np.ndarray) -> np.ndarray:
    """Pearson correlation between regions.

    Parameters
    ----------
    timeseries : ndarray, shape (n_regions, n_times)

    Returns
    -------
    corr : ndarray, shape (n_regions, n_regions)
        Symmetric, unit diagonal.

    Raises
    ------
    ValueError
        If a region's signal is constant (its correlation is undefined).
    """
    ts = np.asarray(timeseries, dtype=np.float64)
    if ts.ndim != 2 or ts.shape[1] < 3:
        raise ValueError(f"expected (n_regions, n_times >= 3), got shape {ts.shape}")
    sd = ts.std(axis=1)
    flat = np.flatnonzero(sd == 0)
    if flat.size:
        raise ValueError(
            f"constant signal in region(s) {flat[:10].tolist()}: correlation undefined"
        )
    corr = np.corrcoef(ts)
    np.fill_diagonal(corr, 1.0)
    return corr


def fisher_z(corr: np.ndarray) -> np.ndarray:
    """Fisher's z = arctanh(r), with r clipped to +-(1 - 1e-7) so the result stays finite."""
    return np.arctanh(np.clip(corr, -1 + FC_CLIP_EPS, 1 - FC_CLIP_EPS))


def fc_vector(timeseries: np.ndarray) -> np.ndarray:
    """FC feature vector: Fisher-z Pearson correlations, upper triangle (k=1), row-major.

    Parameters
    ----------
    timeseries : ndarray, shape (n_regions, n_times)

    Returns
    -------
    fc : ndarray of float64, shape (n_regions * (n_regions - 1) / 2,)
        93,961 features for the 434-region parcellation.
    """
    corr = correlation_matrix(timeseries)
    iu = np.triu_indices(corr.shape[0], k=1)
    return fisher_z(corr[iu])


def vector_to_matrix(fc: np.ndarray, n_regions: int, diagonal: float = 0.0) -> np.ndarray:
    """Inverse of the upper-triangle vectorisation.

    Parameters
    ----------
    fc : ndarray, shape (n_edges,)
    n_regions : int
    diagonal : float
        Value for the diagonal (0 for Fisher-z maps, 1 for correlations).

    Returns
    -------
    matrix : ndarray, shape (n_regions, n_regions), symmetric.
    """
    fc = np.asarray(fc)
    if fc.shape != (n_edges(n_regions),):
        raise ValueError(
            f"FC vector of shape {fc.shape} does not match {n_regions} regions "
            f"({n_edges(n_regions)} edges)"
        )
    m = np.zeros((n_regions, n_regions), dtype=fc.dtype)
    iu = np.triu_indices(n_regions, k=1)
    m[iu] = fc
    m = m + m.T
    np.fill_diagonal(m, diagonal)
    return m
