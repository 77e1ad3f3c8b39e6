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
# # Fig. 4: connectome targets of the virtual intervention
#
# The paper's Fig. 4. For each indicator's direction `v` in the twins' weights (Fig. 5), the
# latent `z` of a twin is a function of its FC. SmoothGrad takes the gradient of `z` with respect
# to every FC edge, averaged over 100 noisy copies of each participant's FC (noise SD 0.1 x the
# SD of the FC values) and over participants. A positive score means strengthening the edge moves
# the twin along `+v`, which lowers the indicator (faster responses, a calmer amygdala). Edges
# beyond 2.5 SD of the scores are the targets. The paper found, for speed: strengthen
# within-PFC, temporal-subcortical and parietal-subcortical edges, weaken bilateral motor; for
# affect: strengthen bilateral motor, weaken limbic-parietal and temporal-subcortical.
#
# On the synthetic cohort the truth is known: each trait was planted in whole blocks of edges
# (`dtb data synth`; for speed prefrontal-subcortex and parietal-subcortex up, left-right motor
# down; for affect limbic-parietal and temporal-subcortex up, limbic-prefrontal down). The
# recovery numbers below say how well the targets find them.
#
# The numbers come from `dtb intervene` (`edges.tsv`, `top_edges.tsv`, `networks.tsv`,
# `intervention.json`); region names and networks are those of the cohort's atlas (for TCP, the
# approximate map of `dtb.data.parcellation` unless a label file was given), and the glass-brain
# plot needs MNI coordinates in the label file.

# %% tags=["parameters"]
intervene_dir = "../results/quick/intervene"
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

from dtb.figures import save_figure
from dtb.report import as_markdown, page_header, recovery_findings
from dtb.targets import MIN_NETWORK_EDGES, network_matrix

sns.set_theme(context="notebook", style="ticks")
INDICATORS = ("speed", "affect")
res = {}
for ind in INDICATORS:
    d = Path(intervene_dir) / ind
    res[ind] = {
        "summary": json.loads((d / "intervention.json").read_text()),
        "edges": pd.read_csv(d / "edges.tsv", sep="\t", keep_default_na=False),
        "top": pd.read_csv(d / "top_edges.tsv", sep="\t", keep_default_na=False),
        "networks": pd.read_csv(d / "networks.tsv", sep="\t"),
        "regions": d / "regions.tsv",
    }


# %% tags=["remove-input"]
display(Markdown(page_header(build, protocol="paper")))

# %% [markdown]
# ## Network x network summary and the score distribution
# Top: for each pair of networks (17 Schaefer networks, subcortex, cerebellum), the fraction of
# its edges that are targets to strengthen minus the fraction to weaken (red: strengthen, blue:
# weaken). Pairs with fewer than 30 edges (`dtb.targets.MIN_NETWORK_EDGES`) are left blank: a
# fraction over a handful of edges is all or nothing. Bottom: the distribution of the
# standardised edge scores with the 2.5 SD thresholds.

