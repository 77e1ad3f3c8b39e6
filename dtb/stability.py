"""Are the connectome targets identifiable? Agreement of edge maps across training seeds.

A target worth reporting should not depend on the random start: the same data and config
trained from different seeds should give the same edge map. For the interventions of several
runs (``dtb intervene`` outputs, one per seed) this compares every pair of edge maps:

* the Spearman r of the edge scores over all 93,961 edges;
* the Jaccard overlap of the target sets (edge and direction, beyond the threshold).

Maps from runs of different cohorts, designs or indicators are refused.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from dtb.fileio import ensure_outside, write_json, write_text


def _read(folder: Path) -> tuple[dict, pd.DataFrame]:
    summary_path = folder / "intervention.json"
    if not summary_path.is_file():
        raise ValueError(f"{folder}: not a dtb intervene output (no intervention.json)")
    summary = json.loads(summary_path.read_text())
    edges = pd.read_csv(
        folder / "edges.tsv", sep="\t", usecols=["edge", "score", "target"], keep_default_na=False
    )
    return summary, edges


def _design(summary: dict) -> str:
    return summary["run"]["train_config"].get("fc_encoder", "dense")


def jaccard(a: set, b: set) -> float:
    """``|a & b| / |a | b|``; NaN when both are empty."""
    union = len(a | b)
    return len(a & b) / union if union else float("nan")


def _check_same(folders: list[Path], summaries: list[dict]) -> None:
    first = summaries[0]
    for folder, s in zip(folders[1:], summaries[1:], strict=True):
        for what, get in (
            ("cohort", lambda x: x["run"]["data_key"]),
            ("indicator", lambda x: x["indicator"]),
            ("design (FC encoder)", _design),
            ("profile", lambda x: x["run"]["train_config"]["profile"]),
            ("weight-space direction", lambda x: x["config"].get("direction", "pls")),
        ):
            if get(s) != get(first):
                raise ValueError(
                    f"{folder}: its run {s['run']['path']} has another {what} "
                    f"({str(get(s))[:16]}) than {folders[0]} ({str(get(first))[:16]}): "
                    "edge maps can be compared only across seeds of one design on one cohort"
                )


def target_stability(folders: list[Path | str], out: Path | str | None = None) -> dict:
    """Agreement of the edge maps of several interventions, one per training seed.

    Parameters
    ----------
    folders : list of path-like, at least 2
        ``dtb intervene`` output folders of runs that differ only in their seed.
    out : path-like, optional
        Folder for ``stability.json`` and ``pairs.tsv``.

    Returns
    -------
    result : dict
        ``indicator``, ``design``, ``runs`` (path, seed, planted-edge recovery when known),
        ``pairs`` (``a``, ``b``, ``spearman``, ``jaccard``), their means and minima.
    """
    folders = [Path(f) for f in folders]
    if len(folders) < 2:
        raise ValueError(f"need the interventions of at least 2 seeds, got {len(folders)}")
    read = [_read(f) for f in folders]
    summaries = [s for s, _ in read]
    _check_same(folders, summaries)
    seeds = [s["run"]["train_config"]["seed"] for s in summaries]
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"the runs share seeds {seeds}: stability needs distinct seeds")
    scores, targets = [], []
    for folder, (_, edges) in zip(folders, read, strict=True):
        if len(edges) != len(read[0][1]):
            raise ValueError(f"{folder}: {len(edges)} edges, not {len(read[0][1])}")
        scores.append(edges["score"].to_numpy(dtype=float))
        hit = edges[edges["target"] != ""]
        targets.append(set(zip(hit["edge"], hit["target"], strict=True)))
    pairs = [
        {
            "a": seeds[i],
            "b": seeds[j],
            "spearman": float(stats.spearmanr(scores[i], scores[j]).statistic),
            "jaccard": jaccard(targets[i], targets[j]),
        }
        for i, j in itertools.combinations(range(len(folders)), 2)
    ]
    table = pd.DataFrame(pairs)
    result = {
        "indicator": summaries[0]["indicator"],
        "design": _design(summaries[0]),
        "data_key": summaries[0]["run"]["data_key"],
        "runs": [
            {
                "intervention": str(f.resolve()),
                "run": s["run"]["path"],
                "seed": seed,
                "n_targets": len(t),
                "recovery": s.get("recovery"),
            }
            for f, s, seed, t in zip(folders, summaries, seeds, targets, strict=True)
        ],
        "pairs": pairs,
        "spearman_mean": float(table["spearman"].mean()),
        "spearman_min": float(table["spearman"].min()),
        "jaccard_mean": float(np.nanmean(table["jaccard"]))
        if table["jaccard"].notna().any()
        else None,
    }
    if out is not None:
        out = ensure_outside(out, *folders)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "pairs.tsv", table.to_csv(sep="\t", index=False, float_format="%.10g"))
        write_json(out / "stability.json", result)
    return result
