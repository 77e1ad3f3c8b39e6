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
# # Fig. 2: observed vs predicted reaction time, beside the baselines
#
# The paper's Fig. 2: for each task, every participant's mean reaction time (RT) on the test part
# (the second 196.8 s of the run) against the mean RT of that participant's twin on the same
# trials, with Pearson r, its 95% confidence interval and a regression line with its confidence
# band. The paper reports r = 0.90 (Emotional Faces) and r = 0.85 (Stroop), and choice
# concordance 0.94 +/- 0.06 and 0.90 +/- 0.10.
#
# Read it next to the events-only baselines (`dtb baselines`), which this figure draws beside the
# scatter:
#
# * **own-mean RT**: a participant's mean RT in the training part predicts their test-part mean
#   RT. On the real TCP events this alone reaches r of about 0.9 in both tasks, the level of the
#   paper's headline numbers, so an RT correlation at that level does not by itself show that the
#   twin learnt anything from the connectome: the twin is trained on the training part of the
#   same runs.
# * **always correct**: a responder that always presses the right button agrees with the
#   participant's choices on the fraction of trials the participant got right, about 93% on the
#   real events, which is the floor for the twin's choice concordance.
#
# As in the paper, participants at or below chance accuracy over the whole run (1/2 Faces, 1/3
# Stroop) are left out; participants whose twin never crossed the response threshold on the test
# part have no predicted RT and are drawn as ticks along the x axis. The numbers come from
# `dtb evaluate` (`metrics.json`, `behaviour.tsv`) and `dtb baselines`; the notebook only draws
# them. Which run is shown (the paper's within-participant protocol or zero-shot on unseen
# participants) is written in the figure's numbers; see the controls page for all of them.
#
# The last figure turns to **unseen participants** (zero-shot: a twin generated from the FC
# alone), where the connectome has to carry the prediction. There the field's standard peer is
# a plain ridge regression from the same FC to each participant's mean RT, on the same folds
# (`dtb.ridge`): the twin of each design (the paper's dense first layer, the recommended pca
# encoder) is drawn beside it.

# %% tags=["parameters"]
eval_dir = "../results/quick/suite/paper/eval"
baselines = "../results/quick/baselines.json"
suite_dir = "../results/quick/suite"
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

from dtb.data.events import CHANCE
from dtb.figures import save_figure
from dtb.report import as_markdown, page_header, suite_findings
from dtb.tasks import TASKS

sns.set_theme(context="notebook", style="ticks")
metrics = json.loads((Path(eval_dir) / "metrics.json").read_text())
beh = pd.read_csv(Path(eval_dir) / "behaviour.tsv", sep="\t")
base = json.loads(Path(baselines).read_text())
tasks = [t for t in (run.name for run in TASKS) if t in metrics["behaviour"]]
protocol = f"{beh['protocol'].iloc[0]} / {beh['control'].iloc[0]}"
# the paper's reported values (Fig. 2 and the concordance in the text), for reference
PAPER = {
    "faces": {"rt_r": 0.90, "concordance_mean": 0.94, "concordance_sd": 0.06},
    "stroop": {"rt_r": 0.85, "concordance_mean": 0.90, "concordance_sd": 0.10},
}
TASK_LABEL = {"faces": "Emotional Faces", "stroop": "Stroop"}


def fmt_r(rt: dict) -> str:
    """``r = 0.12 [-0.30, 0.50]`` or ``r = n/a`` when too few participants have an RT."""
    if rt["r"] is None:
        return "r = n/a"
    return f"r = {rt['r']:.2f} [{rt['ci_low']:.2f}, {rt['ci_high']:.2f}]"


# %% tags=["remove-input"]
display(Markdown(page_header(build, protocol="paper (A-C) and zero-shot (D)")))

# %% [markdown]
# ## Observed vs predicted mean RT, and the baselines
# Top: one point per participant (test part); dashed grey is the identity line, the
# solid line a least-squares fit with its 95% bootstrap band. Bottom left: RT correlation of the
# twin, of the own-mean baseline and as reported in the paper, with 95% CIs. Bottom right: choice
# concordance (mean and SD across participants) of the twin, of always answering correctly, and
# as reported in the paper.

