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
# # Fig. 3: observed vs predicted BOLD, at the group and at the individual level
#
# The paper's Fig. 3 compares the twin's BOLD signals of the 20 target regions with the observed
# ones on the test part (the second 196.8 s of each run, TR 0.8 s):
#
# * **A**, time courses of left V1 for one participant, 3.2 s moving average;
# * **B**, the group t of the task contrast (face > shape, incongruent > congruent) per region
#   and task, observed against predicted: 20 regions x 2 tasks = 40 points (paper: r = 0.84);
# * **C**, mean BOLD per participant x region x task (paper: r > 0.99).
#
# We add **D**, the individual level the paper does not show: does the predicted map of
# participant *i* resemble *i*'s observed map more than other participants' maps?
#
# The GLM (Glover HRF with temporal derivative, cosine drift 0.01 Hz, AR(1)) is fitted alike to
# observed and to predicted signals by `dtb evaluate`; this notebook reads its `metrics.json`,
# `maps.tsv` and `bold_test.npz` and only draws them.

# %% tags=["parameters"]
eval_dir = "../results/quick/suite/paper/eval"
fig_dir = "../results/quick/figures"
participant = ""  # for panel A; default: the first participant with both tasks
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
from matplotlib.ticker import MaxNLocator
from scipy.ndimage import uniform_filter1d

from dtb.data.regions import target_index, target_names
from dtb.figures import save_figure
from dtb.glm import map_similarity
from dtb.report import page_header
from dtb.tasks import TASKS

sns.set_theme(context="notebook", style="ticks")
metrics = json.loads((Path(eval_dir) / "metrics.json").read_text())
bold = metrics["bold"]
maps = pd.read_csv(Path(eval_dir) / "maps.tsv", sep="\t")
tasks = [t for t in (run.name for run in TASKS) if t in bold["tasks"]]
names = target_names()
TASK_LABEL = {"faces": "Emotional Faces", "stroop": "Stroop"}
CONTRAST = {"faces": "face > shape", "stroop": "incongruent > congruent"}


def fmt_r(r: dict) -> str:
    """``r = 0.12 [-0.30, 0.50] (n = 40)``, or ``r = n/a`` when it could not be computed."""
    if r["r"] is None:
        return f"r = n/a (n = {r['n']})"
    return f"r = {r['r']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] (n = {r['n']})"


# %% tags=["remove-input"]
display(Markdown(page_header(build, protocol="paper")))

# %% [markdown]
# ## A: time courses of left V1
# Observed (black) and predicted (colour) z-scored BOLD of left V1 over the test part, smoothed
# with a 3.2 s moving average (4 volumes) as in the paper; the unsmoothed signals are drawn
# faintly. One participant, both tasks. A single region of a single participant is an
# illustration, not evidence: panels B to D summarise all of them.

# %% tags=["full-width"]
with np.load(Path(eval_dir) / "bold_test.npz") as z:
    pairs = pd.DataFrame({"participant": z["participants"], "task": z["tasks"]})
    pred_ts, obs_ts, frame_times = z["pred"], z["obs"], z["frame_times"]
tr = float(np.median(np.diff(frame_times)))
window = max(1, int(round(3.2 / tr)))
if not participant:
    both = pairs.groupby("participant")["task"].nunique()
    participant = str(both[both == len(tasks)].index[0])
v1 = target_index("V1_L")
fig, axes = plt.subplots(len(tasks), 1, figsize=(10, 2.4 * len(tasks)), squeeze=False)
for ax, task in zip(axes[:, 0], tasks, strict=True):
    k = int(pairs.index[(pairs["participant"] == participant) & (pairs["task"] == task)][0])
    obs, pred = obs_ts[k, :, v1], pred_ts[k, :, v1]
    ax.plot(frame_times, obs, color="k", lw=0.5, alpha=0.25)
    ax.plot(frame_times, pred, color="C0", lw=0.5, alpha=0.25)
    ax.plot(frame_times, uniform_filter1d(obs, window), color="k", lw=1.6, label="observed")
    ax.plot(frame_times, uniform_filter1d(pred, window), color="C0", lw=1.6, label="predicted")
    ax.set_ylabel("V1_L BOLD (z)")
    ax.set_title(f"A: {TASK_LABEL[task]}, {participant}, test part", fontsize=11)
    ax.legend(loc="upper right", ncol=2, fontsize=9)
