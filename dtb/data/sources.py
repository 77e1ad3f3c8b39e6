"""Where a cohort's files come from: one reader per dataset layout.

``dtb prepare`` reads any layout through the same small interface, a *source*:

* :class:`TcpSource`: OpenNeuro ds005237 (TCP) as published (HDF5 parcellated time series in
  434 regions, TR 0.8 s; events in the BIDS folders);
* :class:`dtb.data.derivatives.DerivativeSource`: BIDS derivatives as XCP-D or nilearn write
  them (per-run parcellated time series in any atlas, TR from the sidecars, events from the
  BIDS raw folder).

A source names its participants, lists the files a cache depends on, and hands over each
participant's rest time series and task runs, with the atlas and TR of the cohort. Its errors
are :class:`RunError` naming the file, so that one bad file skips one run, never the cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from dtb.data.atlas import Atlas
from dtb.layout import Run

LAYOUTS = ("tcp", "bids-derivatives")


class RunError(ValueError):
    """A run that cannot be used; the message names the file and what is wrong.

    ``kind`` is ``"missing"`` (no file for the run) or ``"invalid"`` (a file that is wrong).
    """

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class TaskRun:
    """One task run as a source hands it over.

    Attributes
    ----------
    events : pandas.DataFrame
        Validated events (:func:`dtb.data.events.read_events`).
    timeseries : ndarray, shape (n_regions, n_volumes)
    run : Run
        The run, with its own number of volumes and TR.
    """

    events: pd.DataFrame
    timeseries: np.ndarray
    run: Run


class Source(Protocol):
    """What ``dtb prepare`` needs of a dataset layout."""

    root: Path
    layout: str

    @property
    def atlas(self) -> Atlas: ...

    @property
    def tr(self) -> float: ...

    def participants(self) -> list[str]: ...

    def input_files(self, participants: list[str]) -> list[Path]: ...

    def rest(self, participant: str) -> np.ndarray: ...

    def task(self, participant: str, task: str) -> TaskRun: ...

    def description(self) -> dict: ...


class TcpSource:
    """The TCP layout (:mod:`dtb.layout`): the published dataset and ``dtb data synth``.

    Parameters
    ----------
    root : path-like
        Dataset root.
    labels : path-like, optional
        The 434-region label file (``region_labels_434.tsv``); names and networks only.
    """

    layout = "tcp"

    def __init__(self, root: Path | str, labels: Path | str | None = None):
        from dtb.data.atlas import tcp_atlas

        self.root = Path(root)
        self._atlas = tcp_atlas(labels)

    @property
    def atlas(self) -> Atlas:
        return self._atlas

    @property
    def tr(self) -> float:
        from dtb.layout import TR

        return TR

    def participants(self) -> list[str]:
        from dtb.data.cohort import read_participants

        return read_participants(self.root)

    def input_files(self, participants: list[str]) -> list[Path]:
        from dtb.layout import REST, events_path, timeseries_path
        from dtb.tasks import TASK_RUNS

        files = [self.root / "participants.tsv"]
        for p in participants:
            for run in (REST, *TASK_RUNS):
                for path in (timeseries_path(self.root, p, run), events_path(self.root, p, run)):
                    if path.is_file():
                        files.append(path)
        return files

    def rest(self, participant: str) -> np.ndarray:
        from dtb.data.timeseries import read_timeseries
        from dtb.layout import REST, timeseries_path

        return read_timeseries(timeseries_path(self.root, participant, REST), REST)

    def task(self, participant: str, task: str) -> TaskRun:
        from dtb.data.events import read_events
        from dtb.data.timeseries import read_timeseries
        from dtb.layout import events_path, timeseries_path
        from dtb.tasks import get_task

        run = get_task(task).run
        events = read_events(events_path(self.root, participant, run), run)
        ts = read_timeseries(timeseries_path(self.root, participant, run), run)
        return TaskRun(events=events, timeseries=ts, run=run)

    def description(self) -> dict:
        return {"layout": self.layout, "atlas": self.atlas.name, "tr": self.tr}


def open_source(root: Path | str, layout: str = "tcp", **options) -> Source:
    """The source of a dataset folder.

    Parameters
    ----------
    root : path-like
        The dataset (for ``bids-derivatives``, the BIDS raw folder with events and sidecars).
    layout : {"tcp", "bids-derivatives", "auto"}
        ``auto``: ``tcp`` when ``root`` holds the TCP parcellated-time-series folder or no
        ``derivatives`` folder (and none is named), else ``bids-derivatives``.
    **options
        Passed to the source (``labels``; for derivatives also ``derivatives``, ``atlas``,
        ``targets``, ``task_labels``, ``rest``).
    """
    from dtb.layout import PARCELLATED_DIR

    root = Path(root)
    if layout == "auto":
        derivative = (root / "derivatives").is_dir() or options.get("derivatives") is not None
        layout = (
            "tcp" if (root / PARCELLATED_DIR).is_dir() or not derivative else "bids-derivatives"
        )
    if layout == "tcp":
        unknown = set(options) - {"labels"}
        if any(options[k] is not None for k in unknown):
            raise ValueError(
                f"option(s) {', '.join(sorted(unknown))} apply to --layout bids-derivatives only"
            )
        return TcpSource(root, labels=options.get("labels"))
    if layout == "bids-derivatives":
        from dtb.data.derivatives import DerivativeSource

        return DerivativeSource(root, **{k: v for k, v in options.items() if v is not None})
    raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)} or auto")