# %% tags=["full-width"]
fig, axes = plt.subplots(2, 2, figsize=(10, 9.5), gridspec_kw={"height_ratios": [1.6, 1]})
numbers = {"profile": profile, "indicators": {}}
for k, ind in enumerate(INDICATORS):
    s, edges, nets = res[ind]["summary"], res[ind]["edges"], res[ind]["networks"]
    m = network_matrix(nets, "frac_strengthen", MIN_NETWORK_EDGES) - network_matrix(
        nets, "frac_weaken", MIN_NETWORK_EDGES
    )
    lim = max(float(np.nanmax(np.abs(m.to_numpy()))), 1e-6)
    sns.heatmap(
        m,
        ax=axes[0, k],
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        square=True,
        xticklabels=True,
        yticklabels=True,
        cbar_kws={"label": "fraction strengthen - fraction weaken", "shrink": 0.6},
    )
    axes[0, k].tick_params(labelsize=8)
    axes[0, k].set_title(
        f"{ind}: {s['targets']['n_strengthen']} edges to strengthen, "
        f"{s['targets']['n_weaken']} to weaken",
        fontsize=11,
    )
    ax = axes[1, k]
    sns.histplot(edges["score_z"], bins=200, ax=ax, element="step", color="C0")
    thr = s["targets"]["threshold_sd"]
    for x in (-thr, thr):
        ax.axvline(x, color="C3", ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("edge score (SD)")
    ax.set_title(f"{ind}: SmoothGrad scores of {len(edges):,} edges", fontsize=11)
    nets = nets.assign(net=nets["frac_strengthen"] - nets["frac_weaken"])
    best = nets.iloc[np.argsort(-np.abs(nets["net"].to_numpy()), kind="stable")[:5]]
    numbers["indicators"][ind] = {
        "n_edges": int(len(edges)),
        "n_strengthen": int((edges["target"] == "strengthen").sum()),
        "n_weaken": int((edges["target"] == "weaken").sum()),
        "threshold_sd": thr,
        "strongest_network_pairs": best[["network_a", "network_b", "net"]].to_dict("records"),
        "recovery": s["recovery"],
    }
fig.tight_layout()
paths = save_figure(fig, fig_dir, "fig4_targets", numbers)

# %% [markdown]
# ## Top edges
# The strongest targets of each direction, with region labels and networks.

# %%
for ind in INDICATORS:
    top = res[ind]["top"][["label_i", "label_j", "network_i", "network_j", "score_z", "target"]]
    print(f"{ind}: top {min(15, len(top))} of {len(res[ind]['top'])} listed")
    display(top.head(15).round(2))

# %% [markdown]
# ## Recovery of the planted edges (synthetic cohort)
# ROC AUC of `|score|` for planted edges against all others (0.5 = chance); the signed AUC
# counts a planted edge as found only when its score has the sign the truth implies; sign
# agreement over the planted edges; precision among the top-k edges (k = the number of planted
# edges). Three maps for each indicator: the **twin**'s SmoothGrad map; the **ridge** peer's
# coefficient map, fitted from the same participants' FC to the observed measure behind the
# indicator (the reference a target map should reach); and the **ceiling**, the planted pattern
# projected onto the span every FC gradient of this network lies in (for the paper's dense
# first layer, that layer's rows; for the pca encoder, the components of the training FC).
# Empty for real data. The targets page compares both designs across training seeds.

# %%
rec = {
    ind: res[ind]["summary"]["recovery"] for ind in INDICATORS if res[ind]["summary"]["recovery"]
}
if rec:
    rows = {}
    for ind, r in rec.items():
        for source in ("twin", "ridge", "ceiling"):
            m = r.get(source)
            if not m:
                continue
            rows[(ind, source)] = {
                "planted edges": f"{m['n_planted']:,}",
                "AUC |score|": m["auc_abs"],
                "AUC signed": m["auc_signed"],
                "sign agreement": m["sign_agreement"],
                "precision@planted": m["precision_at_k"][str(m["n_planted"])],
            }
    display(pd.DataFrame.from_dict(rows, orient="index").round(2))
display(Markdown(as_markdown([s for i in INDICATORS for s in recovery_findings(i, rec.get(i))])))

# %% [markdown]
# ## Glass brain
# The top edges on a glass brain (nilearn), drawn when the region label file has MNI
# coordinates (columns `x, y, z` in the label file given to `dtb prepare`, or for TCP
# `dtb intervene --labels FILE`).

# %%
from nilearn import plotting

for ind in INDICATORS:
    path = res[ind]["regions"]
    if not path.is_file():
        print(f"{ind}: no region coordinates (pass a label file with x, y, z): brain plot skipped")
        continue
    regions = pd.read_csv(path, sep="\t")
    top = res[ind]["top"]
    nodes = np.unique(top[["i", "j"]].to_numpy())
    pos = {n: k for k, n in enumerate(nodes)}
    adj = np.zeros((len(nodes), len(nodes)))
    for i, j, z in top[["i", "j", "score_z"]].itertuples(index=False):
        adj[pos[i], pos[j]] = adj[pos[j], pos[i]] = z
    coords = regions.set_index("index").loc[nodes, ["x", "y", "z"]].to_numpy()
    display_ = plotting.plot_connectome(
        adj, coords, edge_cmap="RdBu_r", node_size=10, title=f"{ind}: top targets"
    )
    display_.savefig(str(Path(fig_dir) / f"fig4_glass_brain_{ind}.png"), dpi=150)
    plt.show()
