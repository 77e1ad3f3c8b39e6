# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Do the targets find the truth? Two designs, the ridge peer, three seeds
#
# A connectome target is worth reporting only if two things hold. It must be **identifiable**:
# the same data and configuration, trained from different random starts (seeds), should give
# the same edge map. And on data whose truth is known it must **find the truth**: on the
# synthetic cohort each trait was planted in whole blocks of edges (`dtb data synth`), and a
# map is scored by how well it ranks those edges above the others (ROC AUC of `|score|`, 0.5 =
# chance).
#
# Two designs are trained on the same cohort with the same code (see the methods page):
#
# * **dense**, the paper's: the hypernetwork's first layer reads all 93,961 FC edges. Trained
#   at the paper's small first-layer learning rate, its rows stay close to their random start,
#   and every gradient with respect to the FC (SmoothGrad included) lies in their span;
# * **pca**, the recommended: the FC enters through its leading principal components, fitted
#   on the training participants only and whitened, so the first stage lives in the span of
#   the data.
#
# Beside them, the field's standard peer: a ridge regression from the same FC to the observed
# measure behind each indicator (`dtb.ridge`), whose coefficient map is the reference a target
# map should reach, and whose zero-shot prediction of unseen participants' RT is the reference
# the twin's should reach. The numbers come from `dtb intervene` (one per seed and design),
# `dtb targets-stability` and `dtb suite`; this notebook only draws them.

# %% tags=["parameters"]
results_dir = "../results/quick"
fig_dir = "../results/quick/figures"
profile = "quick"
build = "../results/quick/build.json"  # what the page is about (dtb reproduce)

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dtb.figures import save_figure
from dtb.report import as_markdown, page_header, stability_findings, suite_findings

sns.set_theme(context="notebook", style="ticks")
INDICATORS = ("speed", "affect")
DESIGNS = ("pca", "dense")
results = Path(results_dir)
stability = {}
for design in DESIGNS:
    for ind in INDICATORS:
        path = results / "stability" / f"{design}-{ind}" / "stability.json"
        if path.is_file():
            stability[(design, ind)] = json.loads(path.read_text())
suite = pd.read_csv(results / "suite" / "suite.tsv", sep="\t")
assert stability, f"no stability results under {results / 'stability'}: run dtb reproduce"


# %% tags=["remove-input"]
display(Markdown(page_header(build, protocol="paper", design="pca and dense")))

# %% [markdown]
# ## The figure
# Left: planted-edge ROC AUC of `|score|` of each seed's twin map (dots; bar: their mean), with
# the ridge peer's coefficient map (black diamond) and the span ceiling of the twin's network
# (grey bar outline: the planted pattern projected on the span its gradients lie in). Middle:
# agreement of the edge maps between every pair of seeds (Spearman r over all edges). Right:
# zero-shot RT correlation on unseen participants (95% CI) of the twin of each design and of the
# ridge peer on the same folds.

# %% tags=["full-width"]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.9))
numbers = {"profile": profile, "maps": {}, "zero_shot": {}}
width = 0.38
for k, design in enumerate(DESIGNS):
    for x, ind in enumerate(INDICATORS):
        st = stability.get((design, ind))
        if st is None:
            continue
        recs = [r["recovery"] for r in st["runs"] if r["recovery"]]
        twin_auc = [r["twin"]["auc_abs"] for r in recs]
        entry = {
            "seeds": [r["seed"] for r in st["runs"]],
            "twin_auc_abs": twin_auc,
            "twin_auc_signed": [r["twin"]["auc_signed"] for r in recs],
            "twin_precision": [
                r["twin"]["precision_at_k"][str(r["twin"]["n_planted"])] for r in recs
            ],
            "ceiling_auc_abs": [r["ceiling"]["auc_abs"] for r in recs],
            "ridge_auc_abs": recs[0]["ridge"]["auc_abs"] if recs else None,
            "ridge_auc_signed": recs[0]["ridge"]["auc_signed"] if recs else None,
            "spearman": [p["spearman"] for p in st["pairs"]],
            "jaccard": [p["jaccard"] for p in st["pairs"]],
            "spearman_mean": st["spearman_mean"],
            "jaccard_mean": st["jaccard_mean"],
        }
        numbers["maps"][f"{design}-{ind}"] = entry
        pos = x + (k - 0.5) * width
        if twin_auc:
            axes[0].bar(pos, np.mean(twin_auc), width * 0.9, color=f"C{k}", alpha=0.6)
            axes[0].scatter([pos] * len(twin_auc), twin_auc, color=f"C{k}", zorder=3, s=18)
            axes[0].bar(
                pos,
                np.mean(entry["ceiling_auc_abs"]),
                width * 0.9,
                fill=False,
                edgecolor="grey",
                ls="--",
            )
        if entry["ridge_auc_abs"] is not None:
            axes[0].plot(x, entry["ridge_auc_abs"], "D", color="black", ms=7)
        axes[1].scatter([pos] * len(entry["spearman"]), entry["spearman"], color=f"C{k}", s=30)
