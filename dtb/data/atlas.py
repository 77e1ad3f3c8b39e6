"""The atlas of a cohort: its regions, their networks, and which of them make the 20 BOLD targets.

The twin predicts the BOLD of 20 named target regions (:func:`dtb.data.regions.target_names`)
and reads the FC of all regions. Which parcels make each target depends on the atlas:

* the TCP parcellation (434 regions: Schaefer-400 17-network, Tian S2, cerebellum) uses the
  hand-made table ``dtb/resources/target_regions.tsv`` (:func:`tcp_atlas`);
* any other labelled atlas (:func:`read_atlas`) takes the parcels from a table the user supplies
  (columns ``target, parcels``: labels or 0-based indices, comma separated), or, when the label
  file has MNI ``x, y, z`` centres, the parcel nearest to each target's MNI centre (the
  ``x, y, z`` columns of the target table).

An :class:`Atlas` travels in the prepared cohort (``meta["atlas"]``), so training, evaluation,
the intervention's network summaries and the figures all read the cohort's own atlas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dtb.data.regions import target_names, target_regions

#: Column names accepted for a region's name and network in a label file (XCP-D's atlas
#: ``*_dseg.tsv`` names them ``label``/``name`` and ``network_label``).
_LABEL_COLUMNS = ("label", "name")
_NETWORK_COLUMNS = ("network", "network_label")


@dataclass(frozen=True)
class Atlas:
    """Regions of a parcellation and the parcels of each BOLD target.

    Attributes
    ----------
    name : str
        The atlas's name (``"tcp434"``, or the label file's name).
    labels : tuple of str, length n_regions
        Region names, in the row order of the time series.
    networks : tuple of str, length n_regions
        Network of every region.
    summaries : tuple of str, length n_regions
        The network each region is counted under in the intervention's summaries (for the TCP
        atlas, the 17 cortical networks, subcortex and cerebellum; otherwise the network).
    targets : tuple of tuple of int, length 20
        0-based region indices averaged into each target, in
        :func:`dtb.data.regions.target_names` order.
    coords : tuple of (x, y, z), optional
        MNI centres of the regions, when known.
    """

    name: str
    labels: tuple[str, ...]
    networks: tuple[str, ...]
    summaries: tuple[str, ...]
    targets: tuple[tuple[int, ...], ...]
    coords: tuple[tuple[float, float, float], ...] | None = None

    def __post_init__(self):
        n = len(self.labels)
        if n < 2:
            raise ValueError(f"atlas {self.name!r}: {n} region(s); FC needs at least 2")
        for what in ("networks", "summaries"):
            if len(getattr(self, what)) != n:
                raise ValueError(
                    f"atlas {self.name!r}: {len(getattr(self, what))} {what} for {n} regions"
                )
        if self.coords is not None and len(self.coords) != n:
            raise ValueError(f"atlas {self.name!r}: {len(self.coords)} coordinates for {n} regions")
        if len(self.targets) != len(target_names()):
            raise ValueError(
                f"atlas {self.name!r}: {len(self.targets)} target groups, expected "
                f"{len(target_names())}"
            )
        for name, group in zip(target_names(), self.targets, strict=True):
            if not group or not all(0 <= k < n for k in group):
                raise ValueError(
                    f"atlas {self.name!r}: target {name} has parcels {group} outside 0..{n - 1}"
                )

    @property
    def n_regions(self) -> int:
        """Number of regions (rows of a time series)."""
        return len(self.labels)

    @property
    def n_fc(self) -> int:
        """Length of the FC vector: the upper triangle, ``n (n - 1) / 2``."""
        return self.n_regions * (self.n_regions - 1) // 2

    def summary_networks(self) -> tuple[str, ...]:
        """The summary networks in order of first appearance."""
        return tuple(dict.fromkeys(self.summaries))

    def region_signals(self, timeseries: np.ndarray, *, where: str = "") -> np.ndarray:
        """Average parcel signals into the 20 target-region signals.

        Parameters
        ----------
        timeseries : ndarray, shape (n_regions, n_times)
        where : str
            Names the file in errors.

        Returns
        -------
        signals : ndarray, shape (20, n_times)
        """
        ts = np.asarray(timeseries)
        if ts.ndim != 2 or ts.shape[0] != self.n_regions:
            prefix = f"{where}: " if where else ""
            raise ValueError(
                f"{prefix}expected a ({self.n_regions}, n_times) array for atlas {self.name!r}, "
                f"got shape {ts.shape}"
            )
        return np.stack([ts[list(g)].mean(axis=0) for g in self.targets])

    def parcel_table(self) -> pd.DataFrame:
        """One row per region: ``label, network, summary`` and, when known, ``x, y, z``."""
        table = pd.DataFrame(
            {"label": self.labels, "network": self.networks, "summary": self.summaries}
        )
        if self.coords is not None:
            table[["x", "y", "z"]] = np.asarray(self.coords, dtype=float)
        return table

    def to_dict(self) -> dict:
        """A JSON-ready dict (:meth:`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Atlas:
        """The atlas of :meth:`to_dict`."""
        coords = d.get("coords")
        return cls(
            name=str(d["name"]),
            labels=tuple(d["labels"]),
            networks=tuple(d["networks"]),
            summaries=tuple(d["summaries"]),
            targets=tuple(tuple(int(k) for k in g) for g in d["targets"]),
            coords=None if coords is None else tuple(tuple(map(float, c)) for c in coords),
        )


def tcp_atlas(labels: Path | str | None = None) -> Atlas:
    """The 434-region TCP parcellation with the hand-made target table.

    Parameters
    ----------
    labels : path-like, optional
        The dataset's ``region_labels_434.tsv`` (:func:`dtb.data.parcellation.parcel_table`);
        default: names built from the approximate network map.
    """
    from dtb.data.parcellation import parcel_table

    table = parcel_table(labels)
    coords = None
    if {"x", "y", "z"} <= set(table.columns):
        coords = tuple(tuple(map(float, r)) for r in table[["x", "y", "z"]].to_numpy())
    return Atlas(
        name="tcp434",
        labels=tuple(table["label"]),
        networks=tuple(table["network"]),
        summaries=tuple(table["summary"]),
        targets=tuple(target_regions()["parcels"]),
        coords=coords,
    )


def read_labels(path: Path | str) -> pd.DataFrame:
    """Read an atlas label file.

    Parameters
    ----------
    path : path-like
        TSV with one row per region, in the order of the time series' regions (or of an
        ``index`` column, when present): a name column (``label`` or ``name``), a network column
        (``network`` or ``network_label``), optionally ``summary`` and MNI ``x, y, z``. XCP-D's
        ``atlas-*_dseg.tsv`` reads as it is when it has a network column.

    Returns
    -------
    table : pandas.DataFrame, shape (n_regions, 3) or (n_regions, 6)
        Columns ``label, network, summary`` and, when given, ``x, y, z``; index 0..n-1.

    Raises
    ------
    ValueError
        Naming the file: a missing column, duplicate labels, non-numeric coordinates.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: atlas label file not found")
    try:
        raw = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot parse atlas label file ({exc})") from exc
    label = next((c for c in _LABEL_COLUMNS if c in raw.columns), None)
    network = next((c for c in _NETWORK_COLUMNS if c in raw.columns), None)
    if label is None or network is None:
        raise ValueError(
            f"{path}: an atlas label file needs a name column ({' or '.join(_LABEL_COLUMNS)}) and "
            f"a network column ({' or '.join(_NETWORK_COLUMNS)}); found {', '.join(raw.columns)}"
        )
    if "index" in raw.columns:
        raw = raw.sort_values("index", kind="stable")
    table = pd.DataFrame(
        {"label": raw[label].astype(str).to_numpy(), "network": raw[network].astype(str).to_numpy()}
    )
    dup = table["label"][table["label"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: duplicate region label(s) {sorted(set(dup))[:5]}")
    table["summary"] = (
        raw["summary"].astype(str).to_numpy() if "summary" in raw else table["network"]
    )
    if {"x", "y", "z"} <= set(raw.columns):
        try:
            table[["x", "y", "z"]] = raw[["x", "y", "z"]].to_numpy(dtype=float)
        except ValueError as exc:
            raise ValueError(f"{path}: x, y, z must be numbers ({exc})") from exc
    return table


def targets_from_table(labels: pd.DataFrame, path: Path | str) -> tuple[tuple[int, ...], ...]:
    """Target parcels from a user's table (columns ``target, parcels``).

    ``parcels`` lists region labels or 0-based indices, comma separated. Every one of the 20
    targets needs a row.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path}: cannot read the target table ({exc})") from exc
    if not {"target", "parcels"} <= set(table.columns):
        raise ValueError(f"{path}: a target table needs columns target and parcels")
    by_label = {lab: k for k, lab in enumerate(labels["label"])}
    rows = dict(zip(table["target"].str.strip(), table["parcels"], strict=True))
    missing = [t for t in target_names() if t not in rows]
    if missing:
        raise ValueError(f"{path}: no row for target(s) {', '.join(missing)}")
    groups = []
    for name in target_names():
        group = []
        for item in (s.strip() for s in rows[name].split(",") if s.strip()):
            if item in by_label:
                group.append(by_label[item])
            elif item.isdigit() and int(item) < len(labels):
                group.append(int(item))
            else:
                raise ValueError(
                    f"{path}: target {name}: {item!r} is neither a region label "
                    f"nor an index 0..{len(labels) - 1}"
                )
        if not group:
            raise ValueError(f"{path}: target {name} lists no parcel")
        groups.append(tuple(group))
    return tuple(groups)


def nearest_targets(labels: pd.DataFrame, *, where: str = "") -> tuple[tuple[int, ...], ...]:
    """For each target, the region whose MNI centre lies nearest the target's centre.

    Raises
    ------
    ValueError
        When the label table has no finite ``x, y, z``.
    """
    if not {"x", "y", "z"} <= set(labels.columns):
        raise ValueError(
            f"{where}: the label file has no x, y, z columns; supply a target table "
            "(--targets) or MNI centres of the regions"
        )
    xyz = labels[["x", "y", "z"]].to_numpy(dtype=float)
    if not np.isfinite(xyz).all():
        raise ValueError(f"{where}: some regions lack MNI coordinates")
    centres = target_regions()[["x", "y", "z"]].to_numpy(dtype=float)
    dist = np.linalg.norm(xyz[None, :, :] - centres[:, None, :], axis=2)
    return tuple((int(k),) for k in dist.argmin(axis=1))


def read_atlas(labels: Path | str, targets: Path | str | None = None) -> Atlas:
    """An atlas from a label file, with targets from a table or by MNI lookup.

    Parameters
    ----------
    labels : path-like
        Label file (:func:`read_labels`).
    targets : path-like, optional
        Target table (:func:`targets_from_table`); default: nearest region to each target's
        MNI centre (:func:`nearest_targets`), which needs ``x, y, z`` in the label file.
    """
    labels = Path(labels)
    table = read_labels(labels)
    groups = (
        targets_from_table(table, targets)
        if targets is not None
        else nearest_targets(table, where=str(labels))
    )
    coords = None
    if {"x", "y", "z"} <= set(table.columns):
        coords = tuple(tuple(map(float, r)) for r in table[["x", "y", "z"]].to_numpy())
    name = labels.name.removesuffix(".tsv")
    return Atlas(
        name=name,
        labels=tuple(table["label"]),
        networks=tuple(table["network"]),
        summaries=tuple(table["summary"]),
        targets=groups,
        coords=coords,
    )
