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
# # Explore a twin: edit a connectome or the weights, watch behaviour and BOLD move
#
# Pick a participant and an edit; the table and the plot compare the participant's **observed**
# data, their **twin** as trained and the **edited** twin, and update with every change:
#
# * RT per condition and accuracy on both tasks, and the GLM t of the chosen region for the
#   chosen task's contrast (face > shape, incongruent > congruent);
# * the BOLD time course of that region on that task.
#
# Edits (`dtb.explore`):
#
# * `direction`: the twin's generated weights moved along the direction of an indicator
#   (`speed` or `affect`, from `dtb intervene`; PLS or ridge, as the run's design decides), in SD
#   of its latent; + lowers the indicator;
# * `targets`: the indicator's connectome targets edited in the participant's FC, each edge in
#   its target's direction, in correlation units; the twin is regenerated from the edited FC;
# * `block`: every FC edge between two networks strengthened (+) or weakened (-), in correlation
#   units; the twin is regenerated.
#
# Run all cells (`make lab` opens JupyterLab here). The `run` menu lists the runs of
# `make reproduce`: the paper-protocol twin, on which every participant was trained ("seen"),
# and each zero-shot fold, whose held-out participants the model never saw ("unseen"; only the
# FC edits apply there, since the directions belong to the run they were computed on).

# %% tags=["parameters"]
results_dir = "../results/quick"  # a dtb reproduce folder: its paper run and zero-shot folds
run_dir = ""  # or one run folder (overrides results_dir)
intervene_dir = ""  # with run_dir: its dtb intervene folder, "" for FC block edits only

# %%
from IPython.display import display

from dtb.explore import Explorer, reproduction_runs
from dtb.explore_widgets import ExplorerApp

runs = {run_dir: (run_dir, intervene_dir or None)} if run_dir else reproduction_runs(results_dir)
first = next(iter(runs.values()))
app = ExplorerApp(Explorer(*first), runs=runs)
display(app.widget)