axes[-1, 0].set_xlabel("time from run start (s)")
sns.despine(fig)
fig.tight_layout()
paths = save_figure(
    fig,
    fig_dir,
    "fig3a_timecourse",
    {
        "participant": participant,
        "region": "V1_L",
        "moving_average_volumes": window,
        "moving_average_s": window * tr,
        "n_volumes": int(len(frame_times)),
        "first_frame_s": float(frame_times[0]),
    },
)

# %% [markdown]
# ## B and C: group t maps and mean BOLD
# **B**: the group t (one-sample t across participants of the individual contrast t) of each
# region and task, observed against predicted (named: per task the 4 regions of largest observed
# |t|, and the right amygdala); r over the 40 points as in
# the paper, and within each task. Forty points are few and not independent (the regions of one
# task share participants, and the two tasks share regions such as V1 that respond to any visual
# stimulus), and a group t grows with the number of participants, so its scale differs between
# cohorts. A high r here says that the twin activates the right regions on average; it does not
# say that it captures any individual.
#
# **C**: each participant's mean BOLD per region and task over the test part, observed against
# predicted. BOLD is z-scored per region with statistics of the training part pooled over
# participants, so the mean of a region over the test part is mostly that participant's offset
# from the group in that region and the drift from the training to the test part, not the large
# between-region differences of raw signal intensity. A twin trained on the training part of the
# same runs (the paper protocol) can carry such offsets over, much as the own-mean RT baseline
# carries over RT.

# %% tags=["full-width"]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
ax = axes[0]
group = pd.DataFrame(
    [
        {
            "task": TASK_LABEL[task],
            "region": name,
            "observed": bold["tasks"][task]["group_t_obs"][r],
            "predicted": bold["tasks"][task]["group_t_pred"][r],
        }
        for task in tasks
        for r, name in enumerate(names)
    ]
)
sns.scatterplot(group, x="observed", y="predicted", hue="task", s=40, ax=ax)
# Labels for a few points only (40 labels overlap): per task the 4 largest |observed t|, and AMY_R.
rank = group["observed"].abs().groupby(group["task"]).rank(ascending=False)
for row in group[(rank <= 4) | (group["region"] == "AMY_R")].itertuples():
    ax.annotate(
        row.region,
        (row.observed, row.predicted),
        xytext=(3, 2),
        textcoords="offset points",
        fontsize=8,
        alpha=0.9,
    )
ax.axhline(0, color="grey", lw=0.6)
ax.axvline(0, color="grey", lw=0.6)
ax.set_xlabel("observed group t")
ax.set_ylabel("predicted group t")
ax.set_title(
    f"B: group t, 20 regions x {len(tasks)} tasks\n{fmt_r(bold['group_t_r'])}", fontsize=11
)
task_of = {TASK_LABEL[t]: t for t in tasks}
handles, labels = ax.get_legend_handles_labels()
ax.legend(
    handles,
    [
        f"{lab}, {CONTRAST[task_of[lab]]}:\n{fmt_r(bold['tasks'][task_of[lab]]['group_t_r_task'])}"
        for lab in labels
    ],
    fontsize=8,
    loc="best",
)
ax = axes[1]
sns.scatterplot(
    maps.assign(task=maps["task"].map(TASK_LABEL)),
    x="mean_obs",
    y="mean_pred",
    hue="task",
    s=10,
    alpha=0.6,
    linewidth=0,
    ax=ax,
)
lim = [maps[["mean_obs", "mean_pred"]].min().min(), maps[["mean_obs", "mean_pred"]].max().max()]
ax.plot(lim, lim, color="grey", lw=0.8, ls="--")
ax.set_xlabel("observed mean BOLD (z, test part)")
ax.set_ylabel("predicted mean BOLD (z, test part)")
ax.set_title(
    f"C: mean BOLD, participant x region x task\n{fmt_r(bold['mean_bold_r'])}", fontsize=11
)
ax.legend(title=None, fontsize=8)
sns.despine(fig)
fig.tight_layout()
paths = save_figure(
    fig,
    fig_dir,
    "fig3bc_group",
    {
        "profile": profile,
        "regions": names,
        "group_t_r": bold["group_t_r"],
        "mean_bold_r": bold["mean_bold_r"],
        "n_mean_bold_points": int(len(maps)),
        "tasks": {
            t: {
                "group_t_obs": bold["tasks"][t]["group_t_obs"],
                "group_t_pred": bold["tasks"][t]["group_t_pred"],
                "group_t_r_task": bold["tasks"][t]["group_t_r_task"],
                "n_participants": bold["tasks"][t]["n_participants"],
            }
            for t in tasks
        },
    },
)

