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
# # The twin explorer: ask a twin a question
#
# `notebooks/explore_twin.py` is an interactive explorer for JupyterLab: pick a participant
# (trained on, or unseen when a zero-shot fold is opened), an edit and its amount, a region and
# a task; the table and the plot compare the participant's **observed** data, their **twin** as
# trained and the **edited** twin, and update with every change (RT per condition and accuracy
# on both tasks, the region's GLM t for the task's contrast, the region's BOLD time course).
#
# To launch it on your machine, after `make reproduce`:
#
# ```bash
# make lab      # installs JupyterLab, opens notebooks/explore_twin.ipynb; then Run > Run All Cells
# ```
#
# The edits (`dtb.explore`): `direction`, the twin's generated weights moved along the
# direction of an indicator (in SD of its latent; + lowers the indicator); `targets`, the
# indicator's connectome targets edited in the participant's FC (correlation units), the twin
# regenerated; `block`, every FC edge between two networks strengthened or weakened. The same
# API serves scripts: `Explorer(run_dir, intervene_dir).compare(participant, Edit(...))`.
#
# This page is a static snapshot: the three edits below, at one setting each, for one
# participant, computed with that API when the book was built (no widgets run here).

# %% tags=["parameters"]
run_dir = "../results/quick/suite/paper/run"
intervene_dir = "../results/quick/intervene"
fig_dir = "../results/quick/figures"
profile = "quick"
build = "../results/quick/build.json"  # what the page is about (dtb reproduce)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

from dtb.explore import Edit, Explorer
from dtb.figures import save_figure
from dtb.report import page_header

sns.set_theme(context="notebook", style="ticks")
explorer = Explorer(run_dir, intervene_dir)
participant = explorer.participants[0]
EDITS = {
    "speed direction, +2 SD": Edit("direction", 2.0, "speed"),
    "speed targets, +0.1": Edit("targets", 0.1, "speed"),
    "SomMotA-SomMotB block, -0.1": Edit("block", -0.1, "speed", ("SomMotA", "SomMotB")),
}
results = {
    name: explorer.compare(participant, edit, "AMY_R", "faces") for name, edit in EDITS.items()
}

# %% tags=["remove-input"]
display(Markdown(page_header(build, protocol="paper")))

# %% [markdown]
# ## The right amygdala on the Faces task, under each edit
# Observed BOLD (black), the twin as trained (blue) and the edited twin (red, dashed), at TR.

# %% tags=["full-width"]
fig, axes = plt.subplots(len(EDITS), 1, figsize=(10, 2.3 * len(EDITS)), sharex=True)
numbers = {"profile": profile, "participant": participant, "edits": {}}
for ax, (name, (table, bold)) in zip(axes, results.items(), strict=True):
    for column, style in (("observed", "k-"), ("twin", "C0-"), ("edited", "C3--")):
        ax.plot(bold["time"], bold[column], style, lw=1, label=column)
    ax.set_title(f"{participant}: {name}", fontsize=10)
    ax.set_ylabel("AMY_R (z)")
    numbers["edits"][name] = table.to_dict(orient="records")
axes[0].legend(fontsize=8, ncol=3, loc="upper right")
axes[-1].set_xlabel("time from run start (s)")
sns.despine(fig)
fig.tight_layout()
paths = save_figure(fig, fig_dir, "explorer_snapshot", numbers)

# %% [markdown]
# ## What each edit did
# RT per condition (s), accuracy and the right amygdala's face > shape t: observed, the twin
# as trained, and the edited twin, as the explorer's table shows them.

# %%
pd.concat(
    {
        name: table.set_index(["measure", "task", "condition"])
        for name, (table, _) in results.items()
    },
    axis=1,
).round(3)
