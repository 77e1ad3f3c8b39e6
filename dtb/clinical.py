"""Clinical check: do the twins' latents track phenotype measures?

Every numeric column of every phenotype table is a measure. Each is correlated (Pearson) with a
latent over the participants that have both, and the p-values are corrected together with
Benjamini-Hochberg FDR (``statsmodels.stats.multitest.multipletests``), as in the paper (107
measures there).

Phenotype tables are read from a dataset's ``phenotype/`` folder: TCP's NDA-style tables
(participants in ``subjectkey``, e.g. ``NDAR_INVAB123CD4``, or ``src_subject_id``) and the
synthetic cohort's ``synth_measures.tsv`` (``participant_id``). Data dictionaries
(``*_definitions.tsv``) are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

#: Columns that identify a participant or describe a visit rather than measure anything.
NON_MEASURES = {
    "participant_id",
    "subjectkey",
    "src_subject_id",
    "interview_date",
    "interview_age",
    "sex",
    "gender",
    "visit",
    "site",
    "collection_id",
    "dataset_id",
}


def participant_key(value) -> str:
    """``sub-NDARINVAB123CD4``, ``NDAR_INVAB123CD4`` and ``NDARINVAB123CD4`` -> one key."""
    s = str(value).strip().upper()
    if s.startswith("SUB-"):
        s = s[4:]
    return s.replace("_", "")


def read_phenotype(folder: Path | str, min_participants: int = 10) -> pd.DataFrame:
    """Every numeric phenotype measure, one row per participant.

    Parameters
    ----------
    folder : path-like
        A ``phenotype/`` folder of ``*.tsv`` tables.
    min_participants : int
        Measures with fewer non-missing values are dropped.

    Returns
    -------
    measures : pandas.DataFrame, shape (n_participants, n_measures)
        Indexed by participant key (``NDARINV...``, see :func:`participant_key`); columns
        ``<table>:<column>``; repeated visits averaged.

    Raises
    ------
    ValueError
        If the folder holds no table, or a table has no participant column.
    """
    folder = Path(folder)
    tables = sorted(p for p in folder.glob("*.tsv") if not p.name.endswith("_definitions.tsv"))
    if not tables:
        raise ValueError(f"{folder}: no phenotype table (*.tsv)")
    frames = []
    for path in tables:
        df = pd.read_csv(path, sep="\t", dtype=str, na_values=["", "n/a", "NA", "NaN"])
        id_col = next(
            (c for c in ("participant_id", "subjectkey", "src_subject_id") if c in df.columns),
            None,
        )
        if id_col is None:
            raise ValueError(f"{path}: no participant column (participant_id or subjectkey)")
        keys = df[id_col].map(participant_key)
        # NDA tables may carry a second header row of descriptions: it is not a participant
        ok = keys.str.startswith("NDAR") | (id_col == "participant_id")
        values = {}
        for col in df.columns:
            if col in NON_MEASURES:
                continue
            num = pd.to_numeric(df.loc[ok, col], errors="coerce")
            if num.notna().sum() >= min_participants and num.nunique() > 1:
                values[f"{path.stem}:{col}"] = num
        if values:
            frames.append(pd.DataFrame(values).groupby(keys[ok]).mean())
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, axis=1)


def correlate_measures(
    latent: pd.Series, measures: pd.DataFrame, alpha: float = 0.05, min_participants: int = 10
) -> pd.DataFrame:
    """Pearson r of a latent with each measure, BH-FDR corrected over all measures.

    Parameters
    ----------
    latent : pandas.Series, shape (n_participants,)
        Indexed by participant key.
    measures : pandas.DataFrame
        :func:`read_phenotype`.
    alpha : float
        FDR level.

    Returns
    -------
    table : pandas.DataFrame
        ``measure, n, r, p, q, significant``, sorted by p.
    """
    from statsmodels.stats.multitest import multipletests

    latent = latent.copy()
    latent.index = latent.index.map(participant_key)
    rows = []
    for name in measures.columns:
        pair = pd.concat([latent.rename("latent"), measures[name].rename("m")], axis=1).dropna()
        if len(pair) < min_participants or pair["m"].nunique() < 2:
            continue
        r, p = stats.pearsonr(pair["latent"], pair["m"])
        rows.append({"measure": name, "n": len(pair), "r": float(r), "p": float(p)})
    table = pd.DataFrame(rows, columns=["measure", "n", "r", "p"])
    if len(table):
        reject, q, _, _ = multipletests(table["p"].to_numpy(), alpha=alpha, method="fdr_bh")
        table["q"] = q
        table["significant"] = reject
    else:
        table["q"] = np.array([], dtype=float)
        table["significant"] = np.array([], dtype=bool)
    return table.sort_values("p", kind="stable").reset_index(drop=True)
