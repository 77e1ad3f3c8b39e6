"""Connectome targets: edge tables, FC edits and scoring against a planted truth.

Edge scores come from :mod:`dtb.smoothgrad` (the twin) or :func:`dtb.ridge.coefficient_scores`
(the ridge peer). Edges beyond ``threshold`` SD of the scores are the connectome targets
(paper, Fig. 4); :func:`edit_fc` strengthens or weakens them in a participant's FC, and on a
synthetic cohort :func:`planted_recovery` scores a map against the planted edges.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dtb.data.fc import FC_CLIP_EPS, fisher_z
from dtb.data.parcellation import SUMMARY_NETWORKS

#: Columns of the full edge table written by ``dtb intervene`` (``edges.tsv``).
EDGE_COLUMNS = (
    "edge",
    "i",
    "j",
    "label_i",
    "label_j",
    "network_i",
    "network_j",
    "score",
    "score_z",
    "target",
)


def edge_positions(pairs: np.ndarray, n_regions: int) -> np.ndarray:
    """Positions of region pairs ``(i, j)``, ``i < j``, in the FC vector (upper triangle, k=1).

    Parameters
    ----------
    pairs : ndarray of int, shape (n_pairs, 2)
    n_regions : int

    Returns
    -------
    positions : ndarray of int, shape (n_pairs,)
    """
    pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
    i, j = pairs[:, 0], pairs[:, 1]
    if np.any(i >= j) or np.any(i < 0) or np.any(j >= n_regions):
        raise ValueError(f"region pairs must satisfy 0 <= i < j < {n_regions}")
    return i * n_regions - i * (i + 1) // 2 + j - i - 1


def edge_table(scores: np.ndarray, parcels: pd.DataFrame, threshold: float = 2.5) -> pd.DataFrame:
    """Every edge with its regions, networks and score; targets beyond ``threshold`` SD.

    Parameters
    ----------
    scores : ndarray, shape (n_fc,)
        Edge scores in the FC vector's order (upper triangle, row-major).
    parcels : pandas.DataFrame
        :func:`dtb.data.parcellation.parcel_table`.
    threshold : float
        In SD of the scores (after subtracting their mean).

    Returns
    -------
    edges : pandas.DataFrame, shape (n_fc, 10)
        Columns :data:`EDGE_COLUMNS`; ``target`` is ``strengthen`` (score_z > threshold),
        ``weaken`` (score_z < -threshold) or empty.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = len(parcels)
    iu, ju = np.triu_indices(n, k=1)
    if scores.shape != iu.shape:
        raise ValueError(
            f"{len(iu)} edge scores expected for {n} regions, got shape {scores.shape}"
        )
    sd = scores.std()
    if not np.isfinite(scores).all() or sd == 0:
        raise ValueError("edge scores are constant or not finite: no targets can be ranked")
    score_z = (scores - scores.mean()) / sd
    target = np.where(
        score_z > threshold, "strengthen", np.where(score_z < -threshold, "weaken", "")
    )
    label, net = parcels["label"].to_numpy(), parcels["summary"].to_numpy()
    return pd.DataFrame(
        {
            "edge": np.arange(len(iu)),
            "i": iu,
            "j": ju,
            "label_i": label[iu],
            "label_j": label[ju],
            "network_i": net[iu],
            "network_j": net[ju],
            "score": scores,
            "score_z": score_z,
            "target": target,
        }
    )


def top_edges(edges: pd.DataFrame, n: int = 30) -> pd.DataFrame:
    """The ``n`` target edges with the largest ``|score_z|``, strongest first."""
    hits = edges[edges["target"] != ""]
    order = np.argsort(-np.abs(hits["score_z"].to_numpy()), kind="stable")
    return hits.iloc[order[:n]].reset_index(drop=True)


def summary_order(networks) -> tuple[str, ...]:
    """The order of summary networks: :data:`SUMMARY_NETWORKS` (TCP's 17 cortical networks,
    subcortex, cerebellum) when they are those, else the networks in order of appearance."""
    seen = tuple(dict.fromkeys(str(n) for n in networks))
    if set(seen) <= set(SUMMARY_NETWORKS):
        return SUMMARY_NETWORKS
    return seen


