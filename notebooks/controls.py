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
# # Controls: every protocol and control beside the events-only baselines
#
# The paper's headline RT correlations (Fig. 2) and its zero-shot and ablation results
# (supplement) on one page, each trained and evaluated the same way by `dtb suite`, and set
# against what the events alone give (`dtb baselines`).
#
# **Protocols**, who is trained on:
#
# * `paper`: the within-participant temporal split of the paper. Every participant's training
#   part (first 196.8 s of each run) is trained on and their test part (the next 196.8 s) is
#   predicted. The twin has seen each person's behaviour before it is scored on them.
# * `zero-shot`: k-fold over participants. A held-out fold is never trained on and is seen only
#   through its resting-state FC, from which its twins are generated; the k fold runs together
#   predict everyone. This is the test of the claim that the connectome alone sets the twin's
#   behaviour (paper, supplement: RT r about 0.36-0.42).
#
# **Controls**, what FC each participant is given:
#
# * `none`: the participant's own FC.
# * `shuffle` (shift *s*): participant *i* receives the FC of participant *(i + s) mod n*, a
#   cyclic shift as in the authors' public reduced code. Under `paper` the shuffled FC still
#   identifies each participant (a one-to-one relabelling), so the twin can still fit everyone's
#   training part: this asks whether the FC's *content* matters or only that it tells people
#   apart. Under `zero-shot` the learnt FC-to-behaviour mapping is scrambled, and prediction for
#   unseen participants should fall to chance.
# * `direct-input`: the ablation of the paper, no hypernetwork. One shared recurrent network
#   receives the FC compressed to its leading principal components (fitted on the training
#   participants) as extra constant inputs (paper: RT r about 0).
#
# **Designs** (column `design`): `pca`, the recommended FC encoder, and `dense`, the paper's first
# layer over all edges (entries prefixed with the other design's name), trained and evaluated the
# same way. **The ridge peer** (entry `ridge`): ridge regression from the same FC to each
# participant's test-part mean RT, zero-shot on the same folds, the penalty chosen inside each
# fold (connectome-based prediction, the field's standard); it predicts RT only, so it has no
# concordance.
#
# **Baselines** from the events alone: the own-mean RT (a participant's training-part mean RT
# predicts the test part; r about 0.9 on the real events), the group-mean RT (every participant
# predicted by the others' mean: no individual information, its error is the floor any model
# must beat on MAE) and always correct (the choice concordance of a responder that never errs).
# A twin under the `paper` protocol that merely learns each person's mean RT from their training
# part reaches the own-mean line without using the connectome at all.

# %% tags=["parameters"]
suite_dir = "../results/quick/suite"
baselines = "../results/quick/baselines.json"
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
from dtb.report import as_markdown, page_header, suite_findings
from dtb.tasks import TASKS

sns.set_theme(context="notebook", style="ticks")
suite = pd.read_csv(Path(suite_dir) / "suite.tsv", sep="\t")
base = json.loads(Path(baselines).read_text())
tasks = [t for t in (run.name for run in TASKS) if t in set(suite["task"])]
entries = list(dict.fromkeys(suite["entry"]))
TASK_LABEL = {"faces": "Emotional Faces", "stroop": "Stroop"}


# %% tags=["remove-input"]
display(Markdown(page_header(build, protocol="paper and zero-shot", design="pca and dense")))

# %% [markdown]
# ## The table
# One row per entry and task: the twin's RT correlation across participants on the test part
# (95% CI, number of participants with a model RT), its mean absolute RT error and choice
# concordance, and the baselines of the same task.

# %%
baseline_cols = pd.DataFrame(
    [
        {
            "task": task,
            "own_mean_r": base["tasks"][task]["own_mean_rt"]["r"],
            "own_mean_ci_low": base["tasks"][task]["own_mean_rt"]["ci_low"],
            "own_mean_ci_high": base["tasks"][task]["own_mean_rt"]["ci_high"],
            "own_mean_mae_s": base["tasks"][task]["own_mean_rt"]["mae_s"],
            "group_mean_mae_s": base["tasks"][task]["group_mean_rt"]["mae_s"],
            "always_correct_concordance": base["tasks"][task]["always_correct"]["concordance_mean"],
        }
        for task in tasks
    ]
)
table = suite.merge(baseline_cols, on="task", how="left", validate="many_to_one")
table.round(3)

