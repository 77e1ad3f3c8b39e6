"""One prepared check of the CUDA path: correctness, speed, scale, end to end, capacity.

Run through ``benchmarks/gpu_check.sh`` (which installs the wheelhouse on the GPU machine).
Sections, each timed and recorded even when another fails:

* ``correctness``: ``pytest -m cuda tests/test_cuda.py`` (CUDA against CPU float64, the
  hand-written backward through time against autograd, resume to the same weights);
* ``speed``: ms per training batch (forward, loss, backward, clipping, Adam) at fp32, tf32 and
  bf16, each with its error against fp32 on the same batch and weights (loss, gradients,
  action probabilities) and its multiple of the FLOP floor at the matmul rate of that precision
  measured in the same run;
* ``scale``: a short training on a synthetic cohort and the projected time of the full run;
  peak memory;
* ``end_to_end``: ``dtb reproduce --profile quick`` on the device (the book only if
  jupyter-book is installed), then the predicted RT of its twin at bf16 against fp32;
* ``capacity``: the largest number of participants per batch (10 windows each) whose training
  step fits in memory.

``--device cpu`` runs every section at tiny sizes in seconds (the end-to-end step becomes a
two-step training and its evaluation; capacity is not measured), so that CI keeps the script
working. Prints a table; writes the figures as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import T_STEPS, batch_flops, make_batch  # noqa: E402

from dtb.config import TrainConfig  # noqa: E402
from dtb.model import DigitalTwinModel, ModelConfig, loss_fn  # noqa: E402
from dtb.precision import precision_context  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: Sizes of each mode: model profile, batch (participants x windows), cohort, training steps.
SIZES = {
    "cuda": {
        "profile": "paper",
        "parts": 5,
        "per": 10,
        "cohort": 228,
        "steps": 300,
        "reps": 20,
        "train": {},
    },
    "cpu": {
        "profile": "quick",
        "parts": 2,
        "per": 2,
        "cohort": 8,
        "steps": 2,
        "reps": 2,
        "train": {"fc_components": 2, "participants_per_batch": 6},
    },
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(device: torch.device, precision: str, n: int = 4096, reps: int = 10) -> float:
    """Measured matmul throughput (FLOP/s) of ``n x n`` products at ``precision``."""
    n = n if device.type == "cuda" else 512
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    times = []
    with precision_context("tf32" if precision == "tf32" else "fp32", device):
        for _ in range(reps + 2):
            _sync(device)
            t0 = time.perf_counter()
            a @ b
            _sync(device)
            times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times[2:])


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def correctness(device: torch.device, size: dict, work: Path) -> dict:
    """The CUDA tests (skipped without a GPU)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            "cuda",
            "-p",
            "no:cacheprovider",
            "tests/test_cuda.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
    if proc.returncode != 0:
        raise RuntimeError(f"CUDA tests failed: {last}\n{proc.stdout[-3000:]}")
    return {"pytest": last}


def _step_grads(model, batch, precision, device):
    model.zero_grad(set_to_none=True)
    with precision_context(precision, device):
        logits, bold = model(batch.fc, batch.inputs, batch.owner)
        loss, _ = loss_fn(logits.float(), bold.float(), batch.action, batch.bold, batch.mask)
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    return float(loss.detach()), torch.sigmoid(logits.float()).detach(), grads


def speed(device: torch.device, size: dict, work: Path) -> dict:
    """ms per training batch and error against fp32, per precision."""
    cfg = ModelConfig.profile(size["profile"])
    model = DigitalTwinModel(cfg, generator=torch.Generator().manual_seed(0)).to(device)
    batch = make_batch(cfg, size["parts"], size["per"], device, seed=0)
    flops = batch_flops(cfg, size["parts"], size["parts"] * size["per"], T_STEPS)["total"]
    precisions = ["fp32", "tf32", "bf16"] if device.type == "cuda" else ["fp32", "bf16"]
    ref_loss, ref_prob, ref_grads = _step_grads(model, batch, "fp32", device)
    out = {"batch": f"{size['parts']} x {size['per']} windows x {T_STEPS} steps", "flops": flops}
    for precision in precisions:
        loss, prob, grads = _step_grads(model, batch, precision, device)
        grad_err = max(
            float((g - r).abs().max() / (r.abs().max() + 1e-30))
            for g, r in zip(grads, ref_grads, strict=True)
        )
        timed = DigitalTwinModel(cfg, generator=torch.Generator().manual_seed(0)).to(device)
        opt = torch.optim.Adam(timed.parameters(), lr=1e-6)
        times = []
        for _ in range(size["reps"] + 2):
            _sync(device)
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            with precision_context(precision, device):
                logits, bold = timed(batch.fc, batch.inputs, batch.owner)
                step_loss, _ = loss_fn(
                    logits.float(), bold.float(), batch.action, batch.bold, batch.mask
                )
            step_loss.backward()
            nn.utils.clip_grad_norm_(timed.parameters(), 1.0)
            opt.step()
            _sync(device)
            times.append(time.perf_counter() - t0)
        ms = 1e3 * statistics.median(times[2:])
        floor_ms = 1e3 * flops / matmul_rate(device, precision)
        out[precision] = {
            "ms_per_batch": ms,
            "floor_ms": floor_ms,
            "floor_multiple": ms / floor_ms,
            "loss_rel_error": abs(loss - ref_loss) / abs(ref_loss),
            "grad_rel_error": grad_err,
            "action_prob_max_abs_error": float((prob - ref_prob).abs().max()),
        }
        del timed, opt
    return out


def _cohort(work: Path, n: int) -> Path:
    from dtb.data.prepare import prepare
    from dtb.data.synth import synthesize

    root = synthesize(work / "data", n, 0)
    return prepare(root, work / "cache", progress=False)


