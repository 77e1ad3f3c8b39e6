"""Words from numbers: the page labels and the verdicts the book prints.

Every sentence of the book that states a result is made here from the results files, by the
rules below, so that the prose cannot drift from the numbers.

Rules
-----
* **Correlations against each other or a baseline** (:func:`compare`): two estimates with 95%
  confidence intervals differ only when the intervals do not overlap ("above" / "below");
  otherwise they are "not distinguishable". A correlation is "above chance" when its interval
  lies above 0 and "not distinguishable from chance" when it contains 0.
* **Recovery of planted edges** (:func:`recovery_verdict`), ROC AUC of ``|score|``: at least
  ``FINDS_AUC`` (0.9) "recovers the planted edges"; from ``PARTLY_AUC`` (0.6) "partly recovers
  them"; inside ``CHANCE_BAND`` (0.45-0.55) or between it and 0.6, "does not recover them";
  below 0.45 "ranks them below the other edges (below chance)". With tens of thousands of edges
  the AUC's sampling error is far below the width of these bands.
* **Agreement of edge maps across seeds**: "agree" when the mean Spearman r is at least
  ``AGREE_SPEARMAN`` (0.8).
* **Treatment effects** (:func:`effect_verdict`): an edit "moves" the indicator when its
  specific effect (treated minus null, in SD of the indicator) is at least ``EFFECT_SD`` (0.2)
  in size, and its sign says which way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FINDS_AUC = 0.9
PARTLY_AUC = 0.6
CHANCE_BAND = (0.45, 0.55)
AGREE_SPEARMAN = 0.8
EFFECT_SD = 0.2
TASK_LABELS = {"faces": "Emotional Faces", "stroop": "Stroop"}

__all__ = [
    "AGREE_SPEARMAN",
    "CHANCE_BAND",
    "EFFECT_SD",
    "FINDS_AUC",
    "PARTLY_AUC",
    "Estimate",
    "build_info",
    "compare",
    "chance_verdict",
    "effect_verdict",
    "page_header",
    "recovery_verdict",
    "suite_findings",
]


# ---------------------------------------------------------------------------------------------
# The page label
# ---------------------------------------------------------------------------------------------


def build_info(
    *,
    data_root: Path | str,
    cache: Path | str,
    profile: str,
    design: str,
    participants: int,
    synthetic: bool,
    seed: int | None,
    code: str,
) -> dict:
    """What every page of a build is about: the data, the profile and design, the code.

    Parameters
    ----------
    data_root : path-like
        The dataset folder; only its name is kept (pages never show a machine's paths).
    cache : path-like
        The prepared cohort ``cohort-<hash>.npz``; its hash names the cohort.
    profile, design : str
        The reproduction profile and its own FC encoder.
    participants : int
        Participants in the prepared cohort.
    synthetic : bool
        Whether the data were written by ``dtb data synth``.
    seed : int or None
        The synthetic cohort's seed (None for real data).
    code : str
        :func:`dtb.provenance.code_version`.
    """
    stem = Path(cache).stem
    return {
        "data": {
            "kind": "synthetic" if synthetic else "real",
            "name": Path(data_root).name,
            "participants": int(participants),
            "seed": seed if synthetic else None,
            "cohort_hash": stem.split("-", 1)[1] if "-" in stem else stem,
        },
        "profile": profile,
        "design": design,
        "code": code,
    }


def page_header(
    build: Mapping[str, Any] | Path | str,
    *,
    protocol: str | None = None,
    design: str | None = None,
) -> str:
    """The label at the top of a page (Markdown): data source, profile, design, protocol, code.

    Parameters
    ----------
    build : dict or path-like
        :func:`build_info`'s dictionary or the ``build.json`` holding it.
    protocol : str, optional
        The protocol the page's numbers come from (``"paper"``, ``"zero-shot"``, or a phrase
        such as ``"paper and zero-shot"``); omitted when the page has none.
    design : str, optional
        The design shown, when not the profile's own (for example ``"pca and dense"``).
    """
    if not isinstance(build, Mapping):
        build = json.loads(Path(build).read_text())
    d = build["data"]
    if d["kind"] == "synthetic":
        source = (
            f"**Synthetic data**: the ground-truth cohort of `dtb data synth` (seed {d['seed']}), "
            f"not real participants"
        )
    else:
        source = f"**Real data**: `{d['name']}`"
    parts = [
        f"{source}; {d['participants']} participants, cohort `{d['cohort_hash'][:12]}`.",
        f"Profile `{build['profile']}`, design `{design or build['design']}`"
        + (f", protocol `{protocol}`" if protocol else "")
        + f"; code `dtb {build['code']}`.",
    ]
    return "> " + " ".join(parts)


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------


class Estimate:
    """A correlation with its 95% CI (any may be None or NaN when it could not be computed)."""

    def __init__(self, r: float | None, low: float | None, high: float | None, n: int = 0):
        self.r, self.low, self.high, self.n = _num(r), _num(low), _num(high), int(n or 0)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Estimate:
        """From a ``suite.tsv`` row or a baseline's dict (``r``, ``ci_low``, ``ci_high``)."""
        return cls(row.get("r"), row.get("ci_low"), row.get("ci_high"), row.get("n") or 0)

    @property
    def known(self) -> bool:
        return not (math.isnan(self.r) or math.isnan(self.low) or math.isnan(self.high))

    def __str__(self) -> str:
        if not self.known:
            return "r not computable" + (f" (n = {self.n})" if self.n else "")
        n = f", n = {self.n}" if self.n else ""
        return f"r = {self.r:.2f} [{self.low:.2f}, {self.high:.2f}{n}]"


