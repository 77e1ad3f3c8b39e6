"""``dtb intervene``: virtual interventions on the twins (paper, section "virtual intervention").

Steps, each a function with a typed result, run in order by :func:`intervene`:

1. :func:`load_twins`: the run's network and the twins of participants with both tasks.
2. :func:`indicator_direction`: the indicator from the twins' own outputs on the whole runs
   (processing speed = mean of the Faces and Stroop mean RT, s; affect = the t of the twin's
   right-amygdala BOLD for face > shape, :mod:`dtb.glm`) and its direction in weight space
   (:mod:`dtb.pls`: the paper's PLS for the dense design, a ridge regression for the pca
   design).
3. :func:`weight_treatment`: ``W' = W + alpha SD(z) v`` over a dose grid, each twin
   re-simulated; effect size per participant ``(pre - post) / SD(pre)``, beside a random
   direction of the same norm (the null).
4. :func:`connectome_targets`: SmoothGrad of the latent over the FC (:mod:`dtb.smoothgrad`),
   targets beyond ``threshold`` SD.
5. :func:`fc_treatment`: the target edges of each FC strengthened or weakened, the twin
   regenerated and re-simulated, beside random edges edited the same way (the null) and, on a
   synthetic cohort, the planted edges edited in the direction the truth says lowers the
   indicator.
6. :func:`truth_recovery` (synthetic cohorts): the twin's edge map, the ridge peer's
   coefficient map (:mod:`dtb.ridge`, the reference) and the span ceiling scored against the
   planted edges.
7. Clinical check: the latent against phenotype measures, BH-FDR (:mod:`dtb.clinical`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from dtb.data.encoding import TRIAL_FIELDS
from dtb.data.prepare import PreparedCohort, load_prepared
from dtb.fileio import (
    atomic_path,
    ensure_outside,
    json_default,
    nan_to_none,
    write_json,
    write_text,
)
from dtb.layout import STEP
from dtb.pls import DIRECTIONS, Direction, find_direction
from dtb.progress import tqdm
from dtb.provenance import code_version, config_dict
from dtb.responses import model_responses
from dtb.tasks import TASK_NAMES
from dtb.twin import DigitalTwin

INDICATORS = ("speed", "affect")
#: Table column of each indicator.
INDICATOR_COLUMN = {"speed": "speed", "affect": "amygdala_t"}
#: Sign of the synthetic trait that lowers each indicator (faster RT: higher ``speed``; smaller
#: amygdala response: lower ``affect``).
LOWER_TRAIT_SIGN = {"speed": 1, "affect": -1}
AMYGDALA = "AMY_R"
#: The task whose contrast (face > shape) of the amygdala is the affect indicator.
AFFECT_TASK = "faces"
#: Largest dose accepted, in SD of the latent: beyond it the weights leave the cohort's range.
MAX_ALPHA = 5.0
MEASURE_COLUMNS = (
    "rt_faces",
    "rt_stroop",
    "speed",
    "amygdala_t",
    "acc_faces",
    "acc_stroop",
)
_F = {name: k for k, name in enumerate(TRIAL_FIELDS)}
#: The weight-space direction of each design (``InterveneConfig.direction="auto"``): the
#: paper's PLS for its dense design; for the pca design a ridge regression, whose edge maps
#: agree across training seeds where PLS's do not (book, methods page).
DESIGN_DIRECTION = {"dense": "pls", "pca": "ridge"}


@dataclass(frozen=True)
class InterveneConfig:
    """Settings of ``dtb intervene``.

    Attributes
    ----------
    indicator : {"speed", "affect"}
    alpha : float
        Treatment dose in SD of the latent (paper: 2).
    doses : tuple of float
        Dose-response grid (paper: up to 2.5).
    copies, noise, chunk : int, float, int
        SmoothGrad: noisy copies per participant, noise SD as a fraction of the SD of the
        participant's FC values, copies per gradient pass (memory bound).
    threshold : float
        Target edges lie beyond this many SD of the edge scores (paper: 2.5).
    fc_edit : float
        FC-space treatment: change of each target edge's correlation.
    n_top : int
        Rows of the top-edge table.
    null_draws : int
        Draws of random edges edited like the targets (same count, signs and amount): the null
        the targets' FC edit is measured against. The weight-space treatment is measured
        against a random direction of the same norm.
    targets_only : bool
        Stop after the connectome targets and their recovery of a planted truth: no doses,
        FC edits or clinical check (what a seed-agreement study needs).
    checkpoint : str
        ``best.pt`` or ``checkpoint.pt`` of the run.
    seed : int
        Seed of the SmoothGrad noise and of the nulls.
    direction : {"auto", "pls", "ridge"}
        How the weight-space direction is found (:mod:`dtb.pls`); ``auto`` takes the run's
        design's (:data:`DESIGN_DIRECTION`), and the results record the one used.
    """

    indicator: str = "speed"
    alpha: float = 2.0
    doses: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5)
    copies: int = 100
    noise: float = 0.1
    chunk: int = 25
    threshold: float = 2.5
    fc_edit: float = 0.1
    n_top: int = 30
    null_draws: int = 3
    targets_only: bool = False
    checkpoint: str = "best.pt"
    seed: int = 0
    direction: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "doses", tuple(float(a) for a in self.doses))

    def validate(self) -> None:
        """Raise ``ValueError`` on a setting out of range."""
        if self.indicator not in INDICATORS:
            raise ValueError(
                f"unknown indicator {self.indicator!r}; choose from {', '.join(INDICATORS)}"
            )
        for a in (self.alpha, *self.doses):
            if not -MAX_ALPHA <= a <= MAX_ALPHA:
                raise ValueError(
                    f"dose {a} is outside [-{MAX_ALPHA}, {MAX_ALPHA}] SD of the latent: the "
                    "edited weights would leave the range of the cohort's twins"
                )
        if not self.doses or 0.0 not in self.doses:
            raise ValueError("the dose grid must contain 0 (the untreated twins)")
        if self.copies < 1 or self.chunk < 1:
            raise ValueError("copies and chunk must be >= 1")
        if not 0 <= self.noise <= 1:
            raise ValueError(f"noise must be in [0, 1] (fraction of the FC's SD), got {self.noise}")
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0 SD, got {self.threshold}")
        if self.direction not in ("auto", *DIRECTIONS):
            raise ValueError(
                f"unknown direction {self.direction!r}; choose from auto, {', '.join(DIRECTIONS)}"
            )
        if self.null_draws < 0:
            raise ValueError(f"null_draws must be >= 0, got {self.null_draws}")
        if not 0 < self.fc_edit < 1:
            raise ValueError(f"fc_edit must be in (0, 1) correlation units, got {self.fc_edit}")


# ---------------------------------------------------------------------------------------------
# weights and indicators


@torch.no_grad()
def generated_weights(network, fc: np.ndarray, chunk: int = 32) -> torch.Tensor:
    """Flat generated main-network weights of each FC row.

    Parameters
    ----------
    network : dtb.network.Network
    fc : ndarray, shape (S, n_fc)
        Raw Fisher-z FC vectors.

    Returns
    -------
    weights : torch.Tensor of float32, shape (S, P)
    """
    core = network.core
    if not hasattr(core, "hyper"):
        raise ValueError(
            "this run has no generated main-network weights (direct-input ablation): "
            "interventions need a hypernetwork run"
        )
    device = network.fc_mean.device
    out = []
    for s in range(0, len(fc), chunk):
        x = torch.as_tensor(np.asarray(fc[s : s + chunk]), dtype=torch.float32, device=device)
        out.append(core.hyper(network.normalise(x)).cpu())
    return torch.cat(out)


def amygdala_index(model_cfg) -> int:
    """Output index of the right amygdala; ``ValueError`` when the model has no such target."""
    from dtb.data.regions import target_names

    names = target_names()
    if model_cfg.n_bold != len(names) or AMYGDALA not in names:
        raise ValueError(
            f"the run predicts {model_cfg.n_bold} BOLD targets, not the {len(names)} regions with "
            f"{AMYGDALA}: the affect indicator needs the right-amygdala output"
        )
    return names.index(AMYGDALA)


def _twin_row(twin: DigitalTwin, cohort: PreparedCohort, i: int, amy: int | None) -> dict:
    from dtb.glm import contrast_vector, design_matrix, first_level_t

    row: dict = {}
    for task in TASK_NAMES:
        if not cohort[f"{task}_present"][i]:
            row[f"rt_{task}"] = row[f"acc_{task}"] = np.nan
            if task == AFFECT_TASK:
                row["amygdala_t"] = np.nan
            continue
        sim = twin.simulate(cohort[f"{task}_inputs"][i])
        trials = cohort[f"{task}_trials"][i]
        trials = trials[np.isfinite(trials[:, _F["onset"]])]
        choice, rt = model_responses(sim.action_prob, trials)
        correct = trials[:, _F["correct"]]
        ok = np.isfinite(correct)
        row[f"rt_{task}"] = float(np.nanmean(rt)) if np.isfinite(rt).any() else np.nan
        row[f"acc_{task}"] = float(np.mean(choice[ok] == correct[ok])) if ok.any() else np.nan
        if task == AFFECT_TASK:
            row["amygdala_t"] = np.nan
            if amy is not None:
                steps = cohort.volume_steps("all")
                bold = sim.bold_at(steps)[:, [amy]]
                design = design_matrix(trials, steps * STEP, task)
                contrast = contrast_vector(design, task)
                row["amygdala_t"] = float(first_level_t(bold, design, contrast)[0])
    row["speed"] = float(np.mean([row[f"rt_{t}"] for t in TASK_NAMES]))
    return row


def twin_measures(
    network,
    cohort: PreparedCohort,
    rows: np.ndarray,
    *,
    weights: torch.Tensor | None = None,
    fc: np.ndarray | None = None,
    amygdala: int | None = None,
    progress: bool = False,
    desc: str = "twins",
) -> pd.DataFrame:
    """Simulate twins on their whole runs and measure behaviour and the amygdala response.

    Parameters
    ----------
    network : dtb.network.Network
    cohort : PreparedCohort
    rows : ndarray of int, shape (S,)
        Participants (rows of the cohort) whose task inputs and trials are used.
    weights : torch.Tensor, shape (S, P), optional
        Main-network weights of each twin (e.g. edited); otherwise generated from ``fc``.
    fc : ndarray, shape (S, n_fc), optional
        FC vectors of the twins (default: the cohort's own).
    amygdala : int, optional
        Output index of the right amygdala; ``amygdala_t`` is NaN without it.

    Returns
    -------
    table : pandas.DataFrame, shape (S, 7)
        ``participant`` and :data:`MEASURE_COLUMNS`: mean model RT per task (s; NaN if the twin
        never responded), ``speed`` (mean of the two), model accuracy per task (fraction of
        trials whose choice is the correct button), right-amygdala face > shape t.
    """
    if weights is None:
        fc = cohort["fc"][rows] if fc is None else fc
        weights = generated_weights(network, fc)
    if len(weights) != len(rows):
        raise ValueError(f"{len(weights)} weight rows for {len(rows)} participants")
    out = []
    for k, i in enumerate(tqdm(rows, desc=desc, disable=not progress)):
        twin = DigitalTwin.from_weights(weights[k], network)
        out.append({"participant": cohort.participants[i], **_twin_row(twin, cohort, i, amygdala)})
    return pd.DataFrame(out, columns=["participant", *MEASURE_COLUMNS])


# ---------------------------------------------------------------------------------------------
# the direction


def effect_size(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """Per-participant ``(pre - post) / SD(pre)`` (SD across participants, ddof 1)."""
    pre, post = np.asarray(pre, float), np.asarray(post, float)
    sd = np.nanstd(pre, ddof=1)
    if not sd > 0:
        raise ValueError("the untreated indicator has zero variance: effect sizes undefined")
    return (pre - post) / sd


def paired_summary(pre: np.ndarray, post: np.ndarray) -> dict:
    """Mean change, fraction lowered and Wilcoxon signed-rank p of paired values."""
    pre, post = np.asarray(pre, float), np.asarray(post, float)
    ok = np.isfinite(pre) & np.isfinite(post)
    d = post[ok] - pre[ok]
    out = {
        "n": int(ok.sum()),
        "mean_pre": float(pre[ok].mean()) if ok.any() else None,
        "mean_post": float(post[ok].mean()) if ok.any() else None,
        "mean_change": float(d.mean()) if ok.any() else None,
        "fraction_lowered": float(np.mean(d < 0)) if ok.any() else None,
        "wilcoxon_p": None,
    }
    if ok.sum() >= 6 and np.any(d != 0):
        out["wilcoxon_p"] = float(stats.wilcoxon(d).pvalue)
    return out


# ---------------------------------------------------------------------------------------------
# the steps


@dataclass
class Twins:
    """The twins an intervention works on.

    Attributes
    ----------
    network : dtb.network.Network
    cohort : PreparedCohort
    rows : ndarray of int, shape (S,)
        Cohort rows of the participants (both tasks present, indicator defined).
    fc : ndarray, shape (S, n_fc)
    weights : torch.Tensor, shape (S, P)
        Generated main-network weights.
    amygdala : int or None
        Output index of the right amygdala.
    """

    network: object
    cohort: PreparedCohort
    rows: np.ndarray
    fc: np.ndarray
    weights: torch.Tensor
    amygdala: int | None

    def measure(self, progress: bool, desc: str, **edit) -> pd.DataFrame:
        """:func:`twin_measures` of these twins, with edited ``weights`` or ``fc``."""
        if not edit:
            edit = {"weights": self.weights}
        return twin_measures(
            self.network,
            self.cohort,
            self.rows,
            amygdala=self.amygdala,
            progress=progress,
            desc=desc,
            **edit,
        )

    def subset(self, keep: np.ndarray) -> Twins:
        """The twins where ``keep`` (bool, shape (S,)) is true."""
        return replace(self, rows=self.rows[keep], fc=self.fc[keep], weights=self.weights[keep])


@dataclass(frozen=True)
class LoadedRun:
    """A training run opened for an intervention."""

    path: Path
    cache: Path
    root: Path
    train_config: object
    model_config: object


def load_twins(run_dir: Path, cfg: InterveneConfig, device: str) -> tuple[LoadedRun, Twins]:
    """Open a run, check that an intervention applies to it, generate the twins' weights."""
    from dtb.network import load_checkpoint, open_run, resolve_device

    if not (run_dir / "run.json").is_file():
        raise ValueError(f"{run_dir}: not a training run (no run.json)")
    record = json.loads((run_dir / "run.json").read_text())
    cohort = load_prepared(record["cache"])
    dev = resolve_device(device)
    blob = load_checkpoint(run_dir / cfg.checkpoint, map_location=dev)
    network, tc, mc = open_run(blob, cohort, run_dir / cfg.checkpoint, dev)
    if tc.control != "none":
        raise ValueError(
            f"{run_dir}: a {tc.control!r} control run; interventions need a run with control "
            "'none' (its twins are generated from each participant's own FC)"
        )
    if cfg.indicator == "affect":
        amy = amygdala_index(mc)
    else:  # the other domain, unless only the targets are asked for
        amy = None if cfg.targets_only else _optional_amygdala(mc)
    rows = np.flatnonzero(cohort["faces_present"] & cohort["stroop_present"])
    if len(rows) < 3:
        raise ValueError(f"{len(rows)} participants have both tasks: an intervention needs 3+")
    fc = cohort["fc"][rows]
    twins = Twins(network, cohort, rows, fc, generated_weights(network, fc), amy)
    run = LoadedRun(run_dir, Path(record["cache"]), Path(cohort.meta["root"]), tc, mc)
    return run, twins


def resolve_direction(cfg: InterveneConfig, train_config) -> InterveneConfig:
    """``cfg`` with ``direction="auto"`` replaced by the run's design's."""
    if cfg.direction != "auto":
        return cfg
    return replace(cfg, direction=DESIGN_DIRECTION[train_config.fc_encoder])


def indicator_direction(
    twins: Twins, cfg: InterveneConfig, progress: bool
) -> tuple[Twins, pd.DataFrame, Direction]:
    """The untreated measures and the weight-space direction of the indicator.

    ``cfg.direction`` must be resolved (:func:`resolve_direction`).

    Twins whose indicator is undefined (a twin that never responds has no RT) are dropped.

    Returns
    -------
    twins : Twins
        Those with a defined indicator.
    pre : pandas.DataFrame
        :func:`twin_measures` of the untreated twins.
    direction : Direction
    """
    pre = twins.measure(progress, "indicators")
    col = INDICATOR_COLUMN[cfg.indicator]
    usable = np.isfinite(pre[col].to_numpy())
    if usable.sum() < 3:
        raise ValueError(
            f"the {cfg.indicator} indicator is defined for {int(usable.sum())} twins: "
            "a direction needs 3+ (twins that never respond have no RT)"
        )
    twins = twins.subset(usable)
    pre = pre[usable].reset_index(drop=True)
    return twins, pre, find_direction(twins.weights.numpy(), pre[col].to_numpy(), cfg.direction)


def _other(indicator: str) -> str:
    return INDICATOR_COLUMN["affect" if indicator == "speed" else "speed"]


def specific_effect(pre: pd.DataFrame, treated: pd.DataFrame, null: list[pd.DataFrame], cfg):
    """Mean change of the indicator and of the other domain, treatment vs null, in SD(pre).

    Returns
    -------
    effect : dict
        Per column (the indicator's and the other domain's): ``treatment`` and ``null`` (mean
        change over twins and null draws, in SD of the untreated values) and ``specific``
        (their difference; negative lowers).
    """
    out = {}
    for c in (INDICATOR_COLUMN[cfg.indicator], _other(cfg.indicator)):
        base = pre[c].to_numpy(dtype=float)
        sd = np.nanstd(base, ddof=1)
        if not (sd > 0 and null):
            out[c] = None
            continue
        treat = _mean_change(treated[c], base, sd)
        nulls = [_mean_change(t[c], base, sd) for t in null]
        out[c] = {
            "treatment": treat,
            "null": float(np.mean(nulls)),
            "null_draws": nulls,
            "specific": treat - float(np.mean(nulls)),
        }
    return out


def _mean_change(post: pd.Series, base: np.ndarray, sd: float) -> float:
    return float(np.nanmean(post.to_numpy(dtype=float) - base)) / sd


@dataclass
class WeightTreatment:
    """The weight-space treatment: dose-response, the treated twins and the null."""

    dose: pd.DataFrame
    treated: pd.DataFrame
    summary: dict


def weight_treatment(
    twins: Twins, pre: pd.DataFrame, direction: Direction, cfg: InterveneConfig, progress: bool
) -> WeightTreatment:
    """Shift every twin along ``+v`` over the dose grid, and along a random direction."""
    col, other = INDICATOR_COLUMN[cfg.indicator], _other(cfg.indicator)
    tables = []
    for alpha in sorted(set(cfg.doses) | {cfg.alpha}):
        t = pre.copy()
        if alpha != 0:
            w = direction.shift(twins.weights, alpha)
            t = twins.measure(progress, f"dose {alpha:g} SD", weights=w)
        t.insert(1, "alpha", alpha)
        tables.append(t)
    dose = pd.concat(tables, ignore_index=True)
    for name, c in (("effect", col), ("cross_effect", other)):
        base = pre[c].to_numpy()
        if np.isfinite(base).sum() > 1:
            dose[name] = np.concatenate([effect_size(base, t[c].to_numpy()) for t in tables])
        else:  # e.g. no amygdala output: the cross-domain effect is undefined
            dose[name] = np.nan
    treated = dose[dose["alpha"] == cfg.alpha].reset_index(drop=True)
    null = []
    if cfg.null_draws > 0:
        rng = np.random.default_rng([cfg.seed, 1])
        random_v = rng.standard_normal(len(direction.v))
        shuffled = replace(direction, v=random_v / np.linalg.norm(random_v))
        w = shuffled.shift(twins.weights, cfg.alpha)
        null.append(twins.measure(progress, "random direction", weights=w))
    summary = {
        "alpha": cfg.alpha,
        col: paired_summary(pre[col].to_numpy(), treated[col].to_numpy()),
        other: paired_summary(pre[other].to_numpy(), treated[other].to_numpy()),
        "effect_mean": float(np.nanmean(treated["effect"])),
        "effect_sd": float(np.nanstd(treated["effect"], ddof=1)),
        "effect_min": float(np.nanmin(treated["effect"])),
        "effect_max": float(np.nanmax(treated["effect"])),
        "cross_effect_mean": _nanmean(treated["cross_effect"]),
        "accuracy_pre": {t: _nanmean(pre[f"acc_{t}"]) for t in TASK_NAMES},
        "accuracy_post": {t: _nanmean(treated[f"acc_{t}"]) for t in TASK_NAMES},
        "random_direction": specific_effect(pre, treated, null, cfg),
    }
    return WeightTreatment(dose, treated, summary)


def connectome_targets(
    twins: Twins, direction: Direction, cfg: InterveneConfig, parcels, progress: bool
) -> pd.DataFrame:
    """SmoothGrad edge scores of the latent, as :func:`dtb.targets.edge_table`."""
    from dtb.smoothgrad import smoothgrad
    from dtb.targets import edge_table

    scores = smoothgrad(
        twins.network,
        twins.fc,
        torch.from_numpy(direction.v / direction.sd),
        copies=cfg.copies,
        noise=cfg.noise,
        chunk=cfg.chunk,
        rng=np.random.default_rng(cfg.seed),
        progress=progress,
    )
    return edge_table(scores, parcels, cfg.threshold)


def random_edge_edits(
    targets: tuple[np.ndarray, np.ndarray],
    fc: np.ndarray,
    amount: float,
    n_draws: int,
    rng: np.random.Generator,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random edge sets edited like the targets: same count and signs, none of the targets.

    Only edges that every twin's FC can take the edit on (``|r| + amount < 1``) are drawn.

    Returns
    -------
    edits : list of (positions, signs)
    """
    from dtb.data.fc import FC_CLIP_EPS

    pos, signs = targets
    room = np.abs(np.tanh(fc)).max(0) + amount < 1 - FC_CLIP_EPS
    room[pos] = False
    pool = np.flatnonzero(room)
    if len(pool) < len(pos):
        raise ValueError(f"only {len(pool)} edges can take an edit of {amount}: no null")
    return [
        (np.sort(rng.choice(pool, len(pos), replace=False)), rng.permutation(signs))
        for _ in range(n_draws)
    ]


def fc_treatment(
    twins: Twins,
    pre: pd.DataFrame,
    edits: dict[str, tuple[np.ndarray, np.ndarray]],
    cfg: InterveneConfig,
    progress: bool,
) -> tuple[pd.DataFrame, dict]:
    """Edit named edge sets in every twin's FC, regenerate and re-simulate the twins.

    Parameters
    ----------
    edits : dict of str to (positions, signs)
        E.g. ``targets``, ``random-1``, ..., ``truth``.

    Returns
    -------
    table : pandas.DataFrame
        Per edit and participant: the measures after the edit and (``pre_*``) before.
    summary : dict
        Per edit: its size and paired summaries of the indicator and the other domain; with
        random draws, ``specific``: targets against them (:func:`specific_effect`).
    """
    from dtb.targets import edit_fc

    col, other = INDICATOR_COLUMN[cfg.indicator], _other(cfg.indicator)
    tables, summary, posts = [], {"amount": cfg.fc_edit}, {}
    for name, (pos, signs) in edits.items():
        edited = np.stack(
            [
                edit_fc(fc, pos, signs, cfg.fc_edit, participant=twins.cohort.participants[r])
                for fc, r in zip(twins.fc, twins.rows, strict=True)
            ]
        )
        post = twins.measure(progress, f"FC {name}", fc=edited)
        posts[name] = post
        for c in MEASURE_COLUMNS:
            post[f"pre_{c}"] = pre[c].to_numpy()
        post.insert(1, "edit", name)
        tables.append(post)
        summary[name] = {
            "n_edges": int(len(pos)),
            col: paired_summary(pre[col].to_numpy(), post[col].to_numpy()),
            other: paired_summary(pre[other].to_numpy(), post[other].to_numpy()),
        }
    nulls = [t for name, t in posts.items() if name.startswith("random-")]
    if "targets" in posts and nulls:
        summary["specific"] = specific_effect(pre, posts["targets"], nulls, cfg)
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()), summary


def truth_recovery(
    twins: Twins,
    edges: pd.DataFrame,
    truth: dict,
    cfg: InterveneConfig,
    parcels: pd.DataFrame,
) -> dict:
    """The twin's map, the ridge peer's map and the span ceiling against the planted edges.

    The ridge peer is fitted from the same participants' FC to the observed measure behind the
    indicator (mean observed RT of both tasks for speed, the observed amygdala face > shape t
    for affect); its coefficients are signed like the twin's scores (positive: strengthening
    the edge lowers the indicator).
    """
    from dtb.ridge import coefficient_scores, participant_targets
    from dtb.targets import edge_positions, edge_table, gradient_span_projection, planted_recovery

    lower = LOWER_TRAIT_SIGN[cfg.indicator]
    planted, signs = truth["edges"], truth["signs"]
    out = {"twin": planted_recovery(edges, planted, signs, lower)}
    observed = participant_targets(twins.cohort, amygdala=cfg.indicator == "affect")
    observed = observed.iloc[twins.rows]
    if cfg.indicator == "speed":
        y = observed[["rt_faces", "rt_stroop"]].mean(axis=1, skipna=False).to_numpy()
    else:
        y = observed["amygdala_t"].to_numpy()
    ridge = edge_table(-coefficient_scores(twins.fc, y), parcels, cfg.threshold)
    out["ridge"] = planted_recovery(ridge, planted, signs, lower)
    pattern = np.zeros(len(edges))
    pattern[edge_positions(planted, len(parcels))] = signs * lower
    span = gradient_span_projection(twins.network, pattern)
    out["ceiling"] = planted_recovery(
        edge_table(span, parcels, cfg.threshold), planted, signs, lower
    )
    out["n_planted"] = out["twin"]["n_planted"]
    return out


def _clinical(twins: Twins, direction: Direction, pheno_dir: Path) -> pd.DataFrame:
    from dtb.clinical import correlate_measures, read_phenotype

    latent = pd.Series(direction.z, index=[twins.cohort.participants[r] for r in twins.rows])
    if pheno_dir.is_dir() and any(
        not p.name.endswith("_definitions.tsv") for p in pheno_dir.glob("*.tsv")
    ):
        return correlate_measures(latent, read_phenotype(pheno_dir))
    return pd.DataFrame(columns=["measure", "n", "r", "p", "q", "significant"])


# ---------------------------------------------------------------------------------------------
# the whole analysis


def _truth(root: Path, indicator: str) -> dict | None:
    """Planted edges of the indicator's trait when the dataset is a synthetic cohort."""
    from dtb.data.synth import read_truth

    if not (root / "truth" / "truth.json").is_file():
        return None
    truth = read_truth(root)
    trait = indicator  # the synthetic traits are named after the indicators they drive
    pairs: dict[tuple[int, int], int] = {}
    for block in truth["planted_edges"]:
        if block["trait"] == trait:
            pairs.update({(int(i), int(j)): int(block["sign"]) for i, j in block["edges"]})
    keys = sorted(pairs)
    return {
        "trait": trait,
        "edges": np.array(keys, dtype=int).reshape(-1, 2),
        "signs": np.array([pairs[k] for k in keys], dtype=int),
        "traits": {p["participant_id"]: p[trait] for p in truth["participants"]},
    }


def _fc_edits(twins, edges, truth, cfg, n_regions) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The FC edits to try: the targets, random edges like them, and the planted truth."""
    from dtb.targets import edge_positions

    targets = edges[edges["target"] != ""]
    edits = {}
    if len(targets):
        edits["targets"] = (
            targets["edge"].to_numpy(),
            np.where(targets["target"] == "strengthen", 1.0, -1.0),
        )
        rng = np.random.default_rng([cfg.seed, 2])
        draws = random_edge_edits(edits["targets"], twins.fc, cfg.fc_edit, cfg.null_draws, rng)
        edits.update({f"random-{k + 1}": d for k, d in enumerate(draws)})
    if truth is not None:
        pos = edge_positions(truth["edges"], n_regions)
        edits["truth"] = (pos, truth["signs"] * LOWER_TRAIT_SIGN[cfg.indicator])
    return edits


def _parcels(cohort: PreparedCohort, labels: Path | str | None) -> pd.DataFrame:
    """The region table of the cohort's atlas; TCP region names from ``labels`` when given."""
    from dtb.data.atlas import tcp_atlas

    atlas = cohort.atlas
    if labels is None:
        return atlas.parcel_table()
    if atlas.name != "tcp434":
        raise ValueError(
            f"--labels names the TCP atlas's regions, but {cohort.path} was prepared in atlas "
            f"{atlas.name}: its labels come from dtb prepare"
        )
    return tcp_atlas(labels).parcel_table()


def _labels_source(cohort) -> str:
    atlas = cohort.atlas
    return "approximate network map" if atlas.name == "tcp434" else f"atlas {atlas.name}"


def intervene(
    run_dir: Path | str,
    out: Path | str,
    cfg: InterveneConfig = InterveneConfig(),
    *,
    labels: Path | str | None = None,
    phenotype: Path | str | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> dict:
    """Run the virtual intervention of one indicator on a trained run; write the results.

    Parameters
    ----------
    run_dir : path-like
        A ``dtb train`` run (hypernetwork model).
    out : path-like
        Output folder (not inside the run or the data): ``intervention.json``,
        ``participants.tsv``, ``edges.tsv``, ``top_edges.tsv``, ``networks.tsv`` and
        ``direction.npz``; unless ``cfg.targets_only``, also ``dose_response.tsv``,
        ``fc_treatment.tsv`` and ``clinical.tsv``.
    cfg : InterveneConfig
    labels : path-like, optional
        Region label file (:func:`dtb.data.parcellation.parcel_table`).
    phenotype : path-like, optional
        Phenotype folder (default: the dataset's ``phenotype/`` when present).

    Returns
    -------
    summary : dict
        The content of ``intervention.json``.
    """
    from dtb.evaluate import run_record
    from dtb.targets import network_summary, top_edges

    cfg.validate()
    run_dir = Path(run_dir)
    run, twins = load_twins(run_dir, cfg, device)
    cfg = resolve_direction(cfg, run.train_config)
    out = ensure_outside(out, run_dir, run.root, run.cache.parent)
    parcels = _parcels(twins.cohort, labels)
    twins, pre, direction = indicator_direction(twins, cfg, progress)
    col = INDICATOR_COLUMN[cfg.indicator]
    edges = connectome_targets(twins, direction, cfg, parcels, progress)
    truth = _truth(run.root, cfg.indicator)
    summary = {
        "schema_version": "1.1",
        "code_version": code_version(),
        "config": config_dict(cfg),
        "run": run_record(run_dir),
        "indicator": cfg.indicator,
        "indicator_column": col,
        "n_participants": int(len(twins.rows)),
        "n_weights": int(twins.weights.shape[1]),
        "direction": {
            "method": direction.method,
            "ridge_penalty": direction.penalty,
            "r_latent_indicator": direction.r,
            "sd_latent": direction.sd_z,
        },
        "targets": {
            "n_edges": int(len(edges)),
            "n_strengthen": int((edges["target"] == "strengthen").sum()),
            "n_weaken": int((edges["target"] == "weaken").sum()),
            "threshold_sd": cfg.threshold,
            "labels": str(labels) if labels is not None else _labels_source(twins.cohort),
            "has_coordinates": bool({"x", "y", "z"} <= set(parcels.columns)),
        },
        "recovery": None if truth is None else truth_recovery(twins, edges, truth, cfg, parcels),
    }
    participants = pd.DataFrame(
        {"participant": pre["participant"], "latent": direction.z, "indicator_pre": pre[col]}
    )
    tables = {}
    if not cfg.targets_only:
        pheno_dir = Path(phenotype) if phenotype is not None else run.root / "phenotype"
        treated = _treatments(
            twins, pre, direction, edges, truth, cfg, len(parcels), pheno_dir, progress
        )
        summary.update(treated.summary)
        tables.update(treated.tables)
        for name in ("indicator_post", "effect", "cross_effect"):
            participants[name] = treated.participants[name]
    if truth is not None:
        participants["trait"] = participants["participant"].map(truth["traits"])
        tr = participants["trait"].to_numpy(dtype=float)
        ok = np.isfinite(tr)
        summary["truth"] = {
            "trait": truth["trait"],
            "r_latent_trait": float(stats.pearsonr(direction.z[ok], tr[ok])[0]),
            "r_indicator_trait": float(stats.pearsonr(pre[col].to_numpy()[ok], tr[ok])[0]),
        }
    tables.update(
        {
            "participants.tsv": participants,
            "edges.tsv": edges,
            "top_edges.tsv": top_edges(edges, cfg.n_top),
            "networks.tsv": network_summary(edges),
        }
    )
    if "x" in parcels.columns:
        tables["regions.tsv"] = parcels.reset_index(names="index")
    return _write_outputs(out, tables, direction, summary)


@dataclass
class Treatments:
    """What the treatments add to an intervention: summary blocks, tables, per-twin columns."""

    summary: dict
    tables: dict
    participants: pd.DataFrame


def _treatments(
    twins, pre, direction, edges, truth, cfg, n_regions: int, pheno_dir: Path, progress
) -> Treatments:
    """The weight-space and FC-space treatments with their nulls, and the clinical check."""
    col = INDICATOR_COLUMN[cfg.indicator]
    weight = weight_treatment(twins, pre, direction, cfg, progress)
    edits = _fc_edits(twins, edges, truth, cfg, n_regions)
    fc_table, fc_summary = fc_treatment(twins, pre, edits, cfg, progress)
    clinical = _clinical(twins, direction, pheno_dir)
    summary = {
        "dose_response": json.loads(
            weight.dose.groupby("alpha")[[*MEASURE_COLUMNS, "effect", "cross_effect"]]
            .mean()
            .reset_index()
            .to_json(orient="records")
        ),
        "treatment": weight.summary,
        "fc_treatment": fc_summary,
        "clinical": {
            "phenotype": str(pheno_dir) if len(clinical) else None,
            "n_measures": int(len(clinical)),
            "n_significant_fdr": int(clinical["significant"].sum()) if len(clinical) else 0,
            "top": json.loads(clinical.head(5).to_json(orient="records")),
        },
    }
    tables = {
        "fc_treatment.tsv": fc_table,
        "dose_response.tsv": weight.dose,
        "clinical.tsv": clinical,
    }
    per_twin = pd.DataFrame(
        {
            "indicator_post": weight.treated[col],
            "effect": weight.treated["effect"],
            "cross_effect": weight.treated["cross_effect"],
        }
    )
    return Treatments(summary, tables, per_twin)


def _write_outputs(out: Path, tables: dict, direction: Direction, summary: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        write_text(out / name, df.to_csv(sep="\t", index=False, float_format="%.10g"))
    with atomic_path(out / "direction.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, v=direction.v, mean=direction.mean, sd=direction.sd, latent=direction.z)
    summary = json.loads(json.dumps(summary, default=json_default, allow_nan=True))
    write_json(out / "intervention.json", nan_to_none(summary))
    return summary


def _nanmean(x) -> float | None:
    x = np.asarray(x, dtype=float)
    return float(np.nanmean(x)) if np.isfinite(x).any() else None


def _optional_amygdala(model_cfg) -> int | None:
    try:
        return amygdala_index(model_cfg)
    except ValueError:
        return None
