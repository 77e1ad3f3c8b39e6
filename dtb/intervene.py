"""``dtb intervene``: virtual interventions on the twins (paper, section "virtual intervention").

1. Indicators from the twins' own outputs on the whole runs: processing speed = the twin's mean
   RT (mean of the Faces and Stroop means, s); affect = the t of the twin's right-amygdala
   (``AMY_R``) BOLD for face > shape (first-level GLM of :mod:`dtb.glm`).
2. Direction: the generated main-network weights ``W`` (participants x P) and the indicator
   ``s`` are standardised; ``v = -W^T s / |W^T s|``, the first PLS weight vector (checked against
   scikit-learn's ``PLSRegression``) with its sign chosen so that ``+v`` lowers the indicator;
   latent ``z = W v``.
3. Weight-space treatment (the paper): ``W' = W + alpha SD(z) v`` in standardised units, mapped
   back to raw weights; each twin re-simulated at every dose. Effect size per participant =
   ``(pre - post) / SD(pre)``; accuracy and the other indicator are kept beside it.
4. Connectome targets: SmoothGrad of ``z`` with respect to the FC (:mod:`dtb.targets`).
5. FC-space treatment: the target edges of each participant's FC strengthened or weakened by
   ``fc_edit`` (correlation units), the twin regenerated from the edited FC and re-simulated. On
   the synthetic cohort the planted edge set is edited the same way, in the direction the truth
   says lowers the indicator, and the edge scores are scored against it.
6. Clinical check: the latent against phenotype measures, BH-FDR (:mod:`dtb.clinical`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm.auto import tqdm

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
from dtb.layout import TR
from dtb.provenance import code_version, config_dict
from dtb.responses import model_responses
from dtb.train import TASK_NAMES, load_checkpoint, network_from_checkpoint
from dtb.twin import DigitalTwin

INDICATORS = ("speed", "affect")
#: Table column of each indicator.
INDICATOR_COLUMN = {"speed": "speed", "affect": "amygdala_t"}
#: Sign of the synthetic trait that lowers each indicator (faster RT: higher ``speed``; smaller
#: amygdala response: lower ``affect``).
LOWER_TRAIT_SIGN = {"speed": 1, "affect": -1}
AMYGDALA = "AMY_R"
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
    checkpoint : str
        ``best.pt`` or ``checkpoint.pt`` of the run.
    seed : int
        Seed of the SmoothGrad noise.
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
    checkpoint: str = "best.pt"
    seed: int = 0

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
        if not 0 < self.fc_edit < 1:
            raise ValueError(f"fc_edit must be in (0, 1) correlation units, got {self.fc_edit}")


# ---------------------------------------------------------------------------------------------
# weights and indicators


@torch.no_grad()
def generated_weights(network, fc: np.ndarray, chunk: int = 32) -> torch.Tensor:
    """Flat generated main-network weights of each FC row.

    Parameters
    ----------
    network : dtb.train.Network
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


@functools.lru_cache(maxsize=1024)
def _faces_design(trials: bytes, shape: tuple[int, int], n_volumes: int):
    """Design and face > shape contrast of a whole Faces run, built once per trial table.

    Every dose and edit re-simulates the same runs, and nilearn's design matrix costs tens of
    milliseconds: cached by the trial table's bytes.
    """
    from dtb.glm import contrast_vector, design_matrix

    table = np.frombuffer(trials, dtype=np.float64).reshape(shape)
    design = design_matrix(table, np.arange(n_volumes) * TR, "faces")
    return design.to_numpy(), contrast_vector(design, "faces")


def _twin_row(twin: DigitalTwin, cohort: PreparedCohort, i: int, amy: int | None) -> dict:
    from dtb.glm import first_level_t

    row: dict = {}
    for task in TASK_NAMES:
        if not cohort[f"{task}_present"][i]:
            row[f"rt_{task}"] = row[f"acc_{task}"] = np.nan
            if task == "faces":
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
        if task == "faces":
            row["amygdala_t"] = np.nan
            if amy is not None:
                bold = sim.bold_at_tr()[:, [amy]]
                t64 = np.ascontiguousarray(trials, dtype=np.float64)
                design, contrast = _faces_design(t64.tobytes(), t64.shape, len(bold))
                row["amygdala_t"] = float(first_level_t(bold, design, contrast)[0])
    row["speed"] = (row["rt_faces"] + row["rt_stroop"]) / 2
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
    network : dtb.train.Network
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


