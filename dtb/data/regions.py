"""The 20 target regions whose BOLD signals the twin predicts.

The paper names ten regions per hemisphere (anterior PFC, VLPFC, premotor, M1, S1, superior
parietal, auditory, higher visual, V1, amygdala) but its parcel table (Table S6) is not public.
Our choice of parcels from the 434-region TCP parcellation (Schaefer-400 17-network, Tian S2,
cerebellum) lives in one file, ``dtb/resources/target_regions.tsv``; each target's signal is the
mean of its parcels' signals. Schaefer's 17 networks do not separate M1 from S1: M1 takes the
numbered SomMotA parcels, S1 the DorsAttnB post-central parcels.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from dtb.layout import N_REGIONS

#: Parcel indices of the right amygdala (lateral, medial) in the 434-region parcellation.
RIGHT_AMYGDALA_PARCELS = (402, 403)


@cache
def target_regions() -> pd.DataFrame:
    """The target-region table.

    Returns
    -------
    table : pandas.DataFrame, shape (20, 7)
        Columns ``index, target, region, hemisphere, description, parcels, parcel_labels``;
        ``parcels`` is a tuple of 0-based row indices into the (434, T) time series.
    """
    with resources.files("dtb.resources").joinpath("target_regions.tsv").open() as f:
        df = pd.read_csv(f, sep="\t")
    df["parcels"] = df["parcels"].astype(str).map(lambda s: tuple(int(x) for x in s.split(",")))
    return df


def target_names() -> list[str]:
    """Names of the 20 targets in output order (``aPFC_L``, ``aPFC_R``, ..., ``AMY_R``)."""
    return target_regions()["target"].tolist()


def target_index(name: str) -> int:
    """Output index of a target by name, e.g. ``target_index("AMY_R")``."""
    names = target_names()
    if name not in names:
        raise ValueError(f"unknown target region {name!r}; known: {', '.join(names)}")
    return names.index(name)


def region_signals(timeseries: np.ndarray) -> np.ndarray:
    """Average parcel signals into the 20 target-region signals.

    Parameters
    ----------
    timeseries : ndarray, shape (434, n_times)

    Returns
    -------
    signals : ndarray, shape (20, n_times)
    """
    ts = np.asarray(timeseries)
    if ts.ndim != 2 or ts.shape[0] != N_REGIONS:
        raise ValueError(f"expected a ({N_REGIONS}, n_times) array, got shape {ts.shape}")
    return np.stack([ts[list(p)].mean(axis=0) for p in target_regions()["parcels"]])