def _num(x: Any) -> float:
    try:
        return float("nan") if x is None else float(x)
    except (TypeError, ValueError):
        return float("nan")


def compare(a: Estimate, b: Estimate) -> str:
    """``"above"``, ``"below"`` or ``"not distinguishable from"``: do the 95% CIs overlap?"""
    if not (a.known and b.known):
        return "not comparable with"
    if a.low > b.high:
        return "above"
    if a.high < b.low:
        return "below"
    return "not distinguishable from"


def chance_verdict(a: Estimate) -> str:
    """``"above chance"``, ``"below chance"`` or ``"not distinguishable from chance"`` (r = 0)."""
    if not a.known:
        return "not computable"
    if a.low > 0:
        return "above chance"
    if a.high < 0:
        return "below chance"
    return "not distinguishable from chance"


def recovery_verdict(auc_abs: float | None) -> str:
    """Words for a planted-edge ROC AUC of ``|score|`` (see the module's rules)."""
    auc = _num(auc_abs)
    if math.isnan(auc):
        return "cannot be scored (no ground truth)"
    if auc >= FINDS_AUC:
        return "recovers the planted edges"
    if auc >= PARTLY_AUC:
        return "partly recovers the planted edges"
    if auc >= CHANCE_BAND[0]:
        return "does not recover the planted edges"
    return "ranks the planted edges below the other edges (below chance)"


def effect_verdict(effect_sd: float | None, what: str) -> str:
    """Words for a specific effect in SD: moves ``what`` down / up, or leaves it in place."""
    e = _num(effect_sd)
    if math.isnan(e):
        return f"was not measured on {what}"
    if abs(e) < EFFECT_SD:
        return f"leaves {what} in place ({e:+.2f} SD beyond its null)"
    return f"{'lowers' if e < 0 else 'raises'} {what} ({e:+.2f} SD beyond its null)"


# ---------------------------------------------------------------------------------------------
# Findings of the suite (Fig. 2 and the controls page)
# ---------------------------------------------------------------------------------------------


