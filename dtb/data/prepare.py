"""``dtb prepare``: from a TCP-layout dataset to one prepared cohort cache file.

The cache holds everything training and evaluation need, at 80 ms resolution:

* ``fc`` (n, 93961) float32: Fisher-z rest FC, upper triangle (``dtb.data.fc``);
* per task ``t`` in ``faces``, ``stroop``: ``{t}_inputs`` (n, S, 9), ``{t}_actions`` (n, S, 3),
  ``{t}_mask`` (n, S) bool, ``{t}_bold`` (n, S, 20) z-scored, ``{t}_present`` (n,) bool,
  ``{t}_trials`` (n, max_trials, 7) float64 (``dtb.data.encoding.TRIAL_FIELDS``, NaN padded),
  ``{t}_accuracy`` (n,) float64 over the whole run;
* ``{t}_bold_mean`` / ``{t}_bold_sd`` (20,): the z-scoring statistics, computed on the training
  part pooled over participants and applied unchanged to the test part;
* ``window_starts`` (n_windows,): first steps of the training windows;
* ``meta``: JSON with the config, input hash, code version, participants, skipped participants
  and the reasons.

S = ``n_train + n_test`` steps (2,460 + 2,460 = 393.6 s). Inputs and targets are aligned at the
same step; the one-step shift of next-step prediction happens in the model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from dtb.data.atlas import Atlas
from dtb.data.encoding import TRIAL_FIELDS, EncodingConfig, encode_run, trial_table
from dtb.data.events import EventsError
from dtb.data.fc import fc_vector
from dtb.data.regions import target_names
from dtb.data.sources import Source, TaskRun, TcpSource
from dtb.data.timeseries import TimeseriesError
from dtb.fileio import atomic_path, ensure_outside
from dtb.layout import STEP, TR, volume_steps
from dtb.progress import tqdm
from dtb.provenance import code_version, config_dict, hash_config, hash_files
from dtb.tasks import N_ACTION, N_INPUT, TASK_NAMES, TASK_RUNS

#: Version of the cache layout; bump when the arrays or their meaning change.
CACHE_FORMAT = 3


@dataclass(frozen=True)
class PrepareConfig:
    """How a dataset becomes a prepared cohort.

    Attributes
    ----------
    n_train, n_test : int
        Steps of the within-run temporal split (196.8 s each at 80 ms).
    window : int
        Training window length in steps (262 = 20.96 s).
    window_stride : int
        Distance between training-window starts.
    encoding : EncodingConfig
        How events become inputs and action targets.
    seed : int
        Seed of the face-image codes (one child stream per participant and run).
    """

    n_train: int = 2460
    n_test: int = 2460
    window: int = 262
    window_stride: int = 262
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    seed: int = 0

    @property
    def n_steps(self) -> int:
        """Steps per run used (train + test)."""
        return self.n_train + self.n_test

    def window_starts(self) -> np.ndarray:
        """First steps of the training windows, all inside the training part."""
        return np.arange(0, self.n_train - self.window + 1, self.window_stride)

    def validate(self, *, check_runs: bool = True) -> None:
        """Raise ``ValueError`` for an inconsistent config (``check_runs``: against TCP's runs)."""
        for run in TASK_RUNS if check_runs else ():
            if self.n_steps * STEP > run.duration + 1e-9:
                raise ValueError(
                    f"n_train + n_test = {self.n_steps} steps ({self.n_steps * STEP:.1f} s) "
                    "exceeds "
                    f"the {run.name} run ({run.duration:.1f} s)"
                )
        if not 0 < self.window <= self.n_train:
            raise ValueError(f"window {self.window} must be in 1..n_train ({self.n_train})")
        if self.window_stride < 1:
            raise ValueError("window_stride must be >= 1")
        if abs(self.encoding.step - STEP) > 1e-12:
            raise ValueError(f"encoding step {self.encoding.step} must equal {STEP}")


def resample_bold(signals: np.ndarray, n_steps: int, tr: float = TR) -> np.ndarray:
    """Cubic-spline resampling from the TR (0.8 s in TCP) to 80 ms steps.

    Parameters
    ----------
    signals : ndarray, shape (n_regions, n_volumes)
        Volume k is taken at time k * TR.
    n_steps : int
        Output steps at times j * 0.08 s, j = 0..n_steps-1; must not extrapolate past the
        last volume.
    tr : float
        Repetition time (s).

    Returns
    -------
    fine : ndarray of float64, shape (n_steps, n_regions)
    """
    n_vol = signals.shape[1]
    t_vol = np.arange(n_vol) * tr
    t_fine = np.arange(n_steps) * STEP
    if t_fine[-1] > t_vol[-1] + 1e-9:
        raise ValueError(
            f"{n_steps} steps reach {t_fine[-1]:.2f} s, past the last volume at {t_vol[-1]:.2f} s"
        )
    return CubicSpline(t_vol, signals, axis=1)(t_fine).T


def participant_rng(seed: int, participant: str, run_name: str) -> np.random.Generator:
    """A reproducible random stream for one participant's run, independent of cohort order."""
    key = int.from_bytes(
        hashlib.sha256(f"{participant}/{run_name}".encode()).digest()[:8], "little"
    )
    return np.random.default_rng([seed, key])


def split_for(config: PrepareConfig, tr: float, last_volume_s: float) -> PrepareConfig:
    """The train/test split that fits a cohort's shortest task run.

    The default split (2 x 2,460 steps) fits TCP's runs. For shorter runs both parts shrink to
    half the steps before the last volume, keeping a whole number of volumes per part when the
    TR is a multiple of 80 ms, and the training windows overlap so that a part still holds as
    many of them as the default's.

    Parameters
    ----------
    config : PrepareConfig
    tr : float
        Repetition time (s).
    last_volume_s : float
        Time of the last volume of the shortest task run, ``(n_volumes - 1) * tr``.
    """
    from dataclasses import replace

    max_steps = int(np.floor(last_volume_s / STEP + 1e-9)) + 1
    ratio = tr / STEP
    per_volume = int(round(ratio)) if abs(ratio - round(ratio)) < 1e-6 else 1
    if (
        config.n_steps <= max_steps
        and config.n_train % per_volume == 0
        and config.n_test % per_volume == 0
    ):
        return config
    half = (max_steps // 2) // per_volume * per_volume
    if half < config.window + 1:
        raise ValueError(
            f"the shortest task run ({last_volume_s + tr:.1f} s) is too short for two training "
            f"windows of {config.window} steps ({config.window * STEP:.1f} s) in each half"
        )
    # as many training windows as the default split has (9), overlapping in a shorter part:
    # fewer windows would leave groups of windows_per_participant short and unused
    n_windows = len(config.window_starts())
    stride = min(config.window_stride, max(1, (half - config.window) // max(1, n_windows - 1)))
    return replace(config, n_train=half, n_test=half, window_stride=stride)


def cache_key(root: Path | str, config: PrepareConfig, source: Source | None = None) -> str:
    """Hash of the input files' contents, the source's settings, the config and the format."""
    source = source or TcpSource(root)
    files = source.input_files(source.participants())
    h = hashlib.sha256()
    parts = (
        hash_files(files, root=_common_root(files)),
        hash_config(config),
        json.dumps(source.description(), sort_keys=True, default=str),
        str(CACHE_FORMAT),
    )
    for part in parts:
        h.update(part.encode())
    return h.hexdigest()


def _common_root(files: list[Path]) -> Path:
    """The deepest folder holding every file (hashes name files relative to it)."""
    import os

    return Path(os.path.commonpath([str(f.resolve().parent) for f in files]))


def _read_participant(source: Source, p: str, skipped: list[dict]):
    """The rest FC and task runs of one participant; problems go to ``skipped``."""
    try:
        fc = fc_vector(source.rest(p)).astype(np.float32)
    except (TimeseriesError, ValueError) as exc:
        skipped.append({"participant": p, "run": "rest", "reason": str(exc)})
        return None
    runs = {}
    for task in TASK_NAMES:
        try:
            run = source.task(p, task)
            # keep the 20 target signals only: a cohort's whole time series would not fit
            signals = source.atlas.region_signals(run.timeseries, where=f"{p} {task}")
            runs[task] = TaskRun(events=run.events, timeseries=signals, run=run.run)
        except (EventsError, TimeseriesError, ValueError) as exc:
            skipped.append({"participant": p, "run": task, "reason": str(exc)})
    if not runs:
        skipped.append({"participant": p, "run": None, "reason": "no usable task run"})
        return None
    return fc, runs


def _encode(p: str, run: TaskRun, config: PrepareConfig) -> tuple:
    """Inputs, actions, mask, BOLD targets, trial table and accuracy of one task run
    (``run.timeseries`` holds the 20 target signals)."""
    n_steps = config.n_steps
    rng = participant_rng(config.seed, p, run.run.name)
    x, a, m = encode_run(run.events, run.run, n_steps, rng, config.encoding)
    y = resample_bold(run.timeseries, n_steps, run.run.tr).astype(np.float32)
    acc = float(np.nanmean(run.events["accuracy_binarized"].to_numpy(float)))
    return x, a, m, y, trial_table(run.events, run.run, config.encoding), acc


def prepare(
    root: Path | str,
    out_dir: Path | str,
    config: PrepareConfig = PrepareConfig(),
    *,
    progress: bool = True,
    force: bool = False,
    source: Source | None = None,
) -> Path:
    """Prepare a dataset into one cache file, or reuse an identical one.

    Parameters
    ----------
    root : path-like
        Dataset root (real download or ``dtb data synth`` output). Only read.
    out_dir : path-like
        Folder for the cache; must not lie inside ``root``.
    config : PrepareConfig
    progress : bool
        Show a progress bar.
    force : bool
        Rebuild even if a cache with the same key exists.
    source : Source, optional
        How to read ``root`` (:func:`dtb.data.sources.open_source`); default: the TCP layout.

    Returns
    -------
    path : Path
        ``out_dir / f"cohort-{key[:16]}.npz"``.

    Raises
    ------
    ValueError
        If the dataset has no usable participant, or ``out_dir`` is inside ``root``.
    """
    root, out_dir = Path(root), Path(out_dir)
    source = source or TcpSource(root)
    ensure_outside(out_dir, root)
    if source.layout == "tcp":
        config.validate()
    participants = source.participants()
    key = cache_key(root, config, source)
    dest = out_dir / f"cohort-{key[:16]}.npz"
    if dest.is_file() and not force:
        meta = read_meta(dest)
        if meta.get("key") == key:
            return dest

    skipped: list[dict] = []
    read = {}
    for p in tqdm(participants, desc="read", unit="participant", disable=not progress):
        got = _read_participant(source, p, skipped)
        if got is not None:
            read[p] = got
    if not read:
        raise ValueError(f"{root}: no participant has a usable rest run and task run")
    last = min(r.run.tr * (r.run.n_volumes - 1) for _, runs in read.values() for r in runs.values())
    config = split_for(config, source.tr, last)
    config.validate(check_runs=False)
    atlas = source.atlas
    kept = list(read)
    task_rows: dict[str, list] = {t: [] for t in TASK_NAMES}
    for p in tqdm(kept, desc="prepare", unit="participant", disable=not progress):
        for task in TASK_NAMES:
            run = read[p][1].get(task)
            task_rows[task].append(None if run is None else _encode(p, run, config))
    arrays: dict[str, np.ndarray] = {"fc": np.stack([read[p][0] for p in kept])}
    for task in TASK_NAMES:
        arrays.update(_task_arrays(task, task_rows[task], config))
    arrays["window_starts"] = config.window_starts()
    meta = {
        "format": CACHE_FORMAT,
        "key": key,
        "root": str(root.resolve()),
        "source": source.description(),
        "tr": source.tr,
        "atlas": atlas.to_dict(),
        "config": config_dict(config),
        "code_version": code_version(),
        "participants": kept,
        "skipped": skipped,
        "targets": target_names(),
        "trial_fields": list(TRIAL_FIELDS),
        "tasks": list(TASK_NAMES),
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return dest


def _task_arrays(task: str, rows: list, config: PrepareConfig) -> dict[str, np.ndarray]:
    """One task's arrays (see the module docstring), BOLD z-scored on the training part."""
    n, n_steps, n_targets = len(rows), config.n_steps, len(target_names())
    present = np.array([r is not None for r in rows])
    max_trials = max((len(r[4]) for r in rows if r is not None), default=0)
    x = np.zeros((n, n_steps, N_INPUT), np.float32)
    a = np.zeros((n, n_steps, N_ACTION), np.float32)
    m = np.zeros((n, n_steps), bool)
    y = np.zeros((n, n_steps, n_targets), np.float32)
    trials = np.full((n, max_trials, len(TRIAL_FIELDS)), np.nan)
    acc = np.full(n, np.nan)
    for i, r in enumerate(rows):
        if r is None:
            continue
        x[i], a[i], m[i], y[i] = r[0], r[1], r[2], r[3]
        trials[i, : len(r[4])] = r[4]
        acc[i] = r[5]
    # z-score each region with training-part statistics pooled over participants
    train = y[present, : config.n_train]
    mean = train.mean(axis=(0, 1)) if present.any() else np.zeros(n_targets, np.float32)
    sd = train.std(axis=(0, 1)) if present.any() else np.ones(n_targets, np.float32)
    sd = np.where(sd > 0, sd, 1.0).astype(np.float32)
    y[present] = (y[present] - mean) / sd
    return {
        f"{task}_inputs": x,
        f"{task}_actions": a,
        f"{task}_mask": m,
        f"{task}_bold": y,
        f"{task}_present": present,
        f"{task}_trials": trials,
        f"{task}_accuracy": acc,
        f"{task}_bold_mean": mean.astype(np.float32),
        f"{task}_bold_sd": sd,
    }


def read_meta(path: Path | str) -> dict:
    """The metadata of a prepared cohort cache, without loading its arrays."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not a prepared cohort cache ({exc})") from exc


@dataclass(frozen=True)
class PreparedCohort:
    """A loaded cohort cache: ``arrays`` by name (see module docstring) and ``meta``."""

    path: Path
    arrays: dict[str, np.ndarray]
    meta: dict

    @property
    def participants(self) -> list[str]:
        """Participant ids, row order of every array."""
        return list(self.meta["participants"])

    @property
    def key(self) -> str:
        """Hash of inputs + config: the cohort's identity in checkpoints and results."""
        return str(self.meta["key"])

    @property
    def tr(self) -> float:
        """Repetition time of the task runs (s)."""
        return float(self.meta["tr"])

    @property
    def atlas(self) -> Atlas:
        """The cohort's atlas: regions, networks and the parcels of the BOLD targets."""
        return Atlas.from_dict(self.meta["atlas"])

    def volume_steps(self, part: str = "test") -> np.ndarray:
        """Steps (80 ms) at which volumes were acquired in the ``train``, ``test`` or ``all`` part.

        ``bold[steps]`` is the BOLD at acquisition times, and ``steps * 0.08`` their frame
        times in seconds from the run's start (:func:`dtb.layout.volume_steps`).
        """
        cfg = self.meta["config"]
        n_train, n_steps = cfg["n_train"], cfg["n_train"] + cfg["n_test"]
        bounds = {"train": (0, n_train), "test": (n_train, n_steps), "all": (0, n_steps)}
        if part not in bounds:
            raise ValueError(f"part must be 'train', 'test' or 'all', got {part!r}")
        return volume_steps(self.tr, *bounds[part])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


def load_prepared(path: Path | str) -> PreparedCohort:
    """Load a prepared cohort cache.

    Raises
    ------
    ValueError
        If the file is not a cache, has another format version, or holds no participant.
    """
    path = Path(path)
    meta = read_meta(path)
    if meta.get("format") != CACHE_FORMAT:
        raise ValueError(
            f"{path}: cache format {meta.get('format')} but this dtb reads {CACHE_FORMAT}; "
            "re-run dtb prepare"
        )
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
    if arrays["fc"].shape[0] == 0:
        raise ValueError(f"{path}: empty cohort")
    return PreparedCohort(path=path, arrays=arrays, meta=meta)
