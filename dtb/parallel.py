"""Independent training runs side by side, one CPU thread each.

At the quick sizes a training step is a chain of small products whose cost is set by per-step
overhead, not arithmetic: two threads on one run are barely faster than one. Zero-shot folds,
controls and seeds are independent runs, so on a CPU they are trained ``jobs`` at a time, each
process limited to ``cores // jobs`` threads (no oversubscription). Runs keep their own seeds, so
the weights are those of a one-at-a-time training. On CUDA runs are trained one at a time.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from dtb.config import TrainConfig
from dtb.progress import tqdm


def finished(run: Path, cohort_key: str | None = None, cfg: TrainConfig | None = None) -> bool:
    """Whether a run folder holds a run that ended (early stopping or the epoch limit).

    Raises
    ------
    ValueError
        If the folder holds a run of another cohort (``cohort_key``) or another configuration
        (``cfg``): it is never reused in place of the run asked for.
    """
    from dtb.provenance import config_dict

    rec = run / "run.json"
    if not rec.is_file():
        return False
    saved = json.loads(rec.read_text())
    if cohort_key is not None and saved.get("data_key") != cohort_key:
        raise ValueError(
            f"{run}: trained on cohort {str(saved.get('data_key'))[:16]}, not on "
            f"{cohort_key[:16]}; it is not reused: remove the folder or choose another output"
        )
    if cfg is not None and saved.get("train_config") != config_dict(cfg):
        raise ValueError(
            f"{run}: trained with another configuration than the one asked for; it is not "
            "reused: remove the folder or choose another output"
        )
    return saved.get("stopped") in ("early-stopping", "max-epochs")


def _expected_cost(cfg: TrainConfig) -> float:
    """Rough relative cost of a run, to start the longest ones first."""
    dense = 3.0 if cfg.fc_encoder == "dense" and cfg.control != "direct-input" else 1.0
    return dense * (0.8 if cfg.protocol == "zero-shot" else 1.0) * cfg.max_epochs


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _train_one(cache: str, run: str, cfg: TrainConfig, device: str, progress: bool) -> str:
    from dtb.train import train

    out = Path(run)
    resume = (out / "checkpoint.pt").exists()
    train(cache, out, cfg, device=device, resume=resume, progress=progress)
    return run


def map_jobs(
    fn, calls: list[dict], *, jobs: int = 1, progress: bool = True, desc: str = ""
) -> list:
    """``[fn(**kw) for kw in calls]``, ``jobs`` at a time in fresh processes.

    ``fn`` must be a module-level function (it is sent to the workers by name). Each worker
    uses ``os.cpu_count() // jobs`` threads (at least 1). With ``jobs = 1`` the calls run here,
    in order. An error in any call is raised here.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if jobs == 1 or len(calls) <= 1:
        return [fn(**kw) for kw in calls]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    ctx = get_context("spawn")  # a fresh interpreter: no inherited thread pools or locks
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=(threads,))
    results: list = [None] * len(calls)
    with pool:
        futures = {pool.submit(fn, **kw): k for k, kw in enumerate(calls)}
        bar = tqdm(
            total=len(futures), desc=f"{desc} ({jobs} at a time)", unit="job", disable=not progress
        )
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            bar.update(1)
        bar.close()
    return results


def train_runs(
    cache: Path | str,
    runs: list[tuple[Path, TrainConfig]],
    *,
    device: str = "cpu",
    jobs: int = 1,
    progress: bool = True,
) -> None:
    """Train every run not finished yet (an interrupted one is resumed).

    Parameters
    ----------
    cache : path-like
        Prepared cohort.
    runs : list of (run folder, TrainConfig)
    device : {"auto", "cpu", "cuda"}
    jobs : int
        Runs trained at once on a CPU (:func:`map_jobs`); on CUDA one at a time.
    """
    from dtb.data.prepare import read_meta
    from dtb.network import resolve_device

    key = read_meta(cache)["key"]
    todo = [(Path(r), c) for r, c in runs if not finished(Path(r), key, c)]
    todo.sort(key=lambda rc: -_expected_cost(rc[1]))  # longest first: the pool ends together
    if resolve_device(device).type == "cuda":
        jobs = 1
    calls = [
        {"cache": str(cache), "run": str(r), "cfg": c, "device": device, "progress": progress}
        for r, c in todo
    ]
    if jobs > 1:
        calls = [{**kw, "progress": False} for kw in calls]
    map_jobs(_train_one, calls, jobs=jobs, progress=progress, desc="training")
