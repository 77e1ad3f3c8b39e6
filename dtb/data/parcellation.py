"""Names and networks of the 434 regions of the TCP parcellation.

The parcellated h5 files hold Schaefer-400 (17 networks), Tian S2 subcortex and two cerebellum
regions, in that order. The dataset ships no label file; the authors' processing repository has
one (``region_labels_434.tsv``: ``index, label, network``). :func:`parcel_table` reads such a file
when given; without it, it builds the table from the left hemisphere's network order, which the
right hemisphere follows only approximately (the synthetic cohort uses exactly this map). A
label file may add MNI ``x, y, z`` columns, which the glass-brain plots need.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dtb.layout import N_REGIONS

#: Schaefer-400 17-network systems as [start, stop) offsets within a hemisphere, in the order of
#: the TCP parcellation's left hemisphere (0-199). The right hemisphere (200-399) follows the same
#: order with a few parcels out of place, so the same offsets + 200 serve as its approximate map.
CORTICAL_NETWORKS: tuple[tuple[str, int, int], ...] = (
    ("TempPar", 0, 5),
    ("DefaultC", 5, 10),
    ("DefaultB", 10, 34),
    ("DefaultA", 34, 50),
    ("ContC", 50, 55),
    ("ContB", 55, 64),
    ("ContA", 64, 80),
    ("LimbicA", 80, 86),
    ("LimbicB", 86, 94),
    ("SalVentAttnB", 94, 102),
    ("SalVentAttnA", 102, 118),
    ("DorsAttnB", 118, 133),
    ("DorsAttnA", 133, 144),
    ("SomMotB", 144, 161),
    ("SomMotA", 161, 179),
    ("VisPeri", 179, 189),
    ("VisCent", 189, 200),
)
#: Tian S2 subcortex (right 400-415, left 416-431) and cerebellum, as systems.
SUBCORTICAL_SYSTEMS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("MTL", (400, 401, 402, 403, 416, 417, 418, 419)),
    ("thalamus", (404, 405, 406, 407, 420, 421, 422, 423)),
    ("striatum", tuple(range(408, 416)) + tuple(range(424, 432))),
    ("cerebellum", (432, 433)),
)


def network_of_parcels() -> tuple[np.ndarray, tuple[str, ...]]:
    """Network index of every parcel.

    Returns
    -------
    network : ndarray of int, shape (434,)
        Index into ``names``.
    names : tuple of str, length 21
        17 cortical networks (both hemispheres), MTL, thalamus, striatum, cerebellum.
    """
    net = np.full(N_REGIONS, -1, dtype=int)
    names = [n for n, _, _ in CORTICAL_NETWORKS] + [n for n, _ in SUBCORTICAL_SYSTEMS]
    for k, (_, lo, hi) in enumerate(CORTICAL_NETWORKS):
        net[lo:hi] = k
        net[200 + lo : 200 + hi] = k
    for k, (_, parcels) in enumerate(SUBCORTICAL_SYSTEMS, start=len(CORTICAL_NETWORKS)):
        net[list(parcels)] = k
    assert (net >= 0).all()
    return net, tuple(names)


#: Networks of the intervention summaries: the 17 cortical networks, subcortex, cerebellum.
SUMMARY_NETWORKS: tuple[str, ...] = tuple(n for n, _, _ in CORTICAL_NETWORKS) + (
    "subcortex",
    "cerebellum",
)
_SUBCORTEX = {"MTL", "thalamus", "striatum", "medial_temporal_lobe"}
_CEREBELLUM = {"cerebellum", "cerebellum_left", "cerebellum_right"}


def summary_network(network: str) -> str:
    """The :data:`SUMMARY_NETWORKS` entry of a network name (subcortical systems pooled)."""
    if network in _SUBCORTEX:
        return "subcortex"
    if network in _CEREBELLUM:
        return "cerebellum"
    if network not in SUMMARY_NETWORKS:
        raise ValueError(f"unknown network {network!r}; known: {', '.join(SUMMARY_NETWORKS)}")
    return network


def parcel_table(labels: Path | str | None = None) -> pd.DataFrame:
    """One row per region: name, network and (when the label file has them) MNI coordinates.

    Parameters
    ----------
    labels : path-like, optional
        TSV with columns ``index, label, network`` and optionally ``x, y, z`` (434 rows, indices
        0..433). Default: labels built from the approximate network map.

    Returns
    -------
    table : pandas.DataFrame, shape (434, 4) or (434, 7)
        Columns ``label, network, summary`` (the :data:`SUMMARY_NETWORKS` entry) and, when
        available, ``x, y, z``; indexed 0..433.

    Raises
    ------
    ValueError
        If the file lacks a column, has another number of rows, or names an unknown network.
    """
    if labels is None:
        net, names = network_of_parcels()
        count: dict[tuple[str, int], int] = {}
        rows = []
        for i in range(N_REGIONS):
            name = names[net[i]]
            if i < 400:
                hemi = "LH" if i < 200 else "RH"
                count[(name, i >= 200)] = count.get((name, i >= 200), 0) + 1
                rows.append((f"{hemi}_{name}_{count[(name, i >= 200)]}", name))
            else:
                rows.append((f"{name}_{i}", name))
        table = pd.DataFrame(rows, columns=["label", "network"])
    else:
        path = Path(labels)
        table = pd.read_csv(path, sep="\t")
        missing = {"index", "label", "network"} - set(table.columns)
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        if len(table) != N_REGIONS or sorted(table["index"]) != list(range(N_REGIONS)):
            raise ValueError(f"{path}: expected indices 0..{N_REGIONS - 1}, one row each")
        table = table.set_index("index").sort_index()
        table.index.name = None
        keep = ["label", "network"] + [c for c in ("x", "y", "z") if c in table.columns]
        table = table[keep]
        try:
            table["summary"] = table["network"].map(summary_network)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    if "summary" not in table.columns:
        table["summary"] = table["network"].map(summary_network)
    cols = ["label", "network", "summary"] + [c for c in ("x", "y", "z") if c in table.columns]
    return table[cols]


def has_coordinates(table: pd.DataFrame) -> bool:
    """Whether a :func:`parcel_table` carries finite MNI coordinates for every region."""
    return {"x", "y", "z"} <= set(table.columns) and bool(
        np.isfinite(table[["x", "y", "z"]].to_numpy(dtype=float)).all()
    )