# %% [markdown]
# ## What the table says
# Written from the table by `dtb.report.suite_findings`: two correlations differ only when
# their 95% CIs do not overlap, and a correlation is above chance only when its CI lies above 0.

# %% tags=["remove-input"]
design = json.loads(Path(build).read_text())["design"]
display(Markdown(as_markdown(suite_findings(suite, base, design))))

# %% [markdown]
# ## The chart
# Left: the RT correlation of every entry (points, 95% CI), per task; the dashed line of each
# task's colour is its own-mean baseline and the shaded band its 95% CI. An entry is informative
# about individual connectomes only where it rises above the band, and a `zero-shot` entry only
# where it also rises above its shuffled control. Right: choice concordance against always
# answering correctly (dashed). Entries with fewer than 4 participants with a model RT have no r.

# %% tags=["full-width"]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), gridspec_kw={"width_ratios": [1.4, 1]})
x = {e: k for k, e in enumerate(entries)}
dodge = dict(zip(tasks, np.linspace(-0.12, 0.12, len(tasks)), strict=True))
ax = axes[0]
for c, task in enumerate(tasks):
    b = baseline_cols.set_index("task").loc[task]
    if b["own_mean_r"] is not None and np.isfinite(b["own_mean_r"]):
        ax.axhspan(b["own_mean_ci_low"], b["own_mean_ci_high"], color=f"C{c}", alpha=0.1, lw=0)
        ax.axhline(b["own_mean_r"], color=f"C{c}", ls="--", lw=1.2)
    t = table[(table["task"] == task) & table["r"].notna()]
    ax.errorbar(
        t["entry"].map(x) + dodge[task],
        t["r"],
        yerr=[t["r"] - t["ci_low"], t["ci_high"] - t["r"]],
        fmt="o",
        color=f"C{c}",
        capsize=3,
        ms=6,
        label=f"{TASK_LABEL[task]} (own-mean RT r = {b['own_mean_r']:.2f})"
        if b["own_mean_r"] is not None and np.isfinite(b["own_mean_r"])
        else TASK_LABEL[task],
    )
ax.axhline(0, color="grey", lw=0.8)
ax.set_xticks(range(len(entries)), entries, rotation=30, ha="right")
ax.set_xlim(-0.5, len(entries) - 0.5)
ax.set_ylim(-1.05, 1.05)
ax.set_ylabel("RT correlation r, observed vs predicted (95% CI)")
ax.set_title("reaction time across participants (test part)", fontsize=11)
ax = axes[1]
for c, task in enumerate(tasks):
    t = table[(table["task"] == task) & table["concordance"].notna()]
    ax.plot(
        t["entry"].map(x) + dodge[task],
        t["concordance"],
        "o",
        color=f"C{c}",
        ms=6,
    )
    ax.axhline(
        baseline_cols.set_index("task").loc[task, "always_correct_concordance"],
        color=f"C{c}",
        ls="--",
        lw=1.2,
    )
ax.set_xticks(range(len(entries)), entries, rotation=30, ha="right")
ax.set_xlim(-0.5, len(entries) - 0.5)
ax.set_ylim(0, 1.02)
ax.set_ylabel("choice concordance (mean over participants)")
ax.set_title("choices; dashed: always correct", fontsize=11)
sns.despine(fig)
fig.tight_layout()
handles, labels = axes[0].get_legend_handles_labels()
fig.legend(
    handles,
    labels,
    title="dashed: own-mean RT baseline (left, band: its 95% CI), always correct (right)",
    title_fontsize=9,
    fontsize=9,
    loc="upper center",
    bbox_to_anchor=(0.5, 0.0),
    ncol=len(tasks),
    frameon=False,
)


def _clean(v):
    """NaN (an r that could not be computed) as JSON null."""
    return None if isinstance(v, float) and not np.isfinite(v) else v


numbers = {
    "profile": profile,
    "entries": entries,
    "rows": [{k: _clean(v) for k, v in row.items()} for row in table.to_dict(orient="records")],
    "baselines": {
        row["task"]: {k: v for k, v in row.items() if k != "task"}
        for row in baseline_cols.to_dict(orient="records")
    },
}
paths = save_figure(fig, fig_dir, "controls", numbers)