def scale(device: torch.device, size: dict, work: Path) -> dict:
    """A short training on a synthetic cohort; the full run's projected time; peak memory."""
    from dtb.data.prepare import load_prepared
    from dtb.train import epoch_batches, train, window_table

    t0 = time.perf_counter()
    cache = _cohort(work / "scale", size["cohort"])
    prep_s = time.perf_counter() - t0
    cfg = TrainConfig.for_profile(size["profile"], checkpoint_every=10**6, **size["train"])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    run = train(
        cache,
        work / "scale" / "run",
        cfg,
        device=str(device),
        progress=False,
        max_steps=size["steps"],
    )
    seconds = time.perf_counter() - t0
    steps = json.loads((run / "run.json").read_text())["steps"]
    cohort = load_prepared(cache)
    rows, val = cfg.participant_split(len(cohort.participants))
    per_epoch = len(epoch_batches(window_table(cohort, rows, val), cfg, 0))
    out = {
        "participants": len(cohort.participants),
        "synth_and_prepare_s": prep_s,
        "steps": steps,
        "s_per_step": seconds / steps,
        "steps_per_epoch": per_epoch,
        "projected_full_run_min": seconds / steps * per_epoch * cfg.max_epochs / 60,
        "max_epochs": cfg.max_epochs,
    }
    if device.type == "cuda":
        out["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def _rt_error(run: Path, device: torch.device) -> dict:
    """Predicted RT of a trained twin at bf16 against fp32 (mean absolute difference, ms)."""
    from dtb.evaluate import predict_behaviour

    fp32 = predict_behaviour(run, device=str(device), progress=False)
    with precision_context("bf16", device):
        bf16 = predict_behaviour(run, device=str(device), progress=False)
    both = fp32.merge(bf16, on=["participant", "task"], suffixes=("_fp32", "_bf16")).dropna(
        subset=["pred_rt_fp32", "pred_rt_bf16"]
    )
    diff = (both["pred_rt_bf16"] - both["pred_rt_fp32"]).abs()
    return {"rt_pairs": int(len(both)), "bf16_rt_mae_ms": float(1e3 * diff.mean())}


def end_to_end(device: torch.device, size: dict, work: Path) -> dict:
    """``dtb reproduce --profile quick`` on the device (CPU mode: a two-step run and its
    evaluation), then the bf16 RT error of the trained twin."""
    if device.type != "cuda":
        from dtb.evaluate import evaluate
        from dtb.train import train

        cache = _cohort(work / "e2e", 8)
        cfg = TrainConfig.for_profile(
            "quick", fc_components=2, participants_per_batch=6, max_epochs=1
        )
        t0 = time.perf_counter()
        run = train(cache, work / "e2e" / "run", cfg, device="cpu", progress=False)
        evaluate([run], work / "e2e" / "eval", device="cpu", progress=False)
        return {
            "chain": "train 1 epoch + evaluate",
            "s": time.perf_counter() - t0,
            **_rt_error(run, device),
        }
    skipped = [m for m in ("jupyter_book", "papermill") if importlib.util.find_spec(m) is None]
    cmd = [
        sys.executable,
        "-m",
        "dtb",
        "reproduce",
        "--profile",
        "quick",
        "--device",
        "cuda",
        "--out",
        str(work / "e2e"),
    ]
    if "jupyter_book" in skipped:
        cmd.append("--no-book")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"dtb reproduce failed:\n{proc.stderr[-3000:]}")
    out = {
        "chain": "dtb reproduce --profile quick",
        "s": time.perf_counter() - t0,
        "not_installed": skipped,
    }
    return {**out, **_rt_error(work / "e2e" / "quick" / "suite" / "paper" / "run", device)}


def capacity(device: torch.device, size: dict, work: Path) -> dict:
    """The largest participants per batch (10 windows each) whose training step fits."""
    if device.type != "cuda":
        return {"largest_participants_per_batch": "not measured on a CPU"}
    cfg = ModelConfig.profile(size["profile"])
    model = DigitalTwinModel(cfg, generator=torch.Generator().manual_seed(0)).to(device)
    fits, peak, parts = 0, 0.0, 5
    while parts <= 4096:
        try:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            batch = make_batch(cfg, parts, 10, device, seed=0)
            _step_grads(model, batch, "fp32", device)
            _sync(device)
            fits, peak = parts, torch.cuda.max_memory_allocated(device) / 2**30
            parts *= 2
        except torch.OutOfMemoryError:
            break
        finally:
            batch = None
    return {
        "largest_participants_per_batch": fits,
        "windows": fits * 10,
        "peak_gib": peak,
        "tried_up_to": parts,
    }


SECTIONS = {
    "correctness": correctness,
    "speed": speed,
    "scale": scale,
    "end_to_end": end_to_end,
    "capacity": capacity,
}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="where to run")
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    p.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run these sections only")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu check: no CUDA device; use --device cpu", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    size = SIZES[args.device]
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "sizes": size,
        "sections": {},
    }
    failed, names = [], args.only or list(SECTIONS)
    with tempfile.TemporaryDirectory(prefix="dtb-gpu-check-") as tmp:
        for name in names:
            t0 = time.perf_counter()
            try:
                result = SECTIONS[name](device, size, Path(tmp) / name)
                result["seconds"] = time.perf_counter() - t0
            except Exception as exc:  # a section's failure is reported, the others still run
                failed.append(name)
                result = {
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc()[-2000:],
                }
            report["sections"][name] = result
            print(
                f"| {name} | {_fmt({k: v for k, v in result.items() if k != 'traceback'})} |",
                flush=True,
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    print(
        f"gpu check on {report['device']}: {len(names)} section(s) ran, "
        f"{len(failed)} failed{': ' + ', '.join(failed) if failed else ''}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