def _rows(suite, task: str, **where) -> list[tuple[str, Estimate]]:
    """(entry, estimate) of the suite rows of ``task`` whose columns equal ``where``."""
    sel = suite["task"] == task
    for column, value in where.items():
        sel &= suite[column] == value
    return [(row["entry"], Estimate.from_row(row)) for row in suite[sel].to_dict("records")]


def suite_findings(suite, baselines: Mapping[str, Any], design: str = "pca") -> list[str]:
    """One sentence per comparison the suite supports, for each task.

    Parameters
    ----------
    suite : pandas.DataFrame
        ``suite.tsv`` (:func:`dtb.suite.run_suite`): columns ``entry, design, protocol,
        control, task, r, ci_low, ci_high, n``.
    baselines : dict
        ``baselines.json`` (:func:`dtb.baselines.behavioural_baselines`).
    design : str
        The build's own design (the twin); rows of other designs are compared with it.

    Returns
    -------
    sentences : list of str
        Markdown sentences: under the paper's protocol, the twin against the own-mean baseline,
        then the FC shuffle, the no-hypernetwork ablation and the other design against the
        twin; every zero-shot entry against chance; zero-shot, the shuffle, the ablation and
        the other design against the twin, and the twin against the ridge peer.
    """
    out = []
    for task in dict.fromkeys(suite["task"]):
        for protocol in ("paper", "zero-shot"):
            out += _protocol_findings(suite, baselines, task, protocol, design)
    return out


def _protocol_findings(suite, baselines, task: str, protocol: str, design: str) -> list[str]:
    """The sentences of one task and protocol (see :func:`suite_findings`)."""
    label = TASK_LABELS.get(task, task)
    twin = _rows(suite, task, design=design, protocol=protocol, control="none")
    if not twin:
        return []
    name, est = twin[0]
    out = []
    base = baselines.get("tasks", {}).get(task, {}).get("own_mean_rt")
    if protocol == "paper" and base:
        own = Estimate.from_row(base)
        out.append(
            f"{label}, `paper` protocol: the twin's RT correlation ({est}) is "
            f"{compare(est, own)} the own-mean baseline ({own}), which needs no connectome."
        )
    others = [
        (entry, other, words)
        for control, words in _CONTROL_WORDS.items()
        for entry, other in _rows(suite, task, design=design, protocol=protocol, control=control)
    ]
    for d in dict.fromkeys(suite["design"]):
        if d not in (design, "ridge"):
            for entry, other in _rows(suite, task, design=d, protocol=protocol, control="none"):
                others.append((entry, other, f"the `{d}` design"))
    for entry, other, words in others:
        out.append(
            f"{label}, `{protocol}` protocol: {words} (`{entry}`, {other}) is "
            f"{compare(other, est)} the twin (`{name}`, {est})."
        )
    if protocol == "zero-shot":
        for entry, other in [(name, est)] + [(e, o) for e, o, _ in others]:
            out.append(f"{label}, zero-shot `{entry}`: {other}, {chance_verdict(other)}.")
        for _, ridge in _rows(suite, task, design="ridge"):
            out.append(
                f"{label}: the zero-shot twin ({est}) is {compare(est, ridge)} the ridge peer "
                f"on the same folds ({ridge})."
            )
    return out


#: controls compared with the twin of the same protocol
_CONTROL_WORDS = {
    "shuffle": "the twin given another person's FC (FC shuffle)",
    "direct-input": "the no-hypernetwork ablation (one shared RNN reading the FC's components)",
}


# ---------------------------------------------------------------------------------------------
# Findings of the intervention (Figs. 4 and 5) and of the seed comparison
# ---------------------------------------------------------------------------------------------

#: what each indicator column measures, in words
COLUMN_WORDS = {"speed": "the twins' mean RT", "amygdala_t": "the right-amygdala face > shape t"}
_MAP_WORDS = {
    "twin": "the twin's SmoothGrad map",
    "ridge": "the ridge peer's coefficient map",
    "ceiling": "the span ceiling",
}