# %% [markdown]
# ## D: the individual level
# For each task, the correlation over the 20 regions between a participant's predicted and
# observed t maps (top), and the matrix of correlations between the predicted map of participant
# *i* (rows) and the observed map of participant *j* (columns) (bottom). A twin that captures
# individual brains puts the largest value of each row on the diagonal: the identification
# accuracy is the fraction of rows where it does, to be read against chance (1 / n). Individual
# t maps from 196.8 s of data are noisy, so even a perfect twin would not reach 100%.

# %% tags=["full-width"]
fig, axes = plt.subplots(
    2,
    len(tasks),
    figsize=(5 * len(tasks), 9),
    squeeze=False,
    gridspec_kw={"height_ratios": [1, 1.6]},
)
individual = {}
for col, task in enumerate(tasks):
    t = maps[maps["task"] == task]
    pred = t.pivot(index="participant", columns="region", values="t_pred")[names]
    obs = t.pivot(index="participant", columns="region", values="t_obs")[names]
    sim = map_similarity(pred.to_numpy(), obs.to_numpy())
    m = bold["tasks"][task]
    individual[task] = {
        "participants": pred.index[sim["participants"]].tolist(),
        "individual_r": sim["individual_r"].tolist(),
        "individual_map_r_mean": float(np.nanmean(sim["individual_r"])),
        "identification_accuracy": sim["identification_accuracy"],
        "identification_chance": sim["chance"],
        "differential_identifiability": sim["differential_identifiability"],
        "metrics_identification_accuracy": m["identification_accuracy"],
        "metrics_individual_map_r_mean": m["individual_map_r_mean"],
    }
    ax = axes[0, col]
    sns.histplot(sim["individual_r"], bins=np.linspace(-1, 1, 21), ax=ax, color=f"C{col}")
    ax.axvline(0, color="grey", lw=0.8)
    ax.axvline(np.nanmean(sim["individual_r"]), color="k", lw=1.5, ls="--", label="mean")
    ax.set_xlim(-1, 1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("participants")
    ax.set_xlabel("r(predicted map, own observed map) over 20 regions")
    ax.set_title(
        f"D: {TASK_LABEL[task]}, mean r = {np.nanmean(sim['individual_r']):.2f}, "
        f"n = {len(sim['individual_r'])}",
        fontsize=11,
    )
    ax.legend(fontsize=8)
    ax = axes[1, col]
    labels = np.arange(1, len(sim["participants"]) + 1)
    sns.heatmap(
        pd.DataFrame(sim["identifiability"], index=labels, columns=labels),
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
        square=True,
        ax=ax,
        cbar_kws={"label": "map correlation r", "shrink": 0.7},
    )
    ax.set_xlabel("observed map of participant j")
    ax.set_ylabel("predicted map of participant i")
    ax.set_title(
        f"{TASK_LABEL[task]}: identified {sim['identification_accuracy']:.0%} "
        f"(chance {sim['chance']:.0%}); "
        f"I_diff = {sim['differential_identifiability']:.2f}",
        fontsize=11,
    )
fig.tight_layout()
paths = save_figure(fig, fig_dir, "fig3d_individual", {"profile": profile, "tasks": individual})

# %% [markdown]
# ## The numbers in the figures

# %%
pd.DataFrame(
    {
        TASK_LABEL[t]: {
            "group t r (20 regions)": bold["tasks"][t]["group_t_r_task"]["r"],
            "individual map r (mean)": individual[t]["individual_map_r_mean"],
            "identification accuracy": individual[t]["identification_accuracy"],
            "chance": individual[t]["identification_chance"],
            "differential identifiability": individual[t]["differential_identifiability"],
        }
        for t in tasks
    }
).round(3)