# %% tags=["full-width"]
fig, axes = plt.subplots(2, 2, figsize=(9.5, 8.5), gridspec_kw={"height_ratios": [1.1, 1]})
axes = axes.ravel()
numbers = {"profile": profile, "protocol": protocol, "runs": metrics["runs"], "tasks": {}}
for ax, task in zip(axes[:2], tasks, strict=False):
    m = metrics["behaviour"][task]
    t = beh[beh["task"] == task]
    above = t[t["accuracy"] > CHANCE[task]]
    has_rt = np.isfinite(above["pred_rt"]) & np.isfinite(above["obs_rt"])
    shown, no_rt = above[has_rt], above[~has_rt & np.isfinite(above["obs_rt"])]
    assert len(shown) == m["rt"]["n"], "behaviour.tsv and metrics.json disagree"
    if len(shown) >= 2:
        sns.regplot(
            shown,
            x="obs_rt",
            y="pred_rt",
            ci=95,
            seed=0,
            ax=ax,
            scatter_kws={"s": 28, "edgecolor": "white", "linewidths": 0.5},
        )
    else:
        ax.scatter(shown["obs_rt"], shown["pred_rt"], s=28)
    if len(no_rt):
        sns.rugplot(x=no_rt["obs_rt"], ax=ax, color="grey", height=0.05, lw=1.5)
    lim = np.array(
        [above[["obs_rt", "pred_rt"]].min().min(), above[["obs_rt", "pred_rt"]].max().max()]
    )
    ax.plot(lim, lim, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("observed mean RT (s)")
    ax.set_ylabel("predicted mean RT (s)")
    mae = "n/a" if m["rt_mae_s"] is None else f"{m['rt_mae_s']:.2f} s"
    ax.set_title(
        f"{TASK_LABEL[task]}: {fmt_r(m['rt'])}\n"
        f"n = {m['rt']['n']}, no model RT: {m['n_no_model_rt']}, MAE {mae}",
        fontsize=11,
    )
    b = base["tasks"][task]
    numbers["tasks"][task] = {
        "model_rt": m["rt"],
        "model_rt_mae_s": m["rt_mae_s"],
        "n_points": int(len(shown)),
        "n_no_model_rt": m["n_no_model_rt"],
        "n_excluded_chance": m["n_excluded_chance"],
        "model_concordance_mean": m["concordance_mean"],
        "model_concordance_sd": m["concordance_sd"],
        "own_mean_rt": {k: b["own_mean_rt"][k] for k in ("r", "ci_low", "ci_high", "n", "mae_s")},
        "group_mean_rt_mae_s": b["group_mean_rt"]["mae_s"],
        "always_correct_concordance_mean": b["always_correct"]["concordance_mean"],
        "always_correct_concordance_sd": b["always_correct"]["concordance_sd"],
        "paper": PAPER[task],
    }

sources = ["twin", "own-mean baseline", "paper (reported)"]
offsets = dict(zip(sources, (-0.22, 0.0, 0.22), strict=True))
ax = axes[2]
for k, src in enumerate(sources):
    for x, task in enumerate(tasks):
        n = numbers["tasks"][task]
        rt = {"twin": n["model_rt"], "own-mean baseline": n["own_mean_rt"]}.get(src)
        if src == "paper (reported)":
            ax.plot(x + offsets[src], PAPER[task]["rt_r"], "D", color=f"C{k}", ms=7)
        elif rt["r"] is not None:
            ax.errorbar(
                x + offsets[src],
                rt["r"],
                yerr=[[rt["r"] - rt["ci_low"]], [rt["ci_high"] - rt["r"]]],
                fmt="o",
                color=f"C{k}",
                capsize=3,
                ms=7,
            )
    ax.plot([], [], "o", color=f"C{k}", label=src)
ax.axhline(0, color="grey", lw=0.8)
ax.set_xticks(range(len(tasks)), [TASK_LABEL[t] for t in tasks])
ax.set_xlim(-0.6, len(tasks) - 0.4)
ax.set_ylim(-1.05, 1.05)
ax.set_ylabel("RT correlation r (95% CI)")
ax.set_title("RT: twin vs own-mean baseline", fontsize=11)
ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)

