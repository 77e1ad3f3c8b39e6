"""The field's standard peer: connectome-based prediction with ridge regression.

Every number the twin reports about unseen participants stands beside what a plain linear model
gets from the same FC: scikit-learn's ``RidgeCV`` on the standardised FC edges, predicting each
participant's

* mean RT per task on the test part (participants at or below chance excluded, as for the twin),
* accuracy per task on the test part,
* observed right-amygdala face > shape t on the test part (the GLM of :mod:`dtb.glm`),

zero-shot over the twin's own folds (:func:`dtb.protocols.fold_assignment`). The ridge penalty is
chosen inside each fold by efficient leave-one-out cross-validation over the training
participants only (nested CV): a held-out participant never informs the prediction made for it.

Its coefficient map (the ridge weights back in raw FC units) is the reference a connectome
target map should reach on synthetic data: :func:`coefficient_scores`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dtb.baselines import pearson_with_ci
from dtb.data.prepare import PreparedCohort
from dtb.layout import STEP
from dtb.protocols import fold_assignment
from dtb.responses import observed_rt, trials_in_part
from dtb.tasks import TASK_NAMES, get_task

#: Targets of the peer, in the order of its tables.
TARGETS = ("rt_faces", "rt_stroop", "acc_faces", "acc_stroop", "amygdala_t")
AMYGDALA = "AMY_R"
_ACCURACY = 3  # column of a trial table (dtb.data.encoding.TRIAL_FIELDS)


@dataclass(frozen=True)
class RidgeConfig:
    """Settings of the ridge peer.

    Attributes
    ----------
    n_folds, seed : int
        Zero-shot folds, drawn exactly as the twin's (same ``seed`` gives the same folds).
    alphas : tuple of float
        Penalties searched by leave-one-out CV within each fold's training participants. The
        FC has about 94,000 standardised edges, so useful penalties are large.
    """

    n_folds: int = 5
    seed: int = 0
    alphas: tuple[float, ...] = field(
        default_factory=lambda: tuple(float(a) for a in np.logspace(1, 8, 15))
    )


def participant_targets(cohort: PreparedCohort, *, amygdala: bool = True) -> pd.DataFrame:
    """Each participant's observed test-part measures, the peer's targets.

    Parameters
    ----------
    cohort : PreparedCohort
    amygdala : bool
        Fit the GLM for the amygdala t (NaN without it: the behavioural targets alone are
        cheap).

    Returns
    -------
    table : pandas.DataFrame, shape (n_participants, 6)
        ``participant`` and :data:`TARGETS`; NaN where a run is missing, and for RT where the
        participant's whole-run accuracy is at or below chance.
    """
    from dtb.data.regions import target_names
    from dtb.glm import participant_maps

    cfg = cohort.meta["config"]
    t0, t1 = cfg["n_train"], cfg["n_train"] + cfg["n_test"]
    volumes = cohort.volume_steps("test")
    n = len(cohort.participants)
    out = {name: np.full(n, np.nan) for name in TARGETS}
    bold, trials_faces = [], []
    for i in range(n):
        for task in TASK_NAMES:
            if not cohort[f"{task}_present"][i]:
                continue
            trials = trials_in_part(cohort[f"{task}_trials"][i], t0, t1)
            rt = observed_rt(trials)
            if cohort[f"{task}_accuracy"][i] > get_task(task).chance and np.isfinite(rt).any():
                out[f"rt_{task}"][i] = np.nanmean(rt)
            out[f"acc_{task}"][i] = np.nanmean(trials[:, _ACCURACY]) if len(trials) else np.nan
        present = bool(cohort["faces_present"][i])
        bold.append(cohort["faces_bold"][i][volumes] if present else None)
        trials_faces.append(trials_in_part(cohort["faces_trials"][i], t0, t1))
    if amygdala and any(b is not None for b in bold):
        frames = volumes * STEP
        maps = participant_maps(bold, trials_faces, frames, "faces")
        out["amygdala_t"] = maps[:, target_names().index(AMYGDALA)]
    return pd.DataFrame({"participant": cohort.participants, **out})


def _model(config: RidgeConfig):
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeCV(alphas=config.alphas))


def zero_shot_predictions(
    fc: np.ndarray, y: np.ndarray, config: RidgeConfig = RidgeConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """Predict every participant from a model fitted on the other folds.

    Parameters
    ----------
    fc : ndarray, shape (n_participants, n_fc)
    y : ndarray, shape (n_participants,)
        NaN where the target is undefined: such participants are neither trained on nor
        predicted.

    Returns
    -------
    prediction : ndarray, shape (n_participants,)
        NaN where ``y`` is NaN.
    alphas : ndarray, shape (n_folds,)
        The penalty chosen inside each fold.
    """
    fc = np.asarray(fc, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if fc.ndim != 2 or y.shape != (fc.shape[0],):
        raise ValueError(f"fc (n, n_fc) and y (n,) expected, got {fc.shape} and {y.shape}")
    folds = fold_assignment(len(y), config.n_folds, config.seed)
    ok = np.isfinite(y)
    pred = np.full(len(y), np.nan)
    alphas = np.full(config.n_folds, np.nan)
    for f in range(config.n_folds):
        train, test = ok & (folds != f), ok & (folds == f)
        if train.sum() < 3 or not test.any():
            continue
        model = _model(config).fit(fc[train], y[train])
        pred[test] = model.predict(fc[test])
        alphas[f] = model[-1].alpha_
    return pred, alphas


def coefficient_scores(fc: np.ndarray, y: np.ndarray, config: RidgeConfig = RidgeConfig()):
    """Ridge weights of every edge, fitted on all participants with a target, in raw FC units.

    A positive weight means that a stronger edge predicts a larger target.

    Returns
    -------
    scores : ndarray of float64, shape (n_fc,)
    """
    fc = np.asarray(fc, dtype=np.float64)
    ok = np.isfinite(np.asarray(y, dtype=np.float64))
    model = _model(config).fit(fc[ok], np.asarray(y, dtype=np.float64)[ok])
    scaler, ridge = model
    return ridge.coef_ / scaler.scale_


def ridge_peer(cohort: PreparedCohort, config: RidgeConfig = RidgeConfig()) -> dict:
    """Zero-shot ridge prediction of every target; the peer of the zero-shot twin.

    Returns
    -------
    result : dict
        ``config``; ``targets``: per target, observed vs predicted Pearson r with its 95% CI
        (:func:`dtb.baselines.pearson_with_ci`), ``mae`` and the penalties chosen per fold;
        ``predictions``: a :class:`pandas.DataFrame` with ``participant``, ``fold``, and
        ``<target>`` / ``<target>_pred`` columns.
    """
    from dtb.provenance import config_dict

    targets = participant_targets(cohort)
    fc = cohort["fc"]
    table = targets[["participant"]].copy()
    table["fold"] = fold_assignment(len(table), config.n_folds, config.seed)
    summary = {}
    for name in TARGETS:
        y = targets[name].to_numpy(dtype=float)
        pred, alphas = zero_shot_predictions(fc, y, config)
        ok = np.isfinite(pred) & np.isfinite(y)
        summary[name] = {
            **pearson_with_ci(y[ok], pred[ok]),
            "mae": float(np.mean(np.abs(y[ok] - pred[ok]))) if ok.any() else None,
            "alphas": [None if not np.isfinite(a) else float(a) for a in alphas],
        }
        table[name], table[f"{name}_pred"] = y, pred
    return {"config": config_dict(config), "targets": summary, "predictions": table}