def recovery_findings(indicator: str, recovery: Mapping[str, Any] | None) -> list[str]:
    """Sentences on each edge map's recovery of the planted edges of ``indicator``.

    Parameters
    ----------
    indicator : str
    recovery : dict or None
        ``intervention.json``'s ``recovery`` (maps ``twin``, ``ridge``, ``ceiling``, each with
        ``auc_abs``, ``auc_signed``, ``n_planted``, ``precision_at_k``); None without truth.
    """
    if not recovery:
        return [f"{indicator}: no planted truth to score against (not a synthetic cohort)."]
    out = []
    for source, words in _MAP_WORDS.items():
        m = recovery.get(source)
        if not m:
            continue
        k = m["n_planted"]
        prec = _num(m["precision_at_k"].get(str(k)))
        out.append(
            f"{indicator}: {words} {recovery_verdict(m['auc_abs'])} (ROC AUC of |score| "
            f"{_num(m['auc_abs']):.2f}, signed {_num(m['auc_signed']):.2f}, precision "
            f"{prec:.2f} among the top {k:,} edges)."
        )
    return out


def treatment_findings(summary: Mapping[str, Any]) -> list[str]:
    """Sentences on the treatments of one ``intervention.json``, each against its null.

    The weight-space edit against a random direction of the same norm, and the FC edit of the
    targets against the same edit of random edges; each on the indicator and the other domain.
    """
    ind = summary["indicator"]
    out = []
    effects = {
        "the weight-space treatment": summary.get("treatment", {}).get("random_direction"),
        "the FC edit of the targets": summary.get("fc_treatment", {}).get("specific"),
    }
    for what, per_column in effects.items():
        for column, e in (per_column or {}).items():
            words = COLUMN_WORDS.get(column, column)
            out.append(f"{ind}: {what} {effect_verdict(e and e['specific'], words)}.")
    return out


def stability_findings(design: str, indicator: str, stability: Mapping[str, Any]) -> str:
    """One sentence: does one design's edge map agree across training seeds, and recover truth?"""
    rec = [r["recovery"]["twin"]["auc_abs"] for r in stability["runs"] if r.get("recovery")]
    auc = sum(rec) / len(rec) if rec else float("nan")
    rho = _num(stability["spearman_mean"])
    agree = "agree" if rho >= AGREE_SPEARMAN else "do not agree"
    return (
        f"{indicator}, `{design}` design: over {len(stability['runs'])} seeds the twin's map "
        f"{recovery_verdict(auc)} (mean AUC {auc:.2f}); maps of different seeds {agree} "
        f"(mean Spearman r {rho:.2f}; agreement needs {AGREE_SPEARMAN})."
    )


def as_markdown(sentences: list[str]) -> str:
    """A bullet list of sentences (Markdown)."""
    return "\n".join(f"* {s}" for s in sentences)


#: Mean reaction times faster than this are flagged: no human's mean RT in these tasks is that
#: short (the fastest simple reaction times are about 0.2 s), so a twin answering that fast
#: after an edit has left the range the twin was trained on.
IMPLAUSIBLE_RT_S = 0.2


def edit_checks(table, column: str, rt_columns: tuple[str, ...] = ("rt_faces", "rt_stroop")):
    """Who an FC-edit panel leaves out, and why; which twins answer implausibly fast.

    Parameters
    ----------
    table : pandas.DataFrame
        ``fc_treatment.tsv`` rows of one edit: ``participant``, ``pre_<column>``, ``<column>``
        and the per-task mean RTs (s) after the edit.
    column : str
        The indicator column drawn.

    Returns
    -------
    checks : dict
        ``left_out``: list of (participant, reason) for rows without both values;
        ``implausible``: participants with a mean RT under :data:`IMPLAUSIBLE_RT_S` in any
        task after the edit.
    """
    left_out = []
    for row in table.to_dict("records"):
        missing = [w for c, w in ((f"pre_{column}", "before"), (column, "after")) if _nan(row[c])]
        if missing:
            left_out.append(
                (
                    row["participant"],
                    f"no {column} {' or '.join(missing)} the edit "
                    "(the twin gave no response in a task, or had no amygdala output)",
                )
            )
    fast = table[[c for c in rt_columns if c in table]].lt(IMPLAUSIBLE_RT_S).any(axis=1)
    return {"left_out": left_out, "implausible": list(table.loc[fast, "participant"])}


