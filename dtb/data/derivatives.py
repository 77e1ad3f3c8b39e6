"""BIDS-derivative input: parcellated time series in any atlas, as XCP-D or nilearn write them.

Expected folders (``dtb prepare ROOT --layout bids-derivatives``)::

    ROOT/                                   the BIDS raw dataset (only read)
        participants.tsv                    optional: participant_id (else the derivative folders)
        task-<label>_bold.json              optional: RepetitionTime for every run of a task
        sub-<id>/[ses-<s>/]func/
            sub-<id>_..._task-<label>_[run-<n>_]events.tsv
            sub-<id>_..._task-<label>_[run-<n>_]bold.json        RepetitionTime (s)
    ROOT/derivatives/<pipeline>/            or --derivatives DIR
        atlases/atlas-<atlas>/atlas-<atlas>_dseg.tsv              region labels (or --labels)
        atlases/atlas-<atlas>/atlas-<atlas>_targets.tsv           optional BOLD target table
        sub-<id>/[ses-<s>/]func/
            sub-<id>_..._task-<label>_..._atlas-<atlas>_..._timeseries.tsv   volumes x regions
            (XCP-D; ``seg-<atlas>`` in older versions) or ``..._timeseries.npy``, an array of
            shape (n_volumes, n_regions) in the label file's order (nilearn's maskers)

The TSV's columns are region labels and are matched to the label file by name. The task runs
must be uninterpolated-in-time series of the whole run (not censored), so that volume ``k`` was
taken at ``k * TR`` seconds and the events' onsets align with it. Rest runs are chosen by a
pattern on the task label (``rest*`` by default); with several, the first (by session, run).
"""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from dtb.data.atlas import Atlas, read_atlas
from dtb.data.sources import RunError, TaskRun
from dtb.layout import Run

_ENTITY = re.compile(r"([a-zA-Z]+)-([a-zA-Z0-9]+)")
_SUFFIXES = ("_timeseries.tsv", "_timeseries.npy")


def entities(path: Path | str) -> dict[str, str]:
    """BIDS entities of a file name, e.g. ``{"sub": "01", "task": "faces", "run": "1"}``."""
    stem = Path(path).name.split(".")[0]
    return {k: v for k, v in _ENTITY.findall(stem)}


def _run_index(ents: dict[str, str]) -> int:
    return int(ents["run"]) if ents.get("run", "").isdigit() else 1


def _same_run(a: dict[str, str], b: dict[str, str]) -> bool:
    """Whether two files belong to one acquisition (subject, session, task, acq, dir, run)."""
    keys = ("sub", "ses", "task", "acq", "dir", "echo")
    return all(a.get(k) == b.get(k) for k in keys) and _run_index(a) == _run_index(b)


