"""The task GLM of the paper, fitted alike to observed and to predicted region BOLD.

Model (paper section 4), per participant, task run and region, on the BOLD sampled at the
frame times of the analysed part (the test part: volumes 246..491 at TR 0.8 s):

* **Regressors.** One condition regressor per trial type (Emotional Faces: ``face`` and
  ``shape``; Stroop: ``incongruent`` and ``congruent``). Every trial is a boxcar from its onset
  to the end of its display, convolved with the canonical Glover HRF; each condition also gets
  the HRF's temporal derivative (``hrf_model="glover + derivative"``), which absorbs small
  shifts of the response in time.
* **Nuisance.** A discrete-cosine drift basis with cut-off 0.01 Hz (periods longer than 100 s)
  and a constant.
* **Noise.** Ordinary least squares first, then an AR(1) model of the residuals: the
  lag-1 autocorrelation is estimated per region (Yule-Walker), binned to 0.01 as nilearn does,
  and the model is refitted by prewhitened least squares.
* **Statistics.** Contrasts ``face - shape`` and ``incongruent - congruent`` on the condition
  regressors (derivatives weighted 0) give one t statistic per region; a participant's 20 t
  values are their individual map. Group maps are one-sample t tests of individual maps
  across participants.

Every step uses nilearn's own functions (:func:`nilearn.glm.first_level.
make_first_level_design_matrix`, :func:`nilearn.glm.first_level.run_glm`,
:func:`nilearn.glm.contrasts.compute_contrast`), so the numbers equal those of
:class:`nilearn.glm.first_level.FirstLevelModel` with ``signal_scaling=False`` on the same data.

Trial-in-window rule (ours; the paper does not state one): a trial enters the design only when
its onset lies within ``[frame_times[0], frame_times[-1]]``, to a tolerance of 1 microsecond.
Trials of the preceding part (the training part) are left out even though their HRF tails reach
into the window; a trial starting inside the window is modelled in full.

:func:`map_similarity` adds the individual-level comparison the paper leaves out: per-participant
correlations of predicted and observed maps and an identifiability analysis (can a participant's
predicted map pick out their own observed map among everyone's?).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from nilearn.glm.contrasts import compute_contrast
from nilearn.glm.first_level import make_first_level_design_matrix, run_glm
from scipy import stats

from dtb.data.encoding import TRIAL_FIELDS
from dtb.layout import STEP, Run
from dtb.tasks import TASKS, get_task

#: Conditions per task (dtb.tasks): (condition coded 1, condition coded 0) in the trial table.
CONDITIONS: dict[str, tuple[str, str]] = {t.name: t.conditions for t in TASKS}
#: nilearn settings of the design.
HRF_MODEL = "glover + derivative"
DRIFT_MODEL = "cosine"
HIGH_PASS = 0.01
NOISE_MODEL = "ar1"
#: Tolerance (s) of the trial-in-window rule, for onsets that sit on the first or last frame.
WINDOW_TOL = 1e-6

_ONSET = TRIAL_FIELDS.index("onset")
_DISPLAY_END = TRIAL_FIELDS.index("display_end")
_CONDITION = TRIAL_FIELDS.index("condition")


def _task_name(task: str | Run) -> str:
    return get_task(task).name


def _check_frame_times(frame_times: np.ndarray) -> np.ndarray:
    ft = np.asarray(frame_times, dtype=float)
    if ft.ndim != 1 or ft.size < 2:
        raise ValueError(f"frame_times must be a 1-d array of >= 2 times, got shape {ft.shape}")
    if not np.all(np.isfinite(ft)):
        raise ValueError("frame_times contain NaN or Inf")
    if np.any(np.diff(ft) <= 0):
        raise ValueError("frame_times must be strictly increasing")
    return ft


def _trial_columns(trials: np.ndarray | pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Onset step, display-end step and condition of every trial (padding rows kept)."""
    if isinstance(trials, pd.DataFrame):
        missing = [c for c in ("onset", "display_end", "condition") if c not in trials.columns]
        if missing:
            raise ValueError(f"trial table lacks column(s) {missing}")
        return tuple(trials[c].to_numpy(dtype=float) for c in ("onset", "display_end", "condition"))
    arr = np.asarray(trials, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != len(TRIAL_FIELDS):
        raise ValueError(
            f"trials must have shape (n_trials, {len(TRIAL_FIELDS)}) with columns "
            f"{TRIAL_FIELDS}, got shape {arr.shape}"
        )
    return arr[:, _ONSET], arr[:, _DISPLAY_END], arr[:, _CONDITION]


def trial_events(
    trials: np.ndarray | pd.DataFrame, frame_times: np.ndarray, task: str | Run
) -> pd.DataFrame:
    """The events (onset, duration, trial type) in seconds that enter the design.

    Parameters
    ----------
    trials : ndarray, shape (n_trials, 7), or pandas.DataFrame
        A trial table with columns :data:`dtb.data.encoding.TRIAL_FIELDS` (as stored in the
        prepared cache; rows whose onset, display end or condition is NaN are padding and
        ignored). A DataFrame needs the columns ``onset``, ``display_end`` and ``condition``.
        Onsets and display ends are in 80 ms steps from the run start.
    frame_times : ndarray, shape (n_scans,)
        Acquisition times of the analysed volumes, in seconds from the run start.
    task : {"faces", "stroop"} or Run

    Returns
    -------
    events : pandas.DataFrame, shape (n_events, 3)
        Columns ``onset``, ``duration`` (s) and ``trial_type``; only trials whose onset lies in
        ``[frame_times[0], frame_times[-1]]`` (tolerance :data:`WINDOW_TOL`).
    """
    name = _task_name(task)
    ft = _check_frame_times(frame_times)
    onset, end, cond = _trial_columns(trials)
    real = np.isfinite(onset) & np.isfinite(end) & np.isfinite(cond)
    onset, end, cond = onset[real], end[real], cond[real]
    if not np.all(np.isin(cond, (0.0, 1.0))):
        raise ValueError(f"trial conditions must be 0 or 1, got {sorted(set(cond.tolist()))}")
    if np.any(end < onset):
        raise ValueError("a trial's display end precedes its onset")
    onset_s = onset * STEP
    inside = (onset_s >= ft[0] - WINDOW_TOL) & (onset_s <= ft[-1] + WINDOW_TOL)
    labels = np.where(cond[inside] == 1.0, CONDITIONS[name][0], CONDITIONS[name][1])
    return pd.DataFrame(
        {
            "onset": onset_s[inside],
            "duration": (end[inside] - onset[inside]) * STEP,
            "trial_type": labels,
        }
    )


def design_matrix(
    trials: np.ndarray | pd.DataFrame, frame_times: np.ndarray, task: str | Run
) -> pd.DataFrame:
    """First-level design of one run part: condition regressors, derivatives, drifts, constant.

    Parameters
    ----------
    trials : ndarray, shape (n_trials, 7), or pandas.DataFrame
        Trial table, see :func:`trial_events`.
    frame_times : ndarray, shape (n_scans,)
        Acquisition times of the analysed volumes in seconds from the run start, e.g.
        ``np.arange(246, 492) * 0.8`` for the test part.
    task : {"faces", "stroop"} or Run

    Returns
    -------
    design : pandas.DataFrame, shape (n_scans, n_columns)
        Indexed by frame time; columns e.g. ``face, face_derivative, shape, shape_derivative,
        drift_1, ..., drift_k, constant`` (Glover HRF + temporal derivative, cosine drift with a
        0.01 Hz cut-off).

    Raises
    ------
    ValueError
        For an unknown task, a malformed trial table or frame times, or when a condition has no
        trial with its onset in ``[frame_times[0], frame_times[-1]]`` (the contrast would be
        undefined).
    """
    name = _task_name(task)
    ft = _check_frame_times(frame_times)
    if isinstance(trials, np.ndarray):
        # The same trial tables recur (observed and predicted BOLD of a participant, every
        # evaluated run, every dose of an intervention) and nilearn's design matrix costs about
        # 20 ms: built once per table and frame times, a copy handed out.
        t = np.ascontiguousarray(trials, dtype=np.float64)
        frames = np.ascontiguousarray(ft).tobytes()
        return _cached_design(t.tobytes(), t.shape, frames, name).copy()
    return _design(trials, ft, name)


@functools.lru_cache(maxsize=2048)
def _cached_design(
    trials: bytes, shape: tuple[int, ...], frame_times: bytes, name: str
) -> pd.DataFrame:
    table = np.frombuffer(trials, dtype=np.float64).reshape(shape)
    return _design(table, np.frombuffer(frame_times, dtype=np.float64), name)


def _design(trials, ft: np.ndarray, name: str) -> pd.DataFrame:
    events = trial_events(trials, ft, name)
    for condition in CONDITIONS[name]:
        if not (events["trial_type"] == condition).any():
            raise ValueError(
                f"no {condition!r} trial has its onset within the frame times "
                f"[{ft[0]:.2f}, {ft[-1]:.2f}] s"
            )
    return make_first_level_design_matrix(
        ft, events, hrf_model=HRF_MODEL, drift_model=DRIFT_MODEL, high_pass=HIGH_PASS
    )


def contrast_vector(design: pd.DataFrame, task: str | Run) -> np.ndarray:
    """The task contrast over the design's columns.

    Parameters
    ----------
    design : pandas.DataFrame, shape (n_scans, n_columns)
        As returned by :func:`design_matrix`.
    task : {"faces", "stroop"} or Run
        ``"faces"``: face > shape (``face - shape``); ``"stroop"``: incongruent > congruent.

    Returns
    -------
    contrast : ndarray of float64, shape (n_columns,)
        +1 on the first condition, -1 on the second, 0 elsewhere (derivatives included).
    """
    name = _task_name(task)
    columns = list(design.columns)
    contrast = np.zeros(len(columns))
    for condition, weight in zip(CONDITIONS[name], (1.0, -1.0), strict=True):
        if condition not in columns:
            raise ValueError(f"design has no column {condition!r}; columns: {columns}")
        contrast[columns.index(condition)] = weight
    return contrast


def first_level_t(
    bold: np.ndarray, design: pd.DataFrame | np.ndarray, contrast: np.ndarray
) -> np.ndarray:
    """Per-region t statistics of one contrast, AR(1) GLM.

    Parameters
    ----------
    bold : ndarray, shape (n_scans, n_regions)
        Region BOLD sampled at the design's frame times (observed or predicted; the t
        statistic does not depend on the signal's scale or offset).
    design : pandas.DataFrame or ndarray, shape (n_scans, n_columns)
    contrast : ndarray, shape (n_columns,)

    Returns
    -------
    t : ndarray of float64, shape (n_regions,)
        ``compute_contrast(labels, results, contrast, stat_type="t").stat()`` after
        ``run_glm(bold, design, noise_model="ar1")``.

    Raises
    ------
    ValueError
        On mismatched or wrong-dimensional shapes, on NaN or Inf in any input, and on a
        constant region (no variance: its t would be rounding noise).
    """
    y = np.asarray(bold, dtype=np.float64)
    x = np.asarray(design.values if isinstance(design, pd.DataFrame) else design, dtype=np.float64)
    c = np.asarray(contrast, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"bold must have shape (n_scans, n_regions), got shape {y.shape}")
    if x.ndim != 2:
        raise ValueError(f"design must have shape (n_scans, n_columns), got shape {x.shape}")
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"bold has {y.shape[0]} scans but the design has {x.shape[0]} rows "
            f"(bold shape {y.shape}, design shape {x.shape})"
        )
    if c.shape != (x.shape[1],):
        raise ValueError(
            f"contrast must have shape ({x.shape[1]},) to match the design's columns, "
            f"got shape {c.shape}"
        )
    if not np.any(c):
        raise ValueError("contrast is all zeros")
    for label, arr in (("bold", y), ("design", x), ("contrast", c)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{label} contains NaN or Inf")
    constant = np.flatnonzero(np.ptp(y, axis=0) == 0)
    if constant.size:
        raise ValueError(f"bold region(s) {constant.tolist()} are constant over the scans")
    labels, results = run_glm(y, x, noise_model=NOISE_MODEL)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = compute_contrast(labels, results, c, stat_type="t").stat()
    return np.asarray(t, dtype=np.float64).reshape(y.shape[1])


def participant_maps(
    bold_by_participant: Sequence[np.ndarray | None],
    trials_by_participant: Sequence[np.ndarray | pd.DataFrame],
    frame_times: np.ndarray,
    task: str | Run,
) -> np.ndarray:
    """Individual t maps of the task contrast, one row per participant.

    Parameters
    ----------
    bold_by_participant : sequence of ndarray, shape (n_scans, n_regions), or None
        Each participant's region BOLD at ``frame_times``; ``None`` for a participant without
        the run, whose row is then NaN.
    trials_by_participant : sequence of trial tables, same length
        See :func:`trial_events`.
    frame_times : ndarray, shape (n_scans,)
        Seconds from the run start, shared by all participants.
    task : {"faces", "stroop"} or Run

    Returns
    -------
    maps : ndarray of float64, shape (n_participants, n_regions)
    """
    if len(bold_by_participant) != len(trials_by_participant):
        raise ValueError(
            f"{len(bold_by_participant)} BOLD arrays but {len(trials_by_participant)} trial tables"
        )
    present = [np.asarray(b).shape for b in bold_by_participant if b is not None]
    if not present:
        raise ValueError("no participant has BOLD data")
    if any(len(s) != 2 for s in present) or len({s[1] for s in present}) != 1:
        raise ValueError(
            f"BOLD arrays must have shape (n_scans, n_regions) with one n_regions, got {present}"
        )
    n_regions = present[0][1]
    name = _task_name(task)
    maps = np.full((len(bold_by_participant), n_regions), np.nan)
    for i, (bold, trials) in enumerate(
        zip(bold_by_participant, trials_by_participant, strict=True)
    ):
        if bold is None:
            continue
        design = design_matrix(trials, frame_times, name)
        maps[i] = first_level_t(bold, design, contrast_vector(design, name))
    return maps


def _finite_rows(*arrays: np.ndarray) -> np.ndarray:
    return np.logical_and.reduce([np.all(np.isfinite(a), axis=1) for a in arrays])


def group_t(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group t map: one-sample t test against 0 across participants, per region.

    Participants whose row holds any NaN or Inf (no run, failed fit) are dropped as a whole
    before testing, so every region is tested on the same participants.

    Parameters
    ----------
    maps : ndarray, shape (n_participants, n_regions)
        Individual t maps, e.g. from :func:`participant_maps`.

    Returns
    -------
    t : ndarray of float64, shape (n_regions,)
    p : ndarray of float64, shape (n_regions,)
        Two-sided p values of :func:`scipy.stats.ttest_1samp`.

    Raises
    ------
    ValueError
        When ``maps`` is not 2-d or fewer than two participants have a finite row.
    """
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"maps must have shape (n_participants, n_regions), got shape {m.shape}")
    m = m[_finite_rows(m)]
    if m.shape[0] < 2:
        raise ValueError(f"need at least 2 participants with finite maps, got {m.shape[0]}")
    res = stats.ttest_1samp(m, 0.0, axis=0)
    return np.asarray(res.statistic, dtype=np.float64), np.asarray(res.pvalue, dtype=np.float64)


def _row_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlations of every row of ``a`` with every row of ``b``, shape (n_a, n_b)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        za = a - a.mean(axis=1, keepdims=True)
        zb = b - b.mean(axis=1, keepdims=True)
        za = za / np.linalg.norm(za, axis=1, keepdims=True)
        zb = zb / np.linalg.norm(zb, axis=1, keepdims=True)
        return za @ zb.T


def map_similarity(pred_maps: np.ndarray, obs_maps: np.ndarray) -> dict:
    """Individual-level agreement of predicted and observed t maps.

    Participants whose predicted or observed row holds any NaN or Inf are dropped from both.

    Parameters
    ----------
    pred_maps : ndarray, shape (n_participants, n_regions)
        t maps from predicted BOLD.
    obs_maps : ndarray, shape (n_participants, n_regions)
        t maps from observed BOLD, same participants in the same order.

    Returns
    -------
    result : dict
        ``individual_r`` : ndarray, shape (n,)
            Pearson r between participant i's predicted and observed maps (over regions).
        ``identifiability`` : ndarray, shape (n, n)
            Entry (i, j): r between the predicted map of participant i and the observed map of
            participant j; its diagonal is ``individual_r``.
        ``identification_accuracy`` : float
            Fraction of participants i whose own observed map matches their predicted map
            strictly better than every other participant's (row-wise maximum on the diagonal).
        ``chance`` : float
            Accuracy expected by chance, 1 / n.
        ``differential_identifiability`` : float
            Mean of the diagonal minus mean of the off-diagonal entries (Amico and Goni's
            I_diff, without their factor 100).
        ``participants`` : ndarray of int, shape (n,)
            Row indices of the participants kept.
    """
    p = np.asarray(pred_maps, dtype=np.float64)
    o = np.asarray(obs_maps, dtype=np.float64)
    if p.ndim != 2 or p.shape != o.shape:
        raise ValueError(
            "pred_maps and obs_maps must both have shape (n_participants, n_regions), "
            f"got {p.shape} and {o.shape}"
        )
    keep = np.flatnonzero(_finite_rows(p, o))
    if keep.size < 2:
        raise ValueError(f"need at least 2 participants with finite maps, got {keep.size}")
    if p.shape[1] < 3:
        raise ValueError(f"need at least 3 regions to correlate maps, got {p.shape[1]}")
    c = _row_corr(p[keep], o[keep])
    n = keep.size
    diag = np.diag(c).copy()
    off = ~np.eye(n, dtype=bool)
    others = np.where(off, c, -np.inf)
    others = np.where(np.isnan(others), -np.inf, others)
    identified = np.isfinite(diag) & (diag > others.max(axis=1))
    return {
        "individual_r": diag,
        "identifiability": c,
        "identification_accuracy": float(identified.mean()),
        "chance": 1.0 / n,
        "differential_identifiability": float(np.nanmean(diag) - np.nanmean(c[off])),
        "participants": keep,
    }