conc_sources = {
    "twin": "model_concordance",
    "always correct": "always_correct_concordance",
    "paper (reported)": "paper",
}
ax = axes[3]
for k, (src, key) in enumerate(conc_sources.items()):
    for x, task in enumerate(tasks):
        n = numbers["tasks"][task]
        mean, sd = (
            (PAPER[task]["concordance_mean"], PAPER[task]["concordance_sd"])
            if key == "paper"
            else (n[f"{key}_mean"], n[f"{key}_sd"])
        )
        if mean is None:
            continue
        ax.bar(
            x + offsets[sources[k]],
            mean,
            width=0.2,
            color=f"C{k}",
            yerr=sd,
            capsize=3,
            label=src if x == 0 else None,
        )
ax.set_xticks(range(len(tasks)), [TASK_LABEL[t] for t in tasks])
ax.set_ylim(0, 1.05)
ax.set_xlabel("")
ax.set_ylabel("choice concordance (mean, SD)")
ax.set_title("choices: twin vs always correct", fontsize=11)
ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
sns.despine(fig)
fig.suptitle(f"Fig. 2, protocol {protocol}", y=1.02)
fig.tight_layout()
paths = save_figure(fig, fig_dir, "fig2_rt", numbers)

# %% [markdown]
# ## The numbers in the figure

# %%
pd.DataFrame(
    {
        task: {
            "twin RT r": n["model_rt"]["r"],
            "twin RT n": n["model_rt"]["n"],
            "twin RT MAE (s)": n["model_rt_mae_s"],
            "own-mean RT r": n["own_mean_rt"]["r"],
            "own-mean RT MAE (s)": n["own_mean_rt"]["mae_s"],
            "group-mean RT MAE (s)": n["group_mean_rt_mae_s"],
            "twin concordance": n["model_concordance_mean"],
            "always-correct concordance": n["always_correct_concordance_mean"],
        }
        for task, n in numbers["tasks"].items()
    }
).round(3)


# %% [markdown]
# ## Unseen participants: the twin beside the ridge peer
# Zero-shot RT correlation (95% CI) on participants the model never saw, for the twin of each
# design and for ridge regression from the same FC on the same folds. Read the twin's number
# against the ridge peer's: a twin whose prediction trails a linear model of the same FC has not
# yet earned its extra machinery for this purpose.

# %%
suite = pd.read_csv(Path(suite_dir) / "suite.tsv", sep="\t")
zs = suite[(suite["protocol"] == "zero-shot") & (suite["control"] == "none")]
labels = {"pca": "twin, pca design", "dense": "twin, dense design (paper)", "ridge": "ridge peer"}
zero_shot = {"profile": profile, "sources": {}}
fig, ax = plt.subplots(figsize=(7, 4.5))
designs = [d for d in ("pca", "dense", "ridge") if d in set(zs["design"])]
for k, design in enumerate(designs):
    rows = zs[zs["design"] == design]
    zero_shot["sources"][labels[design]] = {}
    for x, task in enumerate(tasks):
        row = rows[rows["task"] == task]
        if row.empty or pd.isna(row["r"].iloc[0]):
            continue
        r, lo, hi = (float(row[c].iloc[0]) for c in ("r", "ci_low", "ci_high"))
        zero_shot["sources"][labels[design]][task] = {
            "r": r,
            "ci_low": lo,
            "ci_high": hi,
            "n": int(row["n"].iloc[0]),
        }
        ax.errorbar(
            x + (k - (len(designs) - 1) / 2) * 0.2,
            r,
            yerr=[[r - lo], [hi - r]],
            fmt="o",
            color="black" if design == "ridge" else f"C{k}",
            capsize=3,
            ms=7,
            label=labels[design] if x == 0 else None,
        )
ax.axhline(0, color="grey", lw=0.8)
ax.set_xticks(range(len(tasks)), [TASK_LABEL[t] for t in tasks])
ax.set_xlim(-0.6, len(tasks) - 0.4)
ax.set_ylim(-1.05, 1.05)
ax.set_ylabel("zero-shot RT r (95% CI)")
ax.set_title("unseen participants: mean RT from FC alone", fontsize=11)
ax.legend(fontsize=9, loc="lower left")
sns.despine(fig)
fig.tight_layout()
paths = save_figure(fig, fig_dir, "fig2_zero_shot", zero_shot)

# %% [markdown]
# Written from the suite by `dtb.report.suite_findings` (two correlations differ when their 95%
# CIs do not overlap; one is above chance when its CI lies above 0):

# %% tags=["remove-input"]
design = json.loads(Path(build).read_text())["design"]
display(Markdown(as_markdown(suite_findings(suite[suite["control"] == "none"], base, design))))
