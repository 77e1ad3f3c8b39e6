"""Side by side: what two reproductions recover (for example TCP layout vs your own layout).

``python -m dtb.compare_cohorts OWN REFERENCE`` reads two ``dtb reproduce`` output folders and
prints, for each, the zero-shot mean-RT r of the recommended twin and of the ridge peer, the
paper-protocol r, the planted-edge ROC AUC of the twin's and the ridge peer's edge maps and the
seed agreement of the twin's maps. It exits non-zero when ``OWN`` fails the checks that say the
data were read right: the ridge peer predicts RT above chance in both tasks, and (on a synthetic
cohort) its map recovers the planted edges of both traits (AUC >= :data:`dtb.report.FINDS_AUC`).
The twin's own figures are printed beside the reference's, not checked: how well the twin
reads the connectome is a property of the design, measured in the book.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from dtb.report import FINDS_AUC
from dtb.tasks import TASK_NAMES

INDICATORS = ("speed", "affect")


def _suite_r(suite: pd.DataFrame, entry: str, task: str) -> tuple[float, float]:
    row = suite[(suite["entry"] == entry) & (suite["task"] == task)]
    if row.empty:
        return float("nan"), float("nan")
    return float(row["r"].iloc[0]), float(row["ci_low"].iloc[0])


def summary(run_dir: Path | str) -> dict[str, float]:
    """The headline figures of one reproduction folder (``results/quick``)."""
    run_dir = Path(run_dir)
    suite = pd.read_csv(run_dir / "suite" / "suite.tsv", sep="\t")
    out: dict[str, float] = {}
    for task in TASK_NAMES:
        out[f"zero-shot twin RT r, {task}"] = _suite_r(suite, "zero-shot", task)[0]
        r, low = _suite_r(suite, "ridge", task)
        out[f"zero-shot ridge RT r, {task}"] = r
        out[f"ridge RT r CI low, {task}"] = low
        out[f"paper-protocol twin RT r, {task}"] = _suite_r(suite, "paper", task)[0]
    design = json.loads((run_dir / "build.json").read_text()).get("design", "pca")
    for ind in INDICATORS:
        path = run_dir / "intervene" / ind / "intervention.json"
        rec = json.loads(path.read_text()).get("recovery") if path.is_file() else None
        for who in ("twin", "ridge"):
            out[f"planted-edge AUC, {who}, {ind}"] = (
                float(rec[who]["auc_abs"]) if rec else float("nan")
            )
        stab = run_dir / "stability" / f"{design}-{ind}" / "stability.json"
        out[f"seed Spearman r, twin, {ind}"] = (
            float(json.loads(stab.read_text())["spearman_mean"]) if stab.is_file() else float("nan")
        )
    return out


def problems(own: dict[str, float], synthetic: bool) -> list[str]:
    """What says that ``own`` was not read right (empty when it was)."""
    out = []
    for task in TASK_NAMES:
        low = own[f"ridge RT r CI low, {task}"]
        if not low > 0:
            out.append(f"the ridge peer's zero-shot RT r for {task} is not above chance")
    for ind in INDICATORS if synthetic else ():
        auc = own[f"planted-edge AUC, ridge, {ind}"]
        if not auc >= FINDS_AUC:
            out.append(f"the ridge map recovers the planted {ind} edges at AUC {auc:.2f} only")
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the comparison; exit 1 when the first folder fails :func:`problems`."""
    p = argparse.ArgumentParser(prog="python -m dtb.compare_cohorts", description=__doc__)
    p.add_argument("own", type=Path, help="reproduction folder to check (e.g. your own data)")
    p.add_argument("reference", type=Path, help="reproduction folder to compare with")
    args = p.parse_args(argv)
    own, ref = summary(args.own), summary(args.reference)
    table = pd.DataFrame({"reference": ref, "this cohort": own}).round(2)
    table = table[~table.index.str.contains("CI low")]
    print(f"reference: {args.reference}\nthis cohort: {args.own}\n")
    print(table.to_string())
    build = json.loads((args.own / "build.json").read_text())
    found = problems(own, build.get("data", {}).get("kind") == "synthetic")
    for line in found:
        print(f"problem: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
