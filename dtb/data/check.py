"""``dtb data check``: validate a TCP-layout dataset without writing to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dtb.data.cohort import read_participants
from dtb.data.events import EventsError, read_events
from dtb.data.timeseries import TimeseriesError, read_timeseries
from dtb.layout import PARCELLATED_DIR, REST, bids_id, events_path, timeseries_path
from dtb.tasks import TASK_RUNS


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset."""

    participant: str | None
    run: str | None
    kind: str  # "missing", "invalid" or "dataset"
    message: str

    def __str__(self) -> str:
        where = " ".join(x for x in (self.participant, self.run) if x)
        return f"[{self.kind}] {where + ': ' if where else ''}{self.message}"


@dataclass
class CheckReport:
    """Result of :func:`check_dataset`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per participant: status of each run (``ok``, ``missing``, ``invalid``) and
        ``usable`` (rest FC plus at least one usable task).
    problems : list of Problem
    """

    root: Path
    table: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)

    def failed(self, allow_missing: bool = False) -> bool:
        """Whether the check fails (missing runs count unless ``allow_missing``)."""
        return any(not (allow_missing and p.kind == "missing") for p in self.problems)

    def format(self) -> str:
        """Human-readable report: the usability table, then every problem."""
        lines = [self.table.to_string(index=False), ""]
        n_usable = int(self.table["usable"].sum()) if len(self.table) else 0
        lines.append(f"{n_usable} of {len(self.table)} participants usable")
        if self.problems:
            lines.append(f"{len(self.problems)} problem(s):")
            lines.extend(f"  {p}" for p in self.problems)
        else:
            lines.append("no problems found")
        return "\n".join(lines)


def check_dataset(root: Path | str, *, events_only: bool = False) -> CheckReport:
    """Validate a TCP-layout dataset (real or synthetic). Only reads.

    Checks participants.tsv (present, parseable, no duplicate ids), and for every participant
    the rest run's time series and each task's events and time series: missing files, wrong
    shape or region count, NaN/Inf, missing columns, trials past the run's end. Participant
    folders absent from participants.tsv are reported too.

    Parameters
    ----------
    root : path-like
    events_only : bool
        Check only the events files (for an events-only copy of the data).

    Returns
    -------
    report : CheckReport
    """
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder")
    try:
        participants = read_participants(root)
    except ValueError as exc:
        problems.append(Problem(None, None, "dataset", str(exc)))
        return CheckReport(root, pd.DataFrame(columns=["participant", "usable"]), problems)

    listed = set(participants)
    for folder in sorted(root.glob("sub-*")):
        if folder.is_dir() and folder.name not in listed:
            problems.append(
                Problem(folder.name, None, "dataset", "folder present but not in participants.tsv")
            )
    parcel_root = root / PARCELLATED_DIR
    if parcel_root.is_dir():
        for folder in sorted(parcel_root.iterdir()):
            try:
                pid = bids_id(folder.name)
            except ValueError:
                continue
            if pid not in listed:
                problems.append(
                    Problem(pid, None, "dataset", f"{folder} present but not in participants.tsv")
                )

    rows = []
    for p in participants:
        row: dict[str, object] = {"participant": p}
        if not events_only:
            row["rest"] = _status(
                problems,
                p,
                REST.name,
                timeseries_path(root, p, REST),
                lambda path: read_timeseries(path, REST),
            )
        for run in TASK_RUNS:
            ev = _status(
                problems,
                p,
                f"{run.name} events",
                events_path(root, p, run),
                lambda path, run=run: read_events(path, run),
            )
            if events_only:
                row[run.name] = ev
                continue
            ts = _status(
                problems,
                p,
                f"{run.name} bold",
                timeseries_path(root, p, run),
                lambda path, run=run: read_timeseries(path, run),
            )
            row[run.name] = ev if ev != "ok" else ts
        tasks_ok = any(row[r.name] == "ok" for r in TASK_RUNS)
        row["usable"] = tasks_ok and (events_only or row["rest"] == "ok")
        rows.append(row)
    return CheckReport(root, pd.DataFrame(rows), problems)


def _status(problems: list[Problem], participant: str, run: str, path: Path, reader) -> str:
    if not path.is_file():
        problems.append(Problem(participant, run, "missing", f"{path} not found"))
        return "missing"
    try:
        reader(path)
    except (EventsError, TimeseriesError, ValueError) as exc:
        problems.append(Problem(participant, run, "invalid", str(exc)))
        return "invalid"
    return "ok"


def check_source(source) -> CheckReport:
    """Validate a dataset read through a source (:mod:`dtb.data.sources`). Only reads.

    For every participant, the rest time series and each task run (events, time series, TR,
    regions against the atlas) are read as ``dtb prepare`` reads them; each problem names the
    file. The atlas itself (label file, target table) is checked first: a dataset problem.

    Parameters
    ----------
    source : dtb.data.sources.Source

    Returns
    -------
    report : CheckReport
    """
    from dtb.data.sources import RunError
    from dtb.tasks import TASK_NAMES

    problems: list[Problem] = []
    try:
        participants = source.participants()
        atlas = source.atlas
    except ValueError as exc:
        problems.append(Problem(None, None, "dataset", str(exc)))
        return CheckReport(source.root, pd.DataFrame(columns=["participant", "usable"]), problems)
    rows = []
    for p in participants:
        row: dict[str, object] = {"participant": p}
        steps = [("rest", lambda p=p: source.rest(p))]
        steps += [
            (t, lambda p=p, t=t: atlas.region_signals(source.task(p, t).timeseries, where=p))
            for t in TASK_NAMES
        ]
        for name, read in steps:
            try:
                read()
                row[name] = "ok"
            except (EventsError, TimeseriesError, ValueError) as exc:
                kind = getattr(exc, "kind", "invalid") if isinstance(exc, RunError) else "invalid"
                problems.append(Problem(p, name, kind, str(exc)))
                row[name] = kind
        row["usable"] = row["rest"] == "ok" and any(row[t] == "ok" for t in TASK_NAMES)
        rows.append(row)
    return CheckReport(source.root, pd.DataFrame(rows), problems)
