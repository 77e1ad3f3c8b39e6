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
# # Training curves of the twin
#
# How one `dtb train` run went: the training loss per step, split into its two parts (action:
# binary cross-entropy of the three button outputs; BOLD: mean squared error of the 20 region
# signals; the loss weighs them 1 and 1 in the paper's design and the action part 3 times in the
# recommended one, `action_weight`), and the validation loss after every epoch, with the epoch
# whose weights were kept (`best.pt`, the lowest validation loss) and why training stopped.
#
# The training loss of a step is measured on that step's batch with dropout on; the validation
# loss is measured without dropout on windows held out from training. Under the `paper` protocol
# those are the last window of each participant's training part (the test part used by
# `dtb evaluate` is never seen), and under `zero-shot` too in the recommended design; the paper's
# design under `zero-shot` holds out all windows of a fifth of the training participants instead
# (`val_participants`). A falling validation loss shows that the twin fits unseen windows
# better; it says nothing yet about behaviour or BOLD on the test part (Figs. 2 and 3).
#
# Run `make reproduce` first, or point `run_dir` at any `dtb train` run folder.

# %% tags=["parameters"]
run_dir = "../results/quick/suite/paper/run"
fig_dir = "../results/quick/figures"
profile = "quick"
build = "../results/quick/build.json"  # what the page is about (dtb reproduce)

# %%
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display
from matplotlib.ticker import MaxNLocator

from dtb.figures import save_figure
from dtb.report import page_header

sns.set_theme(context="notebook", style="ticks")
run = json.loads((Path(run_dir) / "run.json").read_text())
log = pd.read_csv(Path(run_dir) / "log.tsv", sep="\t")
tc = run["train_config"]
print(
    f"protocol {tc['protocol']}, control {tc['control']}, profile {tc['profile']}: "
    f"{run['steps']} steps, {run['epochs']} epochs, stopped: {run['stopped']}"
)


# %% tags=["remove-input"]
display(Markdown(page_header(build, protocol="paper")))

# %% [markdown]
# ## Loss per step and per epoch
# Left: the total training loss and its two parts at every optimiser step (thin lines), with a
# moving average over one epoch's steps (thick lines). Right: the validation loss after each
# epoch; the marked point is the epoch kept in `best.pt`.

# %% tags=["full-width"]
steps_per_epoch = max(1, int(log.groupby("epoch")["step"].count().max()))
long = log.melt(
    id_vars=["step", "epoch"],
    value_vars=["loss", "action", "bold"],
    var_name="part",
    value_name="value",
)
long["part"] = long["part"].map({"loss": "total", "action": "action (BCE)", "bold": "BOLD (MSE)"})
long["smoothed"] = long.groupby("part")["value"].transform(
    lambda v: v.rolling(steps_per_epoch, min_periods=1).mean()
)
val = log.dropna(subset=["val_loss"])[["epoch", "step", "val_loss"]].reset_index(drop=True)
best = val.loc[val["val_loss"].idxmin()] if len(val) else None  # none before an epoch ends

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.25, 1]})
sns.lineplot(long, x="step", y="value", hue="part", lw=0.6, alpha=0.4, legend=False, ax=axes[0])
sns.lineplot(long, x="step", y="smoothed", hue="part", lw=2, ax=axes[0])
axes[0].set_ylabel("training loss")
axes[0].set_title(f"training loss per step ({steps_per_epoch} steps per epoch)")
axes[0].legend(title=None, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
axes[1].plot(
    val["epoch"] + 1, val["val_loss"], marker="o", ms=5, color="C3", label="validation loss"
)
if best is not None:
    axes[1].plot(
        best["epoch"] + 1,
        best["val_loss"],
        marker="*",
        ms=16,
        color="k",
        ls="",
        zorder=1,
        label="kept in best.pt",
    )
axes[1].legend()
axes[1].set_xlim(0.5, max(1, run["epochs"]) + 0.5)
axes[1].xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("validation loss")
axes[1].set_title(f"validation loss; stopped: {run['stopped']}")
sns.despine(fig)
fig.tight_layout()
numbers = {
    "profile": profile,
    "protocol": tc["protocol"],
    "control": tc["control"],
    "steps": int(run["steps"]),
    "epochs": int(run["epochs"]),
    "best_epoch": None if best is None else int(best["epoch"]) + 1,
    "best_val_loss": run["best_val_loss"],
    "stopped": run["stopped"],
    "val_loss": val["val_loss"].astype(float).tolist(),
    "final_train_loss": float(log["loss"].iloc[-1]),
    "seconds": float(log["seconds"].iloc[-1]),
}
paths = save_figure(fig, fig_dir, "training_curves", numbers)

# %%
val.assign(epoch=val["epoch"] + 1).round(4)
