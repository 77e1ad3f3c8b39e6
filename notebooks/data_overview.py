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
# # Data overview: the cohort, its behaviour and the prepared inputs
#
# What the twin is trained on: who is in the cohort, how they behave in the two tasks
# (Emotional Faces, Stroop), the 80 ms inputs and targets of one participant, and the mean
# resting-state FC. The behavioural baselines shown here need only the events files; every
# model result later in this book is set against them.
#
# Run `make reproduce` first (it writes the inputs below), or point the parameters at your own
# `dtb prepare` / `dtb baselines` outputs.

# %% tags=["parameters"]
data_root = "../results/quick/data"
cache = ""  # prepared cohort (.npz); default: the newest under ../results/quick/cache
baselines = "../results/quick/baselines.json"
real_events_root = ""  # optional: a folder with real TCP events, to compare the behaviour
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

from dtb.baselines import behavioural_baselines
from dtb.data.fc import vector_to_matrix
from dtb.data.prepare import load_prepared
from dtb.data.regions import target_index
from dtb.figures import save_figure
from dtb.layout import STEP
from dtb.report import page_header

sns.set_theme(context="notebook", style="ticks")
if not cache:
    cache = str(
        max(Path("../results/quick/cache").glob("cohort-*.npz"), key=lambda p: p.stat().st_mtime)
    )
cohort = load_prepared(cache)
base = json.loads(Path(baselines).read_text())


# %% tags=["remove-input"]
display(Markdown(page_header(build)))

# %% [markdown]
# ## The cohort

# %%
tasks = cohort.meta["tasks"]
summary = pd.DataFrame(
    {
        task: {
            "participants with the run": int(cohort[f"{task}_present"].sum()),
            "excluded (at/below chance)": base["tasks"][task]["n_excluded_chance"],
            "used for RT": base["tasks"][task]["n_used"],
        }
        for task in tasks
    }
)
print(
    f"{len(cohort.participants)} participants prepared; "
    f"{len(cohort.meta['skipped'])} run(s) skipped"
)
summary

# %% [markdown]
# ## Behaviour and the events-only baselines
# Per-participant mean reaction time and accuracy, and the **own-mean baseline**: a participant's
# mean RT in the first half of the run predicts the second half. A model's RT correlation is only
# informative above this line.

# %% tags=["full-width"]
frames = []
for task in tasks:
    df = pd.DataFrame(base["tasks"][task]["participants"]).assign(task=task, data="this dataset")
    frames.append(df)
if real_events_root:
    real = behavioural_baselines(real_events_root)
    for task in tasks:
        frames.append(
            pd.DataFrame(real["tasks"][task]["participants"]).assign(
                task=task, data="real TCP events"
            )
        )
beh = pd.concat(frames, ignore_index=True)

fig, axes = plt.subplots(1, 4, figsize=(10, 3.2))
sns.histplot(
    beh, x="mean_rt", hue="task", element="step", stat="density", common_norm=False, ax=axes[0]
)
axes[0].set_xlabel("mean RT per participant (s)")
sns.histplot(
    beh, x="accuracy", hue="task", element="step", stat="density", common_norm=False, ax=axes[1]
)
axes[1].set_xlabel("accuracy per participant")
numbers = {"profile": profile, "cache_key": cohort.key, "tasks": {}}
for ax, task in zip(axes[2:], tasks, strict=True):
    t = base["tasks"][task]
    used = pd.DataFrame(t["participants"])
    used = used[used["participant"].isin(set(used["participant"]) - set(t["excluded_chance"]))]
    sns.scatterplot(used, x="train_rt", y="test_rt", ax=ax, s=18)
    lim = [used[["train_rt", "test_rt"]].min().min(), used[["train_rt", "test_rt"]].max().max()]
    ax.plot(lim, lim, color="grey", lw=0.8, ls="--")
    own = t["own_mean_rt"]
    ax.set_title(f"{task}: own-mean r = {own['r']:.2f} [{own['ci_low']:.2f}, {own['ci_high']:.2f}]")
    ax.set_xlabel("training-part mean RT (s)")
    ax.set_ylabel("test-part mean RT (s)")
    numbers["tasks"][task] = {
        "n_used": t["n_used"],
        "own_mean_rt": own,
        "group_mean_rt_mae_s": t["group_mean_rt"]["mae_s"],
        "always_correct_concordance": t["always_correct"]["concordance_mean"],
    }