def _nan(x: Any) -> bool:
    return math.isnan(_num(x))


# ---------------------------------------------------------------------------------------------
# The settings of a build, for the methods page
# ---------------------------------------------------------------------------------------------


def _table(title: str, values: Mapping[str, Any], columns: Mapping[str, Mapping] | None = None):
    """A Markdown table of settings: one value column, or one column per label."""
    columns = columns or {"value": values}
    head = " | ".join(columns)
    lines = [f"**{title}**", "", f"| setting | {head} |", "|---|" + "---|" * len(columns)]
    for k in next(iter(columns.values())):
        cells = [_shown(c.get(k, "")) for c in columns.values()]
        lines.append(f"| `{k}` | {' | '.join(cells)} |")
    return [*lines, ""]


def _shown(v: Any) -> str:
    return ", ".join(f"{x:g}" for x in v) if isinstance(v, list | tuple) else str(v)


def settings_markdown(
    runs: Mapping[str, Path | str],
    intervention: Path | str | None = None,
    ridge: Any = None,
) -> str:
    """The settings actually used by a build, from its saved configs (Markdown).

    Parameters
    ----------
    runs : dict of str to path-like
        A label (for example ``"pca design"``) and a run folder whose ``run.json`` holds the
        saved ``model_config`` and ``train_config``.
    intervention : path-like, optional
        An ``intervention.json``, whose ``config`` is shown.
    ridge : RidgeConfig, optional
        The ridge peer's settings.

    Returns
    -------
    text : str
        One table per saved config, then the evaluation settings and the statistics methods
        (read from the code's constants).
    """
    from dtb import glm
    from dtb.provenance import config_dict

    saved = {label: json.loads((Path(run) / "run.json").read_text()) for label, run in runs.items()}
    out = _table("Model (`ModelConfig`)", {}, {k: v["model_config"] for k, v in saved.items()})
    out += _table("Training (`TrainConfig`)", {}, {k: v["train_config"] for k, v in saved.items()})
    if intervention is not None:
        cfg = json.loads(Path(intervention).read_text())["config"]
        out += _table("Intervention (`InterveneConfig`)", cfg)
    if ridge is not None:
        values = config_dict(ridge)
        alphas = values.pop("alphas")
        values["alphas"] = f"{len(alphas)} values, {min(alphas):.3g} to {max(alphas):.3g}"
        out += _table("Ridge peer (`RidgeConfig`)", values)
    out += _table(
        "Evaluation (`dtb.glm`, nilearn first-level GLM)",
        {
            "hrf_model": glm.HRF_MODEL,
            "drift_model": glm.DRIFT_MODEL,
            "high_pass (Hz)": glm.HIGH_PASS,
            "noise_model": glm.NOISE_MODEL,
        },
    )
    out += [
        "**Statistics.** Correlations are Pearson r with 95% confidence intervals from the "
        "Fisher z transform (`scipy.stats.pearsonr`); the book's comparisons follow "
        f"`dtb.report`: two correlations differ when their intervals do not overlap; a map "
        f"recovers planted edges at ROC AUC >= {FINDS_AUC} (partly from {PARTLY_AUC}; below "
        f"{CHANCE_BAND[0]} it ranks them below the rest); edge maps of different seeds agree "
        f"at a mean Spearman r >= {AGREE_SPEARMAN}; an edit moves a measure when its effect "
        f"beyond the null is at least {EFFECT_SD} SD; mean RTs under {IMPLAUSIBLE_RT_S} s "
        "are flagged as implausible.",
        "",
    ]
    return "\n".join(out)
