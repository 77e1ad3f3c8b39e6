"""How much of the FC's linear information about behaviour the pca encoder keeps.

Prints, on the zero-shot folds of a prepared cohort, the ridge peer's mean-RT and amygdala-t
correlation from all edges beside a ridge regression on only the leading K principal components
of the training participants' FC (fitted inside each fold, as the twin's encoder is). When the
few components predict as well as all edges, the FC encoding loses nothing a linear read-out
could use, and a gap between the twin and the ridge peer lies in what the twin makes of its
scores, not in the encoding.

    python benchmarks/encoder_ceiling.py CACHE [--components 4 8 16 32]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.preprocessing import StandardScaler

from dtb.data.prepare import load_prepared
from dtb.protocols import fold_assignment
from dtb.ridge import RidgeConfig, participant_targets, zero_shot_predictions


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def pca_ridge(fc: np.ndarray, y: np.ndarray, folds: np.ndarray, k: int) -> np.ndarray:
    """Zero-shot predictions of ridge on the in-fold leading ``k`` components."""
    pred = np.full(len(y), np.nan)
    for f in np.unique(folds):
        train, test = (folds != f) & np.isfinite(y), folds == f
        scaler = StandardScaler().fit(fc[train])
        pca = PCA(k, svd_solver="full").fit(scaler.transform(fc[train]))
        z = pca.transform(scaler.transform(fc))
        model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(z[train], y[train])
        pred[test] = model.predict(z[test])
    return pred


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cache", help="prepared cohort (.npz)")
    p.add_argument("--components", type=int, nargs="+", default=[4, 8, 16, 32])
    args = p.parse_args()
    cohort = load_prepared(args.cache)
    fc = np.asarray(cohort["fc"], dtype=np.float64)
    table = participant_targets(cohort)
    cfg = RidgeConfig()
    folds = fold_assignment(len(table), cfg.n_folds, cfg.seed)
    print(f"{len(table)} participants, {cfg.n_folds} zero-shot folds")
    print(
        f"{'target':12s} {'all edges':>10s} "
        + " ".join(f"{'K=' + str(k):>7s}" for k in args.components)
    )
    for name in ("rt_faces", "rt_stroop", "amygdala_t"):
        y = table[name].to_numpy(float)
        full = _r(zero_shot_predictions(fc, y, cfg)[0], y)
        parts = [_r(pca_ridge(fc, y, folds, k), y) for k in args.components]
        print(f"{name:12s} {full:10.2f} " + " ".join(f"{v:7.2f}" for v in parts))


if __name__ == "__main__":
    main()
