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
# # Fig. 5: virtual intervention, pre and post, one line per twin
#
# The paper's Fig. 5. Each participant's twin is edited along one direction of the generated
# weights, `W' = W + alpha SD(z) v`, where `v` is the first PLS weight vector (the paper's; the
# recommended design takes ridge coefficients, see the methods page) of the weights against an
# indicator computed from the twins' own outputs: **processing speed** (the twin's
# mean RT over Faces and Stroop) or **affect** (the t of the twin's right-amygdala BOLD for face >
# shape). The sign of `v` is chosen so that `+v` lowers the indicator. The paper reports
# corr(z, s) = -0.68 (speed) and -0.59 (affect), effect sizes from about 0 to above 2 SD at
# alpha = 2 SD, a monotonic dose-response up to 2.5 SD with task accuracy kept, and an affective
# edit that barely moves RT.
#
# Beyond the paper, the same treatment is also applied in **FC space**: the connectome targets
# of Fig. 4 are edited in each participant's FC (by a fixed amount of correlation), the twin is
# regenerated from the edited FC and re-simulated. On the synthetic cohort the planted edges of
# the trait are edited the same way, in the direction the ground truth says lowers the
# indicator: a twin that learnt the FC-behaviour relation of the truth should follow.
#
# All numbers come from `dtb intervene` (`intervention.json`, `participants.tsv`,
# `dose_response.tsv`, `fc_treatment.tsv`); this notebook only draws them.

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
from dtb.report import (
    IMPLAUSIBLE_RT_S,
    as_markdown,
    edit_checks,
    page_header,
    treatment_findings,
)

sns.set_theme(context="notebook", style="ticks")
INDICATORS = {"speed": "processing speed (mean RT, s)", "affect": "right-amygdala face>shape t"}
PAPER_R = {"speed": -0.68, "affect": -0.59}
res = {}
for ind in INDICATORS:
    d = Path(intervene_dir) / ind
    res[ind] = {
        "summary": json.loads((d / "intervention.json").read_text()),
        "participants": pd.read_csv(d / "participants.tsv", sep="\t"),
        "dose": pd.read_csv(d / "dose_response.tsv", sep="\t"),
        "fc": pd.read_csv(d / "fc_treatment.tsv", sep="\t"),
    }


# %% tags=["remove-input"]
display(Markdown(page_header(build, protocol="paper")))

# %% [markdown]
# ## Weight-space treatment at the paper's dose
# Left of each row: the indicator before and after the edit, one grey line per twin (the black
# line is the mean). Middle: the per-participant effect size `(pre - post) / SD(pre)`.
# Right: the dose-response, thin lines per twin and the mean, for the treated indicator (effect
# size), the other indicator (cross-domain effect) and the twins' task accuracy.

