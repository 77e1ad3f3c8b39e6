"""The on-disk layout of OpenNeuro ds005237 (TCP), shared by real and synthetic data.

One code path serves both: the synthetic generator writes exactly these paths, the loader reads
them, and a user who downloads the real data changes only the root folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Repetition time of every functional run (s).
TR = 0.8
#: Model time step (s): the TR resampled x10.
STEP = 0.08
#: Upsampling factor from TR to model steps.
UPSAMPLE = 10
#: Parcels in the dataset's parcellated time series (Schaefer-400 + Tian S2 + 2 cerebellum).
N_REGIONS = 434
#: HDF5 key of the parcellated time series (regions x time, float64).
H5_KEY = "dataset"
#: Folder of the parcellated, denoised time series (not BIDS; listed in the dataset's .bidsignore).
PARCELLATED_DIR = "fMRI_timeseries_clean_denoised_GSR_parcellated"


@dataclass(frozen=True)
class Run:
    """One functional run of the TCP protocol.

    Attributes
    ----------
    name : str
        Short name used throughout dtb (``"rest"``, ``"faces"``, ``"stroop"``).
    bids_task : str
        BIDS task label including the phase-encoding direction (``"hammerAP"``).
    run : int
        BIDS run index.
    n_volumes : int
        Volumes acquired.
    tr : float
        Repetition time (s): 0.8 in TCP; another dataset's runs carry their own.
    """

    name: str
    bids_task: str
    run: int
    n_volumes: int
    tr: float = TR

    @property
    def duration(self) -> float:
        """Run length in seconds."""
        return self.n_volumes * self.tr


def volume_steps(tr: float, start: int, stop: int) -> np.ndarray:
    """The model steps (80 ms) at which volumes were acquired, within steps ``[start, stop)``.

    Volume ``k`` is taken at ``k * tr`` seconds; its step is the nearest 80 ms step. For TR 0.8 s
    these are ``start, start + 10, ...`` (with ``start`` a multiple of 10).

    Returns
    -------
    steps : ndarray of int, shape (n_volumes,)
    """
    if tr <= 0:
        raise ValueError(f"TR must be positive, got {tr}")
    first = int(np.ceil(start * STEP / tr - 1e-9))
    steps = np.rint(np.arange(first, int(np.ceil(stop * STEP / tr)) + 1) * tr / STEP).astype(int)
    return steps[(steps >= start) & (steps < stop)]


REST = Run("rest", "restAP", 1, 488)
REST2 = Run("rest2", "restAP", 2, 488)
FACES = Run("faces", "hammerAP", 1, 493)
STROOP = Run("stroop", "stroopAP", 1, 510)
# The tasks the twin performs, and everything about them besides their files: dtb.tasks.
RUNS: dict[str, Run] = {r.name: r for r in (REST, REST2, FACES, STROOP)}


def bids_id(participant: str) -> str:
    """Return the BIDS participant label ``sub-NDARINV<ID>`` for any accepted spelling.

    Accepts ``sub-NDARINVXXXX``, ``NDARINVXXXX`` and ``NDAR_INVXXXX``.
    """
    p = participant.strip()
    if p.startswith("sub-"):
        p = p[4:]
    if p.startswith("NDAR_INV"):
        p = "NDARINV" + p[len("NDAR_INV") :]
    if not p.startswith("NDARINV") or len(p) <= len("NDARINV"):
        raise ValueError(f"not a TCP participant id: {participant!r} (expected sub-NDARINV<ID>)")
    return "sub-" + p


def nda_folder(participant: str) -> str:
    """Return the parcellated-data folder name ``NDAR_INV<ID>`` of a participant."""
    return "NDAR_INV" + bids_id(participant)[len("sub-NDARINV") :]


def events_relpath(participant: str, run: Run) -> str:
    """Path of a run's events file, relative to the dataset root."""
    sub = bids_id(participant)
    return f"{sub}/func/{sub}_task-{run.bids_task}_run-{run.run:02d}_events.tsv"


def timeseries_relpath(participant: str, run: Run) -> str:
    """Path of a run's parcellated h5 time series, relative to the dataset root."""
    return (
        f"{PARCELLATED_DIR}/{nda_folder(participant)}/"
        f"task-{run.bids_task}_run-{run.run:02d}_bold_Atlas_hp2000_clean_GSR_parcellated.h5"
    )


def events_path(root: Path | str, participant: str, run: Run) -> Path:
    """Absolute path of a run's events file under ``root``."""
    return Path(root) / events_relpath(participant, run)


def timeseries_path(root: Path | str, participant: str, run: Run) -> Path:
    """Absolute path of a run's parcellated h5 time series under ``root``."""
    return Path(root) / timeseries_relpath(participant, run)