def network_summary(edges: pd.DataFrame) -> pd.DataFrame:
    """Targets per pair of summary networks (:func:`summary_order`; for the TCP atlas the 17
    cortical networks, subcortex and cerebellum; for another atlas its label file's networks).

    Returns
    -------
    summary : pandas.DataFrame
        One row per unordered network pair (``network_a <= network_b`` in summary order):
        ``n_edges, n_strengthen, n_weaken, frac_strengthen, frac_weaken, mean_score_z``.
    """
    names = summary_order([*edges["network_i"], *edges["network_j"]])
    order = {name: k for k, name in enumerate(names)}
    a = edges["network_i"].map(order).to_numpy()
    b = edges["network_j"].map(order).to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    df = pd.DataFrame(
        {
            "a": lo,
            "b": hi,
            "strengthen": edges["target"].to_numpy() == "strengthen",
            "weaken": edges["target"].to_numpy() == "weaken",
            "score_z": edges["score_z"].to_numpy(),
        }
    )
    g = df.groupby(["a", "b"])
    out = pd.DataFrame(
        {
            "n_edges": g.size(),
            "n_strengthen": g["strengthen"].sum(),
            "n_weaken": g["weaken"].sum(),
            "mean_score_z": g["score_z"].mean(),
        }
    ).reset_index()
    out["frac_strengthen"] = out["n_strengthen"] / out["n_edges"]
    out["frac_weaken"] = out["n_weaken"] / out["n_edges"]
    out.insert(0, "network_b", [names[k] for k in out.pop("b")])
    out.insert(0, "network_a", [names[k] for k in out.pop("a")])
    return out


#: Network pairs with fewer edges are left out of the network matrix drawn in Fig. 4: a fraction
#: over a handful of edges (the two cerebellar parcels have one edge between them) is all or
#: nothing and would dominate the colour scale.
MIN_NETWORK_EDGES = 30


def network_matrix(summary: pd.DataFrame, column: str, min_edges: int = 0) -> pd.DataFrame:
    """A symmetric network x network matrix of one :func:`network_summary` column.

    Pairs with fewer than ``min_edges`` edges (``n_edges``) are NaN, so that a fraction over a
    few edges cannot dominate; pairs absent from ``summary`` are 0.
    """
    names = list(summary_order([*summary["network_a"], *summary["network_b"]]))
    m = pd.DataFrame(0.0, index=names, columns=names)
    for a, b, v, n in summary[["network_a", "network_b", column, "n_edges"]].itertuples(
        index=False
    ):
        m.loc[a, b] = m.loc[b, a] = v if n >= min_edges else np.nan
    return m


def edit_fc(
    fc: np.ndarray,
    edges: np.ndarray,
    signs: np.ndarray,
    amount: float,
    participant: str = "",
) -> np.ndarray:
    """Strengthen (+1) or weaken (-1) edges of an FC vector by ``amount`` in correlation units.

    The vector is the upper triangle of a symmetric matrix with unit diagonal, so the edited FC
    stays symmetric with unit diagonal; only the listed edges change.

    Parameters
    ----------
    fc : ndarray, shape (n_fc,)
        Fisher-z FC vector.
    edges : ndarray of int, shape (n_targets,)
        Positions in the FC vector.
    signs : ndarray, shape (n_targets,)
        +1 to add ``amount`` to the correlation, -1 to subtract it.
    amount : float
        Change of the correlation, ``0 < amount < 1``.
    participant : str
        Named in errors.

    Returns
    -------
    fc : ndarray of float64, shape (n_fc,)
        Edited Fisher-z FC vector.

    Raises
    ------
    ValueError
        If an edited correlation would leave (-1, 1), naming the participant and the edge.
    """
    if not 0 < amount < 1:
        raise ValueError(f"FC edit amount must be in (0, 1) correlation units, got {amount}")
    edges = np.asarray(edges, dtype=int)
    signs = np.asarray(signs, dtype=float)
    if edges.shape != signs.shape:
        raise ValueError(f"{len(edges)} edges but {len(signs)} signs")
    if not np.isin(signs, (-1.0, 1.0)).all():
        raise ValueError("signs must be +1 or -1")
    r = np.tanh(np.asarray(fc, dtype=np.float64))
    new = r[edges] + amount * signs
    bad = np.flatnonzero(np.abs(new) >= 1 - FC_CLIP_EPS)
    if bad.size:
        k = bad[0]
        n = int(round((1 + np.sqrt(1 + 8 * len(r))) / 2))
        i, j = np.triu_indices(n, k=1)
        where = f"regions {i[edges[k]]}-{j[edges[k]]}"
        who = f"participant {participant}: " if participant else ""
        raise ValueError(
            f"{who}editing {where} (r = {r[edges[k]]:.3f}) by {amount * signs[k]:+.3f} would leave "
            f"[-1, 1] ({bad.size} edge(s) affected); choose a smaller amount"
        )
    r[edges] = new
    return fisher_z(r)