# %% tags=["full-width"]
fig, axes = plt.subplots(2, 3, figsize=(10, 6.5))
numbers = {"profile": profile, "indicators": {}}
for row, (ind, label) in zip(axes, INDICATORS.items(), strict=True):
    s, p, dose = res[ind]["summary"], res[ind]["participants"], res[ind]["dose"]
    t = s["treatment"]
    col = s["indicator_column"]
    ax = row[0]
    ok = np.isfinite(p["indicator_pre"]) & np.isfinite(p["indicator_post"])
    for a, b in zip(p.loc[ok, "indicator_pre"], p.loc[ok, "indicator_post"], strict=True):
        ax.plot([0, 1], [a, b], color="grey", alpha=0.4, lw=0.8)
    ax.plot(
        [0, 1],
        [p.loc[ok, "indicator_pre"].mean(), p.loc[ok, "indicator_post"].mean()],
        color="black",
        lw=2.5,
        marker="o",
    )
    ax.set_xticks([0, 1], ["pre", f"post ({t['alpha']:g} SD)"])
    ax.set_xlim(-0.2, 1.2)
    ax.set_ylabel(label)
    ax.set_title(
        f"{ind}: r(z, indicator) = {s['direction']['r_latent_indicator']:.2f} "
        f"(paper {PAPER_R[ind]:.2f}), n = {s['n_participants']}",
        fontsize=10,
    )
    ax = row[1]
    sns.histplot(p["effect"].dropna(), bins=15, ax=ax, color="C0")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("effect size (pre - post) / SD(pre)")
    ax.set_title(
        f"mean {t['effect_mean']:.2f}, range {t['effect_min']:.2f} to {t['effect_max']:.2f}",
        fontsize=10,
    )
    ax = row[2]
    for _, g in dose.groupby("participant"):
        ax.plot(g["alpha"], g["effect"], color="C0", alpha=0.15, lw=0.7)
    mean = dose.groupby("alpha")[["effect", "cross_effect", "acc_faces", "acc_stroop"]].mean()
    ax.plot(mean.index, mean["effect"], color="C0", lw=2.5, marker="o", label=f"{ind} (treated)")
    ax.plot(
        mean.index,
        mean["cross_effect"],
        color="C1",
        lw=2,
        marker="s",
        label="other indicator (cross-domain)",
    )
    ax.set_xlabel("dose alpha (SD of the latent)")
    ax.set_ylabel("effect size (SD)")
    acc = ax.twinx()
    acc.plot(mean.index, mean["acc_faces"], color="C2", ls="--", label="accuracy Faces")
    acc.plot(mean.index, mean["acc_stroop"], color="C3", ls="--", label="accuracy Stroop")
    acc.set_ylim(0, 1.02)
    acc.set_ylabel("twin accuracy")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = acc.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    ax.set_title("dose-response", fontsize=10)
    numbers["indicators"][ind] = {
        "r_latent_indicator": s["direction"]["r_latent_indicator"],
        "n_participants": s["n_participants"],
        "alpha": t["alpha"],
        "mean_pre": float(p.loc[ok, "indicator_pre"].mean()),
        "mean_post": float(p.loc[ok, "indicator_post"].mean()),
        "effect_mean": float(p["effect"].mean()),
        "effect_min": float(p["effect"].min()),
        "effect_max": float(p["effect"].max()),
        "dose_effect_mean": dict(zip(mean.index.astype(str), mean["effect"].round(6), strict=True)),
        "dose_cross_effect_mean": dict(
            zip(mean.index.astype(str), mean["cross_effect"].round(6), strict=True)
        ),
        "dose_monotone": bool(np.all(np.diff(mean["effect"].to_numpy()) > 0)),
        "accuracy_pre": t["accuracy_pre"],
        "accuracy_post": t["accuracy_post"],
    }
fig.tight_layout()
paths = save_figure(fig, fig_dir, "fig5_weight_treatment", numbers)

# %%
pd.DataFrame(
    {
        ind: {
            "r(z, indicator)": n["r_latent_indicator"],
            "mean pre": n["mean_pre"],
            "mean post": n["mean_post"],
            "effect mean": n["effect_mean"],
            "effect min": n["effect_min"],
            "effect max": n["effect_max"],
            "dose-response monotone": n["dose_monotone"],
        }
        for ind, n in numbers["indicators"].items()
    }
).round(3)

# %% [markdown]
# ## FC-space treatment: edit the connectome, regenerate the twin
# Each twin's FC has its target edges (Fig. 4) strengthened or weakened; on the synthetic
# cohort, a second edit uses the planted edges of the trait in the direction the truth says
# lowers the indicator. One line per twin; the title gives the mean change and the fraction of
# twins whose indicator went down.