for ax in axes[:2]:
    ax.set_xticks(range(len(INDICATORS)), INDICATORS)
    ax.set_xlim(-0.6, len(INDICATORS) - 0.4)
axes[0].axhline(0.5, color="grey", lw=0.8)
axes[0].set_ylim(0, 1.05)
axes[0].set_ylabel("planted-edge ROC AUC of |score|")
axes[0].set_title("finding the planted edges", fontsize=11)
handles = [
    Patch(facecolor=f"C{k}", alpha=0.6, label=f"twin, {design} design")
    for k, design in enumerate(DESIGNS)
]
handles += [
    Line2D([], [], marker="D", color="black", ls="", label="ridge peer"),
    Patch(fill=False, edgecolor="grey", ls="--", label="span ceiling"),
]
axes[0].legend(handles=handles, fontsize=8, loc="lower left")
axes[1].axhline(0, color="grey", lw=0.8)
axes[1].set_ylim(-1.05, 1.05)
axes[1].set_ylabel("Spearman r of edge scores, seed pairs")
axes[1].set_title("the same map from another seed?", fontsize=11)

zs = suite[suite["protocol"] == "zero-shot"]
sources = [
    ("twin, pca design", zs[(zs["control"] == "none") & (zs["design"] == "pca")]),
    ("twin, dense design", zs[(zs["control"] == "none") & (zs["design"] == "dense")]),
    ("ridge peer", zs[zs["entry"] == "ridge"]),
]
tasks = list(dict.fromkeys(suite["task"]))
for k, (label, rows) in enumerate(sources):
    numbers["zero_shot"][label] = {}
    for x, task in enumerate(tasks):
        row = rows[rows["task"] == task]
        if row.empty or pd.isna(row["r"].iloc[0]):
            continue
        r, lo, hi = (float(row[c].iloc[0]) for c in ("r", "ci_low", "ci_high"))
        numbers["zero_shot"][label][task] = {"r": r, "ci_low": lo, "ci_high": hi}
        axes[2].errorbar(
            x + (k - 1) * 0.25,
            r,
            yerr=[[r - lo], [hi - r]],
            fmt="o",
            color=["C0", "C1", "black"][k],
            capsize=3,
            label=label if x == 0 else None,
        )
axes[2].axhline(0, color="grey", lw=0.8)
axes[2].set_xticks(range(len(tasks)), tasks)
axes[2].set_ylim(-1.05, 1.05)
axes[2].set_ylabel("zero-shot RT r (95% CI)")
axes[2].set_title("unseen participants: twin vs ridge", fontsize=11)
axes[2].legend(fontsize=8, loc="lower left")
sns.despine(fig)
fig.tight_layout()
paths = save_figure(fig, fig_dir, "targets_truth", numbers)

# %% [markdown]
# ## What the numbers say
# Written by `dtb.report` from the results: a map recovers the planted edges when its AUC of
# |score| is at least 0.9 (partly from 0.6; below 0.45 it ranks them below the other edges),
# maps of different seeds agree when their mean Spearman r is at least 0.8, and two
# correlations differ when their 95% CIs do not overlap.

# %% tags=["remove-input"]
design = json.loads(Path(build).read_text())["design"]
sentences = [stability_findings(d, ind, st) for (d, ind), st in stability.items()] + [
    s for s in suite_findings(suite[suite["control"] == "none"], {}, design) if "zero-shot" in s
]
display(Markdown(as_markdown(sentences)))

# %% [markdown]
# ## Per seed
# One row per design, indicator and seed: the twin map's recovery of the planted edges.

# %%
rows = []
for key, m in numbers["maps"].items():
    design, ind = key.split("-")
    for seed, a, s_, p, c in zip(
        m["seeds"],
        m["twin_auc_abs"],
        m["twin_auc_signed"],
        m["twin_precision"],
        m["ceiling_auc_abs"],
        strict=False,
    ):
        rows.append(
            {
                "design": design,
                "indicator": ind,
                "seed": seed,
                "AUC |score|": a,
                "AUC signed": s_,
                "precision@planted": p,
                "ceiling AUC": c,
                "ridge AUC": m["ridge_auc_abs"],
            }
        )
pd.DataFrame(rows).round(3)