def gradient_span_projection(network, pattern: np.ndarray) -> np.ndarray:
    """Project an edge pattern onto the space every FC gradient of the network lies in.

    The hypernetwork's first stage is linear in the (normalised) FC, so the gradient of any of
    its outputs with respect to the raw FC is a combination of that stage's rows
    (:meth:`dtb.model.HyperNetwork.edge_rows`: the dense layer's ``hyper_hidden`` rows, or for
    the pca encoder combinations of its ``K`` components) divided by the FC's SD. No gradient
    map, SmoothGrad included, can leave their span: the projection of the true pattern onto it
    is the best such a map can show.

    Parameters
    ----------
    network : dtb.network.Network
    pattern : ndarray, shape (n_fc,)
        E.g. the planted edges' signs, zero elsewhere.

    Returns
    -------
    projection : ndarray of float64, shape (n_fc,)
    """
    rows = network.core.hyper.edge_rows().detach().cpu().double().numpy()
    rows = rows / network.fc_sd.detach().cpu().double().numpy()
    q, _ = np.linalg.qr(rows.T)  # (n_fc, hyper_hidden), orthonormal columns
    return q @ (q.T @ np.asarray(pattern, dtype=np.float64))


def planted_recovery(
    edges: pd.DataFrame, planted: np.ndarray, planted_signs: np.ndarray, lower_sign: int
) -> dict:
    """How well the edge scores find a planted edge set (synthetic truth).

    Parameters
    ----------
    edges : pandas.DataFrame
        :func:`edge_table`.
    planted : ndarray of int, shape (n_planted, 2)
        Planted ``(i, j)`` region pairs, ``i < j``.
    planted_signs : ndarray, shape (n_planted,)
        +1 where the edge's correlation rises with the trait.
    lower_sign : {+1, -1}
        Direction of the trait that lowers the indicator (+1 for speed: higher speed, shorter
        RT; -1 for affect: lower affect, smaller amygdala response). Strengthening a planted
        edge lowers the indicator when ``planted_sign * lower_sign > 0``.

    Returns
    -------
    recovery : dict
        ``auc_abs`` (ROC AUC of ``|score|`` for planted vs other edges), ``auc_signed``
        (the same with each planted edge scored by ``score`` times the truth's sign, so that
        it ranks high only with the right sign), ``sign_agreement``
        (fraction of planted edges whose score has the truth's sign), ``precision_at_k`` for
        k = 100, 1000 and the number of planted edges, and ``n_planted``.
    """
    from sklearn.metrics import roc_auc_score

    pos = edge_positions(planted, int(edges["i"].max()) + 2 if len(edges) else 0)
    if not np.array_equal(edges["i"].to_numpy()[pos], planted[:, 0]) or not np.array_equal(
        edges["j"].to_numpy()[pos], planted[:, 1]
    ):
        raise ValueError("planted edges do not index the edge table (another region count?)")
    label = np.zeros(len(edges), dtype=bool)
    label[pos] = True
    score = edges["score"].to_numpy()
    want = np.zeros(len(edges))
    want[pos] = np.asarray(planted_signs) * lower_sign
    oriented = np.where(label, score * want, np.abs(score))
    order = np.argsort(-np.abs(score), kind="stable")
    ks = sorted({100, 1000, int(label.sum())})
    return {
        "n_planted": int(label.sum()),
        "auc_abs": float(roc_auc_score(label, np.abs(score))),
        "auc_signed": float(roc_auc_score(label, oriented)),
        "sign_agreement": float(np.mean(np.sign(score[pos]) == want[pos])),
        "precision_at_k": {str(k): float(label[order[:k]].mean()) for k in ks},
    }