fig.tight_layout()
paths = save_figure(fig, fig_dir, "data_overview_behaviour", numbers)

# %%
stats = beh.groupby(["data", "task"])[["mean_rt", "accuracy", "miss_rate", "condition_effect"]].agg(
    ["mean", "std"]
)
stats.round(3)

# %% [markdown]
# ## One participant's 80 ms inputs and targets
# The first 60 s of each task: the 9 input dimensions (cue/stimulus codes and the task flag),
# the 3 action targets (a button held from the press until the stimulus leaves the screen), and
# the z-scored BOLD of left V1 (cubic x10 resampling of the TR 0.8 s signal).

# %% tags=["full-width"]
i = int(np.flatnonzero(cohort["faces_present"] & cohort["stroop_present"])[0])
n_show = int(60 / STEP)
t = np.arange(n_show) * STEP
fig, axes = plt.subplots(
    3, 2, figsize=(10, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.4, 1]}
)
for col, task in enumerate(tasks):
    x = cohort[f"{task}_inputs"][i, :n_show]
    a = cohort[f"{task}_actions"][i, :n_show]
    y = cohort[f"{task}_bold"][i, :n_show, target_index("V1_L")]
    axes[0, col].imshow(
        x.T, aspect="auto", interpolation="nearest", extent=[0, t[-1], 8.5, -0.5], cmap="Greys"
    )
    axes[0, col].set_ylabel("input dim")
    axes[0, col].set_title(f"{task}: {cohort.participants[i]}")
    axes[1, col].imshow(
        a.T, aspect="auto", interpolation="nearest", extent=[0, t[-1], 2.5, -0.5], cmap="Blues"
    )
    axes[1, col].set_ylabel("button")
    axes[2, col].plot(t, y, lw=0.8)
    axes[2, col].set_ylabel("V1_L (z)")
    axes[2, col].set_xlabel("time (s)")
fig.tight_layout()
paths = save_figure(
    fig,
    fig_dir,
    "data_overview_inputs",
    {"participant": cohort.participants[i], "seconds_shown": 60},
)

# %% [markdown]
# ## Mean resting-state FC
# Fisher-z correlations of the atlas's regions (for TCP, 434: Schaefer-400 left then right
# hemisphere, Tian S2 subcortex, cerebellum), averaged over the cohort; the twin's hypernetwork
# reads one such matrix (its upper triangle: 93,961 values for TCP) per participant.

# %%
atlas = cohort.atlas
print(f"atlas {atlas.name}: {atlas.n_regions} regions, {atlas.n_fc:,} edges")
mean_fc = vector_to_matrix(cohort["fc"].mean(axis=0), atlas.n_regions)
fig, ax = plt.subplots(figsize=(5.5, 4.6))
sns.heatmap(
    mean_fc,
    cmap="RdBu_r",
    center=0,
    square=True,
    xticklabels=100,
    yticklabels=100,
    ax=ax,
    cbar_kws={"label": "mean Fisher z"},
)
ax.set_title(f"mean rest FC, n = {cohort['fc'].shape[0]}")
paths = save_figure(
    fig,
    fig_dir,
    "data_overview_fc",
    {
        "n_participants": int(cohort["fc"].shape[0]),
        "mean_edge_z": float(cohort["fc"].mean()),
        "sd_edge_z": float(cohort["fc"].std()),
    },
)