class DerivativeSource:
    """A BIDS raw folder plus the parcellated time series of a derivative pipeline.

    Parameters
    ----------
    root : path-like
        BIDS raw dataset: events, sidecars, ``participants.tsv`` and ``phenotype/``.
    derivatives : path-like, optional
        The pipeline's output folder; default: the one folder under ``root/derivatives`` that
        holds time series.
    atlas : str, optional
        The ``atlas-``/``seg-`` label of the time series to read; default: the only one present.
    labels : path-like, optional
        Region label file (:func:`dtb.data.atlas.read_labels`); default: the pipeline's
        ``atlas-<atlas>_dseg.tsv``.
    targets : path-like, optional
        Target table (:func:`dtb.data.atlas.targets_from_table`); default: the label file's
        ``..._targets.tsv`` sibling when present, else the MNI lookup.
    task_labels : dict, optional
        dtb task name -> BIDS task label (default: the dtb names, ``faces`` and ``stroop``).
    rest : str
        Pattern of the rest runs' task label.
    """

    layout = "bids-derivatives"

    def __init__(
        self,
        root: Path | str,
        *,
        derivatives: Path | str | None = None,
        atlas: str | None = None,
        labels: Path | str | None = None,
        targets: Path | str | None = None,
        task_labels: dict[str, str] | None = None,
        rest: str = "rest*",
    ):
        from dtb.tasks import TASK_NAMES

        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"{self.root}: dataset folder not found")
        self.derivatives = Path(derivatives) if derivatives else self._find_derivatives()
        self.files = self._series_files()
        self.atlas_label = atlas or self._only_atlas()
        self.files = [f for f in self.files if self._atlas_of(f) == self.atlas_label]
        if not self.files:
            raise ValueError(
                f"{self.derivatives}: no time series of atlas {self.atlas_label!r} "
                f"(found: {', '.join(sorted(self._atlases())) or 'none'})"
            )
        self.labels_path = Path(labels) if labels else self._find_labels()
        beside = self.labels_path.with_name(
            self.labels_path.name.replace("_dseg.tsv", "_targets.tsv")
        )
        self.targets_path = (
            Path(targets)
            if targets
            else beside
            if beside.is_file() and beside != self.labels_path
            else None
        )
        unknown = set(task_labels or {}) - set(TASK_NAMES)
        if unknown:
            raise ValueError(
                f"no task definition for {', '.join(sorted(unknown))}; known: "
                f"{', '.join(TASK_NAMES)} (dtb.tasks)"
            )
        self.task_labels = {t: (task_labels or {}).get(t, t) for t in TASK_NAMES}
        self.rest_pattern = rest

    # -- discovery ----------------------------------------------------------------------------

    def _find_derivatives(self) -> Path:
        base = self.root / "derivatives"
        found = (
            sorted({p for p in base.glob("*") if p.is_dir() and any(self._series_in(p))})
            if base.is_dir()
            else []
        )
        if len(found) != 1:
            what = ", ".join(p.name for p in found) or "none"
            raise ValueError(
                f"{base}: expected one pipeline folder with *_timeseries.tsv files, found {what}; "
                "name it with --derivatives"
            )
        return found[0]

    @staticmethod
    def _series_in(folder: Path):
        for suffix in _SUFFIXES:
            yield from folder.glob(f"sub-*/**/func/*{suffix}")

    def _series_files(self) -> list[Path]:
        if not self.derivatives.is_dir():
            raise ValueError(f"{self.derivatives}: derivatives folder not found")
        files = sorted(self._series_in(self.derivatives))
        if not files:
            raise ValueError(f"{self.derivatives}: no sub-*/func/*_timeseries.tsv or .npy file")
        return files

    @staticmethod
    def _atlas_of(path: Path) -> str | None:
        ents = entities(path)
        return ents.get("atlas", ents.get("seg"))

    def _atlases(self) -> set[str]:
        return {a for a in map(self._atlas_of, self.files) if a}

    def _only_atlas(self) -> str:
        found = self._atlases()
        if len(found) != 1:
            raise ValueError(
                f"{self.derivatives}: time series of {len(found)} atlases "
                f"({', '.join(sorted(found)) or 'no atlas- entity'}); choose one with --atlas"
            )
        return found.pop()

    def _find_labels(self) -> Path:
        found = sorted(self.derivatives.glob(f"**/*atlas-{self.atlas_label}*_dseg.tsv"))
        if not found:
            raise ValueError(
                f"{self.derivatives}: no atlas-{self.atlas_label}*_dseg.tsv label file; "
                "give one with --labels"
            )
        return found[0]

    # -- the Source interface -----------------------------------------------------------------

    @cached_property
    def atlas(self) -> Atlas:
        try:
            return read_atlas(self.labels_path, self.targets_path)
        except ValueError as exc:
            raise ValueError(f"atlas {self.atlas_label}: {exc}") from exc

    @cached_property
    def tr(self) -> float:
        """The task runs' TR (from the first task run's sidecar): one TR per cohort."""
        for path in self.files:
            ents = entities(path)
            if ents.get("task") in self.task_labels.values():
                return self._sidecar_tr(path)
        raise ValueError(
            f"{self.derivatives}: no task run (task labels "
            f"{', '.join(self.task_labels.values())}); map tasks with --task NAME=LABEL"
        )

    def participants(self) -> list[str]:
        table = self.root / "participants.tsv"
        if table.is_file():
            df = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
            if "participant_id" not in df.columns:
                raise ValueError(f"{table}: no participant_id column")
            ids = [p if p.startswith("sub-") else f"sub-{p}" for p in df["participant_id"]]
            dup = sorted({p for p in ids if ids.count(p) > 1})
            if dup:
                raise ValueError(f"{table}: duplicate participant(s) {', '.join(dup)}")
            return ids
        return sorted({f"sub-{entities(f)['sub']}" for f in self.files if "sub" in entities(f)})

    def input_files(self, participants: list[str]) -> list[Path]:
        files = [self.labels_path]
        if self.targets_path is not None:
            files.append(self.targets_path)
        for name in (
            "participants.tsv",
            *(f"task-{t}_bold.json" for t in self.task_labels.values()),
        ):
            if (self.root / name).is_file():
                files.append(self.root / name)
        wanted = set(participants)
        for path in self.files:
            if f"sub-{entities(path).get('sub')}" not in wanted:
                continue
            files.append(path)
            for kind in ("events.tsv", "bold.json"):
                match = self._raw_file(path, kind, required=False)
                if match is not None:
                    files.append(match)
        return files

    def rest(self, participant: str) -> np.ndarray:
        path = self._series(participant, self.rest_pattern, what="rest")
        return self._read_series(path)

    def task(self, participant: str, task: str) -> TaskRun:
        from dtb.data.events import read_events

        path = self._series(participant, self.task_labels[task], what=task)
        ts = self._read_series(path)
        tr = self._sidecar_tr(path)
        if abs(tr - self.tr) > 1e-6:
            raise RunError(
                f"{path}: TR {tr:g} s differs from the cohort's {self.tr:g} s (the first task "
                "run's); prepare runs of one TR together"
            )
        ents = entities(path)
        run = Run(task, ents.get("task", task), _run_index(ents), ts.shape[1], tr)
        events = read_events(self._raw_file(path, "events.tsv"), run, expect_trials=False)
        return TaskRun(events=events, timeseries=ts, run=run)

    def description(self) -> dict:
        return {
            "layout": self.layout,
            "derivatives": self._relative(self.derivatives),
            "atlas": self.atlas_label,
            "labels": self._relative(self.labels_path),
            "targets": self._relative(self.targets_path) if self.targets_path else "MNI lookup",
            "task_labels": self.task_labels,
            "rest": self.rest_pattern,
            "tr": self.tr,
        }

    def _relative(self, path: Path) -> str:
        """``path`` relative to the dataset root when inside it (cache keys survive a move)."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    # -- reading ------------------------------------------------------------------------------

    def _series(self, participant: str, pattern: str, *, what: str) -> Path:
        sub = participant.removeprefix("sub-")
        found = [
            f
            for f in self.files
            if entities(f).get("sub") == sub
            and fnmatch.fnmatchcase(entities(f).get("task", ""), pattern)
        ]
        if not found:
            present = sorted(
                {entities(f).get("task", "?") for f in self.files if entities(f).get("sub") == sub}
            )
            hint = "" if what == "rest" else f"; map the task with --task {what}=LABEL"
            raise RunError(
                f"{self.derivatives}/sub-{sub}: no {what} time series (task label {pattern!r}, "
                f"atlas {self.atlas_label}; task labels present: {', '.join(present) or 'none'}"
                f"{hint})",
                kind="missing",
            )
        return min(
            found, key=lambda f: (entities(f).get("ses", ""), _run_index(entities(f)), f.name)
        )

    def _read_series(self, path: Path) -> np.ndarray:
        """(n_regions, n_volumes) in the atlas's region order."""
        labels = list(self.atlas.labels)
        if path.suffix == ".npy":
            try:
                data = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise RunError(f"{path}: cannot read ({exc})") from exc
            if data.ndim != 2 or data.shape[1] != len(labels):
                raise RunError(
                    f"{path}: shape {data.shape}, expected (n_volumes, {len(labels)}) for the "
                    f"{len(labels)} regions of {self.labels_path.name}"
                )
            data = data.T.astype(np.float64)
        else:
            try:
                df = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise RunError(f"{path}: cannot parse ({exc})") from exc
            cols = [str(c) for c in df.columns]
            missing = [lab for lab in labels if lab not in cols]
            extra = [c for c in cols if c not in set(labels)]
            if missing or extra:
                raise RunError(
                    f"{path}: {len(cols)} region columns do not match the {len(labels)} regions "
                    f"of {self.labels_path.name} (missing {missing[:3]}, unknown {extra[:3]})"
                )
            try:
                data = df[labels].to_numpy(dtype=np.float64).T
            except ValueError as exc:
                raise RunError(f"{path}: non-numeric values ({exc})") from exc
        bad = ~np.isfinite(data)
        if bad.any():
            regions = [labels[k] for k in np.flatnonzero(bad.any(axis=1))[:3]]
            raise RunError(
                f"{path}: {int(bad.sum())} n/a or infinite value(s), in region(s) {regions} "
                "(censored volumes or parcels without coverage cannot be used)"
            )
        if data.shape[1] < 3:
            raise RunError(f"{path}: {data.shape[1]} volume(s)")
        return data

    def _raw_file(self, series: Path, kind: str, *, required: bool = True) -> Path | None:
        """The raw dataset's ``events.tsv`` or ``bold.json`` of the run of ``series``."""
        ents = entities(series)
        folder = self.root / f"sub-{ents['sub']}"
        candidates = (
            [f for f in folder.glob(f"**/func/*_{kind}") if _same_run(entities(f), ents)]
            if folder.is_dir()
            else []
        )
        if len(candidates) == 1:
            return candidates[0]
        if not required:
            return None
        what = "none" if not candidates else ", ".join(c.name for c in candidates)
        raise RunError(
            f"{series}: expected one *_{kind} of this run under {folder}/func, found {what}",
            kind="missing" if not candidates else "invalid",
        )

    def _sidecar_tr(self, series: Path) -> float:
        """RepetitionTime from the raw sidecar (or the dataset's ``task-<label>_bold.json``),
        checked against the derivative's own sidecar when it has one."""
        ents = entities(series)
        raw = self._raw_file(series, "bold.json", required=False)
        if raw is None:
            top = self.root / f"task-{ents.get('task')}_bold.json"
            raw = top if top.is_file() else None
        if raw is None:
            raise RunError(
                f"{series}: no bold.json sidecar of this run in {self.root} (RepetitionTime "
                "is needed)"
            )
        tr = _repetition_time(raw)
        own = series.with_name(series.name.split(".")[0] + ".json")
        if own.is_file() and "RepetitionTime" in json.loads(own.read_text()):
            mine = _repetition_time(own)
            if abs(mine - tr) > 1e-6:
                raise RunError(f"{own}: RepetitionTime {mine:g} s disagrees with {raw} ({tr:g} s)")
        return tr


def _repetition_time(path: Path) -> float:
    try:
        value = float(json.loads(path.read_text())["RepetitionTime"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{path}: no usable RepetitionTime ({exc})") from exc
    if not value > 0:
        raise RunError(f"{path}: RepetitionTime {value} is not positive")
    return value