@dataclass
class Direction:
    """A PLS direction in the standardised weight space.

    Attributes
    ----------
    v : ndarray, shape (P,)
        Unit vector; ``+v`` lowers the indicator.
    mean, sd : ndarray, shape (P,)
        Standardisation of the weights (``sd`` 1 where a weight does not vary).
    z : ndarray, shape (S,)
        Latent of each participant.
    r : float
        Pearson r of ``z`` with the indicator (negative by construction of the sign).
    """

    v: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    z: np.ndarray
    r: float

    @property
    def sd_z(self) -> float:
        """SD of the latent over participants (the dose unit)."""
        return float(np.std(self.z, ddof=1))

    def latent(self, weights: np.ndarray | torch.Tensor) -> np.ndarray:
        """``z`` of raw weights (shape (S, P) -> (S,))."""
        w = np.asarray(weights, dtype=np.float64)
        return ((w - self.mean) / self.sd) @ self.v

    def shift(self, weights: torch.Tensor, alpha: float) -> torch.Tensor:
        """``W + alpha SD(z) v``, in raw weight units (shape (S, P))."""
        step = torch.from_numpy(alpha * self.sd_z * self.v * self.sd).to(weights.dtype)
        return weights + step.to(weights.device)


def pls_direction(weights: np.ndarray | torch.Tensor, indicator: np.ndarray) -> Direction:
    """First PLS weight vector of standardised weights against a standardised indicator.

    Parameters
    ----------
    weights : array, shape (S, P)
        Generated main-network weights of ``S`` participants.
    indicator : ndarray, shape (S,)

    Returns
    -------
    direction : Direction
        ``v = -X^T y / |X^T y|`` with ``X``, ``y`` standardised (ddof 1, as scikit-learn's
        ``PLSRegression(scale=True)``), so ``+v`` lowers the indicator.

    Raises
    ------
    ValueError
        On mismatched shapes, NaN, fewer than 3 participants or an indicator without variance.
    """
    x = np.asarray(weights, dtype=np.float64)
    y = np.asarray(indicator, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"weights (S, P) and indicator (S,) expected, got {x.shape} and {y.shape}")
    if len(y) < 3:
        raise ValueError(f"a direction needs at least 3 participants, got {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("weights or indicator hold NaN/Inf")
    if np.ptp(y) == 0:
        raise ValueError(
            f"the indicator has zero variance across {len(y)} participants: no direction"
        )
    mean, sd = x.mean(0), x.std(0, ddof=1)
    sd[sd == 0] = 1.0
    xs = (x - mean) / sd
    ys = (y - y.mean()) / y.std(ddof=1)
    w = xs.T @ ys
    norm = np.linalg.norm(w)
    if norm == 0:
        raise ValueError("the weights do not covary with the indicator: no direction")
    v = -w / norm
    z = xs @ v
    return Direction(v=v, mean=mean, sd=sd, z=z, r=float(stats.pearsonr(z, y)[0]))


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
        ``participants.tsv``, ``dose_response.tsv``, ``fc_treatment.tsv``, ``edges.tsv``,
        ``top_edges.tsv``, ``networks.tsv``, ``clinical.tsv`` and ``direction.npz``.
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
    from dtb.clinical import correlate_measures, read_phenotype
    from dtb.data.parcellation import parcel_table
    from dtb.evaluate import run_record
    from dtb.targets import (
        edge_positions,
        edge_table,
        edit_fc,
        gradient_span_projection,
        network_summary,
        planted_recovery,
        smoothgrad,
        top_edges,
    )
    from dtb.train import resolve_device

    cfg.validate()
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise ValueError(f"{run_dir}: not a training run (no run.json)")
    record = json.loads((run_dir / "run.json").read_text())
    cohort = load_prepared(record["cache"])
    root = Path(cohort.meta["root"])
    out = ensure_outside(out, run_dir, root, Path(record["cache"]).parent)
    out.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    blob = load_checkpoint(run_dir / cfg.checkpoint, map_location=dev)
    if blob["data_key"] != cohort.key:
        raise ValueError(f"{run_dir}: trained on another cohort than {record['cache']}")
    network, tc, mc = network_from_checkpoint(blob, dev)
    if tc.control != "none":
        raise ValueError(
            f"{run_dir}: a {tc.control!r} control run; interventions need a run with control "
            "'none' (its twins are generated from each participant's own FC)"
        )
    amy = amygdala_index(mc) if cfg.indicator == "affect" else _optional_amygdala(mc)
    parcels = parcel_table(labels)
    both = cohort["faces_present"] & cohort["stroop_present"]
    rows = np.flatnonzero(both)
    if len(rows) < 3:
        raise ValueError(f"{len(rows)} participants have both tasks: an intervention needs 3+")
    fc = cohort["fc"][rows]
    weights = generated_weights(network, fc)

    # 1-2. indicators and direction
    pre = twin_measures(
        network, cohort, rows, weights=weights, amygdala=amy, progress=progress, desc="indicators"
    )
    col = INDICATOR_COLUMN[cfg.indicator]
    usable = np.isfinite(pre[col].to_numpy())
    if usable.sum() < 3:
        raise ValueError(
            f"the {cfg.indicator} indicator is defined for {int(usable.sum())} twins: "
            "a direction needs 3+ (twins that never respond have no RT)"
        )
    rows, fc, weights, pre = rows[usable], fc[usable], weights[usable], pre[usable]
    pre = pre.reset_index(drop=True)
    direction = pls_direction(weights.numpy(), pre[col].to_numpy())

    # 3. weight-space treatment over the dose grid
    doses = sorted(set(cfg.doses) | {cfg.alpha})
    tables = []
    for alpha in doses:
        if alpha == 0:
            t = pre.copy()
        else:
            t = twin_measures(
                network,
                cohort,
                rows,
                weights=direction.shift(weights, alpha),
                amygdala=amy,
                progress=progress,
                desc=f"dose {alpha:g} SD",
            )
        t.insert(1, "alpha", alpha)
        tables.append(t)
    dose = pd.concat(tables, ignore_index=True)
    other = INDICATOR_COLUMN["affect" if cfg.indicator == "speed" else "speed"]
    for name, c in (("effect", col), ("cross_effect", other)):
        base = pre[c].to_numpy()
        if np.isfinite(base).sum() > 1:
            dose[name] = np.concatenate([effect_size(base, t[c].to_numpy()) for t in tables])
        else:  # e.g. no amygdala output: the cross-domain effect is undefined
            dose[name] = np.nan
    dose_summary = (
        dose.groupby("alpha")[[*MEASURE_COLUMNS, "effect", "cross_effect"]].mean().reset_index()
    )
    treated = dose[dose["alpha"] == cfg.alpha].reset_index(drop=True)

    # 4. connectome targets
    u = torch.from_numpy(direction.v / direction.sd)
    scores = smoothgrad(
        network,
        fc,
        u,
        copies=cfg.copies,
        noise=cfg.noise,
        chunk=cfg.chunk,
        rng=np.random.default_rng(cfg.seed),
        progress=progress,
    )
    edges = edge_table(scores, parcels, cfg.threshold)
    targets = edges[edges["target"] != ""]
    nets = network_summary(edges)

    # 5. FC-space treatment: the targets, and on synthetic data the planted truth
    fc_rows = []
    edits = {}
    if len(targets):
        edits["targets"] = (
            targets["edge"].to_numpy(),
            np.where(targets["target"] == "strengthen", 1.0, -1.0),
        )
    truth = _truth(root, cfg.indicator)
    recovery = None
    if truth is not None:
        lower = LOWER_TRAIT_SIGN[cfg.indicator]
        pos = edge_positions(truth["edges"], len(parcels))
        edits["truth"] = (pos, truth["signs"] * lower)
        recovery = planted_recovery(edges, truth["edges"], truth["signs"], lower)
        # the ceiling: the true pattern seen through the hypernetwork's first layer
        pattern = np.zeros(len(edges))
        pattern[pos] = truth["signs"] * lower
        ceiling = edge_table(gradient_span_projection(network, pattern), parcels, cfg.threshold)
        recovery["ceiling"] = planted_recovery(ceiling, truth["edges"], truth["signs"], lower)
    fc_summary = {}
    for name, (pos, signs) in edits.items():
        edited = np.stack(
            [
                edit_fc(fc[k], pos, signs, cfg.fc_edit, participant=cohort.participants[r])
                for k, r in enumerate(rows)
            ]
        )
        post = twin_measures(
            network, cohort, rows, fc=edited, amygdala=amy, progress=progress, desc=f"FC {name}"
        )
        for c in MEASURE_COLUMNS:
            post[f"pre_{c}"] = pre[c].to_numpy()
        post.insert(1, "edit", name)
        fc_rows.append(post)
        fc_summary[name] = {
            "n_edges": int(len(pos)),
            col: paired_summary(pre[col].to_numpy(), post[col].to_numpy()),
            other: paired_summary(pre[other].to_numpy(), post[other].to_numpy()),
        }
    fc_table = pd.concat(fc_rows, ignore_index=True) if fc_rows else pd.DataFrame()

    # 6. clinical check
    pheno_dir = Path(phenotype) if phenotype is not None else root / "phenotype"
    latent = pd.Series(direction.z, index=[cohort.participants[r] for r in rows])
    clinical = pd.DataFrame(columns=["measure", "n", "r", "p", "q", "significant"])
    if pheno_dir.is_dir() and any(
        not p.name.endswith("_definitions.tsv") for p in pheno_dir.glob("*.tsv")
    ):
        clinical = correlate_measures(latent, read_phenotype(pheno_dir))

    participants = pd.DataFrame(
        {
            "participant": pre["participant"],
            "latent": direction.z,
            "indicator_pre": pre[col],
            "indicator_post": treated[col],
            "effect": treated["effect"],
            "cross_effect": treated["cross_effect"],
        }
    )
    if truth is not None:
        participants["trait"] = participants["participant"].map(truth["traits"])

    summary = {
        "schema_version": "1.0",
        "code_version": code_version(),
        "config": config_dict(cfg),
        "run": run_record(run_dir),
        "indicator": cfg.indicator,
        "indicator_column": col,
        "n_participants": int(len(rows)),
        "n_weights": int(weights.shape[1]),
        "direction": {
            "r_latent_indicator": direction.r,
            "sd_latent": direction.sd_z,
        },
        "dose_response": json.loads(dose_summary.to_json(orient="records")),
        "treatment": {
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
        },
        "targets": {
            "n_edges": int(len(edges)),
            "n_strengthen": int((edges["target"] == "strengthen").sum()),
            "n_weaken": int((edges["target"] == "weaken").sum()),
            "threshold_sd": cfg.threshold,
            "labels": str(labels) if labels is not None else "approximate network map",
            "has_coordinates": bool({"x", "y", "z"} <= set(parcels.columns)),
        },
        "fc_treatment": {"amount": cfg.fc_edit, **fc_summary},
        "recovery": recovery,
        "clinical": {
            "phenotype": str(pheno_dir) if len(clinical) else None,
            "n_measures": int(len(clinical)),
            "n_significant_fdr": int(clinical["significant"].sum()) if len(clinical) else 0,
            "top": json.loads(clinical.head(5).to_json(orient="records")),
        },
    }
    if truth is not None:
        tr = participants["trait"].to_numpy(dtype=float)
        ok = np.isfinite(tr)
        summary["truth"] = {
            "trait": truth["trait"],
            "r_latent_trait": float(stats.pearsonr(direction.z[ok], tr[ok])[0]),
            "r_indicator_trait": float(stats.pearsonr(pre[col].to_numpy()[ok], tr[ok])[0]),
        }

    def tsv(name: str, df: pd.DataFrame) -> None:
        write_text(out / name, df.to_csv(sep="\t", index=False, float_format="%.10g"))

    tsv("participants.tsv", participants)
    tsv("dose_response.tsv", dose)
    tsv("fc_treatment.tsv", fc_table)
    tsv("edges.tsv", edges)
    tsv("top_edges.tsv", top_edges(edges, cfg.n_top))
    tsv("networks.tsv", nets)
    tsv("clinical.tsv", clinical)
    if "x" in parcels.columns:
        tsv("regions.tsv", parcels.reset_index(names="index"))
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
