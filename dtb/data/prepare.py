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

from dtb.data.cohort import read_participants
from dtb.data.encoding import TRIAL_FIELDS, EncodingConfig, encode_run, trial_table
from dtb.data.events import EventsError, read_events
from dtb.data.fc import fc_vector
from dtb.data.regions import region_signals, target_names
from dtb.data.timeseries import TimeseriesError, read_timeseries
from dtb.fileio import atomic_path, ensure_outside
from dtb.layout import REST, STEP, TR, UPSAMPLE, events_path, timeseries_path
from dtb.progress import tqdm
from dtb.provenance import code_version, config_dict, hash_config, hash_files
from dtb.tasks import N_ACTION, N_INPUT, TASK_RUNS

#: Version of the cache layout; bump when the arrays or their meaning change.
CACHE_FORMAT = 1


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

    def validate(self) -> None:
        """Raise ``ValueError`` for an inconsistent config."""
        for run in TASK_RUNS:
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


def resample_bold(signals: np.ndarray, n_steps: int) -> np.ndarray:
    """Cubic-spline resampling from TR 0.8 s to 80 ms steps.

    Parameters
    ----------
    signals : ndarray, shape (n_regions, n_volumes)
        Volume k is taken at time k * TR.
    n_steps : int
        Output steps at times j * 0.08 s, j = 0..n_steps-1; must not extrapolate past the
        last volume.

    Returns
    -------
    fine : ndarray of float64, shape (n_steps, n_regions)
    """
    n_vol = signals.shape[1]
    t_vol = np.arange(n_vol) * TR
    t_fine = np.arange(n_steps) * (TR / UPSAMPLE)
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


def _input_files(root: Path, participants: list[str]) -> list[Path]:
    files = [root / "participants.tsv"]
    for p in participants:
        for run in (REST, *TASK_RUNS):
            for path in (timeseries_path(root, p, run), events_path(root, p, run)):
                if path.is_file():
                    files.append(path)
    return files


def cache_key(root: Path | str, config: PrepareConfig) -> str:
    """Hash of the input files' contents, the config and the cache format."""
    root = Path(root)
    files = _input_files(root, read_participants(root))
    h = hashlib.sha256()
    for part in (hash_files(files, root=root), hash_config(config), str(CACHE_FORMAT)):
        h.update(part.encode())
    return h.hexdigest()


def prepare(
    root: Path | str,
    out_dir: Path | str,
    config: PrepareConfig = PrepareConfig(),
    *,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Prepare a TCP-layout dataset into one cache file, or reuse an identical one.

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
    ensure_outside(out_dir, root)
    config.validate()
    participants = read_participants(root)
    key = cache_key(root, config)
    dest = out_dir / f"cohort-{key[:16]}.npz"
    if dest.is_file() and not force:
        meta = read_meta(dest)
        if meta.get("key") == key:
            return dest

    n_steps = config.n_steps
    kept: list[str] = []
    skipped: list[dict] = []
    fc_rows: list[np.ndarray] = []
    task_rows: dict[str, list] = {run.name: [] for run in TASK_RUNS}
    iterator = tqdm(participants, desc="prepare", unit="participant", disable=not progress)
    for p in iterator:
        try:
            fc = fc_vector(read_timeseries(timeseries_path(root, p, REST), REST)).astype(np.float32)
        except (TimeseriesError, ValueError) as exc:
            skipped.append({"participant": p, "run": REST.name, "reason": str(exc)})
            continue
        per_task = {}
        for run in TASK_RUNS:
            try:
                ev = read_events(events_path(root, p, run), run)
                bold = read_timeseries(timeseries_path(root, p, run), run)
                x, a, m = encode_run(
                    ev, run, n_steps, participant_rng(config.seed, p, run.name), config.encoding
                )
                y = resample_bold(region_signals(bold), n_steps).astype(np.float32)
                acc = float(np.nanmean(ev["accuracy_binarized"].to_numpy(float)))
                per_task[run.name] = (x, a, m, y, trial_table(ev, run, config.encoding), acc)
            except (EventsError, TimeseriesError, ValueError) as exc:
                skipped.append({"participant": p, "run": run.name, "reason": str(exc)})
        if not per_task:
            skipped.append({"participant": p, "run": None, "reason": "no usable task run"})
            continue
        kept.append(p)
        fc_rows.append(fc)
        for run in TASK_RUNS:
            task_rows[run.name].append(per_task.get(run.name))
    if not kept:
        raise ValueError(f"{root}: no participant has a usable rest run and task run")

    n, n_targets = len(kept), len(target_names())
    arrays: dict[str, np.ndarray] = {"fc": np.stack(fc_rows)}
    for run in TASK_RUNS:
        rows = task_rows[run.name]
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
        arrays.update(
            {
                f"{run.name}_inputs": x,
                f"{run.name}_actions": a,
                f"{run.name}_mask": m,
                f"{run.name}_bold": y,
                f"{run.name}_present": present,
                f"{run.name}_trials": trials,
                f"{run.name}_accuracy": acc,
                f"{run.name}_bold_mean": mean.astype(np.float32),
                f"{run.name}_bold_sd": sd,
            }
        )
    arrays["window_starts"] = config.window_starts()
    meta = {
        "format": CACHE_FORMAT,
        "key": key,
        "root": str(root.resolve()),
        "config": config_dict(config),
        "code_version": code_version(),
        "participants": kept,
        "skipped": skipped,
        "targets": target_names(),
        "trial_fields": list(TRIAL_FIELDS),
        "tasks": [run.name for run in TASK_RUNS],
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return dest


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
