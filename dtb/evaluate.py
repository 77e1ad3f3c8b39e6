"""``dtb evaluate``: what the trained twins predict on the held-out test part.

Behaviour, per participant and task: the twin's choices and reaction times on the test part
(second 196.8 s of each run), its choice concordance with the participant, and observed vs
predicted mean RT across participants (Pearson r with a 95% CI), with participants at or below
chance accuracy excluded as in the paper. Zero-shot runs predict only their held-out fold, so
the k fold runs together predict everyone from FC alone.

BOLD, on the test part at TR 0.8 s (volumes 246..491): the GLM of :mod:`dtb.glm` fitted to the
observed and to the predicted signals of each participant, task and region; the group t maps
and their correlation over the 20 regions x 2 tasks; individual maps and identifiability; and
the correlation of mean BOLD per participant x region x task.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dtb.baselines import pearson_with_ci
from dtb.data.prepare import PreparedCohort, load_prepared
from dtb.fileio import json_default, nan_to_none, write_json, write_text
from dtb.layout import STEP
from dtb.network import load_checkpoint, open_run
from dtb.progress import tqdm
from dtb.protocols import fc_source, held_out_participants
from dtb.provenance import code_version
from dtb.responses import concordance, model_responses, observed_rt, trials_in_part
from dtb.tasks import TASK_NAMES, get_task
from dtb.twin import DigitalTwin

#: Version of the layout of ``metrics.json``; a saved evaluation of another version is redone.
METRICS_SCHEMA = "1.1"


def evaluated_rows(train_cfg, n: int) -> np.ndarray:
    """Participants a run predicts: everyone (paper) or its held-out fold (zero-shot)."""
    if train_cfg.protocol == "zero-shot":
        return held_out_participants(
            n, fold=train_cfg.fold, n_folds=train_cfg.n_folds, seed=train_cfg.seed
        )
    return np.arange(n)


def predict_behaviour(
    run_dir: Path | str,
    cohort: PreparedCohort | None = None,
    *,
    checkpoint: str = "best.pt",
    device: str = "cpu",
    progress: bool = True,
    bold_out: dict | None = None,
) -> pd.DataFrame:
    """Simulate each evaluated participant's twin on both tasks and score the test part.

    Parameters
    ----------
    run_dir : path-like
        A ``dtb train`` run folder.
    cohort : PreparedCohort, optional
        The cohort the run was trained on (loaded from the run's record when omitted); a cohort
        with another hash is refused.
    checkpoint : str
        ``best.pt`` (lowest validation loss) or ``checkpoint.pt`` (latest).
    bold_out : dict, optional
        Filled with ``(participant, task) -> (predicted, observed, trials)``: test-part BOLD at
        TR 0.8 s, each (n_volumes, 20), and the test part's trial table.

    Returns
    -------
    table : pandas.DataFrame
        One row per participant and task: ``participant, task, protocol, control, fold,
        pred_rt, obs_rt, concordance, accuracy, n_trials, n_model_responses``.
    """
    run_dir = Path(run_dir)
    blob = load_checkpoint(run_dir / checkpoint, map_location=device)
    if cohort is None:
        cohort = load_prepared(json.loads((run_dir / "run.json").read_text())["cache"])
    network, tc, _ = open_run(blob, cohort, run_dir / checkpoint, device)
    n = len(cohort.participants)
    src = fc_source(tc.control, n, tc.shuffle_shift)
    cfg = cohort.meta["config"]
    test0, test1 = cfg["n_train"], cfg["n_train"] + cfg["n_test"]
    volumes = cohort.volume_steps("test")
    rows = []
    for i in tqdm(evaluated_rows(tc, n), desc=f"evaluate {run_dir.name}", disable=not progress):
        twin = DigitalTwin.from_fc(torch.from_numpy(cohort["fc"][src[i]]), network)
        for task in TASK_NAMES:
            if not cohort[f"{task}_present"][i]:
                continue
            sim = twin.simulate(cohort[f"{task}_inputs"][i])
            trials = trials_in_part(cohort[f"{task}_trials"][i], test0, test1)
            if bold_out is not None:
                obs = cohort[f"{task}_bold"][i][volumes]
                pred = sim.bold_at(volumes)
                bold_out[(cohort.participants[i], task)] = (pred, obs, trials)
            choice, rt = model_responses(sim.action_prob, trials)
            obs = observed_rt(trials)
            rows.append(
                {
                    "participant": cohort.participants[i],
                    "task": task,
                    "protocol": tc.protocol,
                    "control": tc.control,
                    "shift": tc.shuffle_shift if tc.control == "shuffle" else 0,
                    "fold": tc.fold if tc.protocol == "zero-shot" else -1,
                    "pred_rt": float(np.nanmean(rt)) if np.isfinite(rt).any() else np.nan,
                    "obs_rt": float(np.nanmean(obs)) if np.isfinite(obs).any() else np.nan,
                    "concordance": concordance(choice, trials),
                    "accuracy": float(cohort[f"{task}_accuracy"][i]),
                    "n_trials": int(len(trials)),
                    "n_model_responses": int(np.isfinite(rt).sum()),
                }
            )
    return pd.DataFrame(rows)


def summarise_behaviour(table: pd.DataFrame) -> dict:
    """Per task: observed vs predicted mean RT (r, 95% CI) and concordance (mean, SD).

    Participants at or below chance accuracy are excluded; participants for whom the twin never
    crossed threshold have no predicted RT and are counted in ``n_no_model_rt``.
    """
    out = {}
    for task, t in table.groupby("task"):
        above = t[t["accuracy"] > get_task(task).chance]
        ok = above[np.isfinite(above["pred_rt"]) & np.isfinite(above["obs_rt"])]
        out[task] = {
            "n_participants": int(len(t)),
            "n_excluded_chance": int(len(t) - len(above)),
            "n_no_model_rt": int(len(above) - len(ok)),
            "rt": pearson_with_ci(ok["obs_rt"].to_numpy(), ok["pred_rt"].to_numpy()),
            "rt_mae_s": float(np.abs(ok["obs_rt"] - ok["pred_rt"]).mean()) if len(ok) else None,
            "concordance_mean": float(above["concordance"].mean()) if len(above) else None,
            "concordance_sd": float(above["concordance"].std()) if len(above) > 1 else None,
        }
    return out


def bold_metrics(bold: dict, frame_times: np.ndarray) -> tuple[dict, pd.DataFrame]:
    """GLM maps, group t correlation, identifiability and mean-BOLD correlation.

    Parameters
    ----------
    bold : dict
        ``(participant, task) -> (predicted, observed, trials)`` from :func:`predict_behaviour`.
    frame_times : ndarray, shape (n_volumes,)
        Acquisition times of the test part's volumes, in seconds from the run's start
        (``246 * 0.8 ...`` in TCP).

    Returns
    -------
    metrics : dict
        Per task: ``group_t_pred``/``group_t_obs`` (20,), individual map correlations and
        identifiability (:func:`dtb.glm.map_similarity`); across tasks: ``group_t_r`` over the
        40 points and ``mean_bold_r`` over participant x region x task.
    maps : pandas.DataFrame
        One row per participant, task and region: observed and predicted t, mean BOLD.
    """
    from dtb.data.regions import target_names
    from dtb.glm import group_t, map_similarity, participant_maps

    names = target_names()
    out: dict = {"tasks": {}}
    rows = []
    all_pred_t, all_obs_t = [], []
    for task in TASK_NAMES:
        keys = sorted(k for k in bold if k[1] == task)
        if len(keys) < 3:
            continue
        n_vol = bold[keys[0]][0].shape[0]
        frames = np.asarray(frame_times)[:n_vol]
        pred = [bold[k][0] for k in keys]
        obs = [bold[k][1] for k in keys]
        trials = [bold[k][2] for k in keys]
        pred_maps = participant_maps(pred, trials, frames, task)
        obs_maps = participant_maps(obs, trials, frames, task)
        tp, _ = group_t(pred_maps)
        to, _ = group_t(obs_maps)
        all_pred_t.append(tp)
        all_obs_t.append(to)
        sim = map_similarity(pred_maps, obs_maps)
        out["tasks"][task] = {
            "n_participants": len(keys),
            "group_t_pred": tp,
            "group_t_obs": to,
            "group_t_r_task": pearson_with_ci(to, tp),
            "individual_map_r_mean": float(np.nanmean(sim["individual_r"])),
            "identification_accuracy": sim["identification_accuracy"],
            "identification_chance": sim["chance"],
            "differential_identifiability": sim["differential_identifiability"],
        }
        for j, (p, _) in enumerate(keys):
            for r, name in enumerate(names):
                rows.append(
                    {
                        "participant": p,
                        "task": task,
                        "region": name,
                        "t_obs": obs_maps[j, r],
                        "t_pred": pred_maps[j, r],
                        "mean_obs": float(obs[j][:, r].mean()),
                        "mean_pred": float(pred[j][:, r].mean()),
                    }
                )
    maps = pd.DataFrame(rows)
    if all_pred_t:
        out["group_t_r"] = pearson_with_ci(np.concatenate(all_obs_t), np.concatenate(all_pred_t))
        out["mean_bold_r"] = pearson_with_ci(
            maps["mean_obs"].to_numpy(), maps["mean_pred"].to_numpy()
        )
    return out, maps


def run_record(run: Path | str) -> dict:
    """The record of a training run written into results: path, configs, cohort hash."""
    rec = json.loads((Path(run) / "run.json").read_text())
    return {
        "path": str(Path(run).resolve()),
        "train_config": rec["train_config"],
        "model_config": rec["model_config"],
        "data_key": rec["data_key"],
    }


def validate_metrics(metrics: dict) -> None:
    """Check a metrics dictionary against ``dtb/resources/metrics.schema.json``.

    Raises
    ------
    ValueError
        Naming the first violation and where it is.
    """
    from importlib import resources

    import jsonschema

    schema = json.loads(
        resources.files("dtb.resources").joinpath("metrics.schema.json").read_text()
    )
    try:
        jsonschema.validate(nan_to_none(metrics), schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ValueError(
            f"metrics do not follow metrics.schema.json at {where}: {exc.message}"
        ) from exc


def save_bold_timecourses(path: Path, bold: dict, frame_times: np.ndarray) -> None:
    """Write observed and predicted test-part BOLD for overlay figures.

    The file holds ``participants`` and ``tasks`` (one entry per pair), ``pred`` and ``obs``,
    each (n_pairs, n_volumes, 20), and ``frame_times`` (n_volumes,) in seconds from run start.
    """
    from dtb.fileio import atomic_path

    keys = sorted(bold)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            participants=np.array([k[0] for k in keys]),
            tasks=np.array([k[1] for k in keys]),
            pred=np.stack([bold[k][0] for k in keys]).astype(np.float32),
            obs=np.stack([bold[k][1] for k in keys]).astype(np.float32),
            frame_times=np.asarray(frame_times, dtype=float),
        )


def ridge_beside(cache: Path | str, *, n_folds: int, seed: int) -> dict:
    """The ridge peer (:mod:`dtb.ridge`) on the zero-shot folds of ``n_folds`` and ``seed``."""
    from dtb.ridge import RidgeConfig, ridge_peer

    peer = ridge_peer(load_prepared(cache), RidgeConfig(n_folds=n_folds, seed=seed))
    return {"method": "ridge", "config": peer["config"], "targets": peer["targets"]}


def evaluate(
    run_dirs: list[Path | str],
    out: Path | str,
    *,
    device: str = "cpu",
    progress: bool = True,
    bold: bool = True,
    peer: dict | None = None,
) -> dict:
    """Evaluate one run, or the k fold runs of a zero-shot protocol together; write results.

    Writes ``out/behaviour.tsv`` (per participant and task), ``out/maps.tsv`` (GLM t and mean
    BOLD per participant, task and region, when ``bold``), ``out/bold_test.npz`` (observed and
    predicted test-part BOLD, :func:`save_bold_timecourses`) and ``out/metrics.json``.
    """
    out = Path(out)
    collected: dict = {}
    tables = [
        predict_behaviour(r, device=device, progress=progress, bold_out=collected if bold else None)
        for r in run_dirs
    ]
    table = pd.concat(tables, ignore_index=True)
    dup = table.duplicated(["participant", "task"])
    if dup.any():
        raise ValueError(
            f"participant {table.loc[dup, 'participant'].iloc[0]} is predicted by more than one "
            "run: evaluate the folds of one zero-shot protocol, or one run"
        )
    records = [run_record(r) for r in run_dirs]
    metrics = {
        "schema_version": METRICS_SCHEMA,
        "code_version": code_version(),
        "runs": records,
        "behaviour": summarise_behaviour(table),
    }
    first = records[0]["train_config"]
    if all(r["train_config"]["protocol"] == "zero-shot" for r in records):
        metrics["peer"] = peer or ridge_beside(
            json.loads((Path(run_dirs[0]) / "run.json").read_text())["cache"],
            n_folds=first["n_folds"],
            seed=first["seed"],
        )
    if bold and collected:
        cache = load_prepared(json.loads((Path(run_dirs[0]) / "run.json").read_text())["cache"])
        frames = cache.volume_steps("test") * STEP
        metrics["bold"], maps = bold_metrics(collected, frames)
        write_text(out / "maps.tsv", maps.to_csv(sep="\t", index=False))
        save_bold_timecourses(out / "bold_test.npz", collected, frames)
    write_text(out / "behaviour.tsv", table.to_csv(sep="\t", index=False))
    metrics = nan_to_none(json.loads(json.dumps(metrics, default=json_default)))
    validate_metrics(metrics)
    write_json(out / "metrics.json", metrics)
    return metrics