# %% tags=["full-width"]
edits = [
    e
    for e in ("targets", "truth")
    if any(e in res[i]["summary"]["fc_treatment"] for i in INDICATORS)
]
fig, axes = plt.subplots(
    len(INDICATORS), max(len(edits), 1), figsize=(4.8 * max(len(edits), 1), 7), squeeze=False
)
fc_numbers = {"profile": profile, "indicators": {}}
notes = []
for row, ind in zip(axes, INDICATORS, strict=True):
    s, fc = res[ind]["summary"], res[ind]["fc"]
    col = s["indicator_column"]
    fc_numbers["indicators"][ind] = {"amount": s["fc_treatment"]["amount"]}
    for ax, edit in zip(row, edits, strict=False):
        info = s["fc_treatment"].get(edit)
        if info is None:
            ax.set_axis_off()
            continue
        g = fc[fc["edit"] == edit]
        ok = np.isfinite(g[f"pre_{col}"]) & np.isfinite(g[col])
        checks = edit_checks(g, col)
        fast = set(checks["implausible"])
        for p, a, b in g.loc[ok, ["participant", f"pre_{col}", col]].itertuples(index=False):
            red = p in fast
            ax.plot([0, 1], [a, b], color="C3" if red else "grey", alpha=0.4, lw=0.8)
        notes.append(
            f"{ind}, {edit} edit: {len(fast)} of {len(g)} twins answer implausibly fast after "
            f"the edit (mean RT under {IMPLAUSIBLE_RT_S} s in a task; red lines)"
            + (f": {', '.join(sorted(fast))}" if fast else "")
            + "; "
            + (
                "left out: " + "; ".join(f"{p} ({why})" for p, why in checks["left_out"])
                if checks["left_out"]
                else "no twin left out"
            )
            + "."
        )
        ax.plot(
            [0, 1],
            [g.loc[ok, f"pre_{col}"].mean(), g.loc[ok, col].mean()],
            color="black",
            lw=2.5,
            marker="o",
        )
        ax.set_xticks([0, 1], ["pre", "post"])
        ax.set_xlim(-0.2, 1.2)
        ax.set_ylabel(INDICATORS[ind])
        c = info[col]
        ax.set_title(
            f"{ind}, {edit} edit ({info['n_edges']} edges, ±{s['fc_treatment']['amount']:g} r)\n"
            f"change {c['mean_change']:+.3f}, lowered in {100 * c['fraction_lowered']:.0f}% "
            f"of {c['n']}",
            fontsize=10,
        )
        fc_numbers["indicators"][ind][edit] = {
            "n_edges": info["n_edges"],
            "n": int(ok.sum()),
            "mean_change": float((g.loc[ok, col] - g.loc[ok, f"pre_{col}"]).mean()),
            "fraction_lowered": float((g.loc[ok, col] < g.loc[ok, f"pre_{col}"]).mean()),
            "wilcoxon_p": c["wilcoxon_p"],
        }
fig.tight_layout()
paths = save_figure(fig, fig_dir, "fig5_fc_treatment", fc_numbers)

# %% tags=["remove-input"]
display(Markdown(as_markdown(notes)))

# %% [markdown]
# ## Against a null: is the effect specific to the targets?
# Any large edit of a twin's weights or FC can move its outputs. Each treatment is therefore
# repeated on a null: the weight-space shift along a random direction of the same norm, and the
# FC edit of as many random edges (same amounts and signs, several draws, none of them a
# target). The table gives the mean change of the indicator and of the other domain (speed edit
# -> amygdala t, affect edit -> RT) in SD of the untreated values, for the treatment and the
# null, and their difference (the specific effect; negative lowers).

# %%
spec_rows = {}
for ind in INDICATORS:
    s = res[ind]["summary"]
    for label, block in (
        ("weights: direction vs random direction", s["treatment"].get("random_direction")),
        ("FC: targets vs random edges", s["fc_treatment"].get("specific")),
    ):
        for column, v in (block or {}).items():
            if v is None:
                continue
            spec_rows[(ind, label, column)] = {
                "treatment (SD)": v["treatment"],
                "null (SD)": v["null"],
                "specific (SD)": v["specific"],
                "null draws": len(v["null_draws"]),
            }
if spec_rows:
    display(pd.DataFrame.from_dict(spec_rows, orient="index").round(3))
else:
    print("no null was drawn (null_draws = 0 or no targets)")

# %% [markdown]
# Written from the table by `dtb.report.treatment_findings`: an edit moves a measure when its
# specific effect is at least 0.2 SD in size.

# %% tags=["remove-input"]
display(
    Markdown(as_markdown([s for i in INDICATORS for s in treatment_findings(res[i]["summary"])]))
)

# %% [markdown]
# ## Clinical check
# The latent of each twin against every phenotype measure of the dataset (Pearson r,
# Benjamini-Hochberg FDR over all measures). The paper found the speed latent related to
# digit-symbol matching (r = 0.42) and LIFE-RIFT (r = -0.27) among 107 measures. On the
# synthetic cohort the measures are the generator's: a digit-symbol-like score made from the
# speed trait, an anxiety-like score from affect, an impairment score from both, and two null
# measures.

# %%
clinical = {
    ind: pd.DataFrame(res[ind]["summary"]["clinical"]["top"])
    for ind in INDICATORS
    if res[ind]["summary"]["clinical"]["top"]
}
if clinical:
    display(pd.concat(clinical, names=["indicator", "rank"]).round(3))
else:
    print("no phenotype measures in this dataset")
