"""Reading and validating the parcellated h5 time series of the TCP layout."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from dtb.layout import H5_KEY, N_REGIONS, Run


class TimeseriesError(ValueError):
    """A time-series file that cannot be used; the message names the file."""


def read_timeseries(path: Path | str, run: Run, n_regions: int = N_REGIONS) -> np.ndarray:
    """Read one run's parcellated time series.

    Parameters
    ----------
    path : path-like
        HDF5 file with key ``"dataset"`` holding a float array of shape (n_regions, n_volumes).
    run : Run
        The run, for the expected number of volumes.
    n_regions : int
        Expected number of regions (434 for the TCP parcellation).

    Returns
    -------
    data : ndarray of float64, shape (n_regions, n_volumes)

    Raises
    ------
    TimeseriesError
        If the file is missing or unreadable, lacks the key, has the wrong shape, or holds
        NaN/Inf values.
    """
    path = Path(path)
    if not path.is_file():
        raise TimeseriesError(f"{path}: time-series file not found")
    try:
        with h5py.File(path, "r") as f:
            if H5_KEY not in f:
                raise TimeseriesError(f"{path}: no {H5_KEY!r} dataset (keys: {list(f.keys())})")
            data = np.asarray(f[H5_KEY][()], dtype=np.float64)
    except TimeseriesError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise TimeseriesError(f"{path}: cannot read HDF5 ({exc})") from exc
    expected = (n_regions, run.n_volumes)
    if data.shape != expected:
        raise TimeseriesError(
            f"{path}: shape {data.shape}, expected {expected} (regions x volumes) for {run.name}"
        )
    if not np.isfinite(data).all():
        n_bad = int((~np.isfinite(data)).sum())
        raise TimeseriesError(f"{path}: {n_bad} NaN/Inf value(s)")
    return data
