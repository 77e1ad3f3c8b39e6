"""Timings of the data pipeline on the synthetic cohort.

Run ``python benchmarks/data_pipeline.py --participants 228`` (the paper's cohort size). Each
section is a ``bench_*`` function returning a dictionary of figures, and ``main`` prints them.
Peak RSS is a process's high-water mark (``resource.getrusage``): ``dtb prepare`` is therefore
timed in a fresh child process of its own, so its memory figure is not the generator's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dtb.data.synth import synthesize


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def bench_synth(n: int, seed: int = 0) -> dict[str, float]:
    """Time :func:`dtb.data.synth.synthesize` for ``n`` participants into a temporary folder.

    Returns
    -------
    figures : dict
        ``participants``, ``seconds``, ``seconds_per_participant``, ``gb_written`` and
        ``peak_rss_mb``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "ds"
        t0 = time.perf_counter()
        synthesize(dest, n, seed)
        seconds = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    return {
        "participants": n,
        "seconds": seconds,
        "seconds_per_participant": seconds / n,
        "gb_written": size / 1e9,
        "peak_rss_mb": peak_rss_mb(),
    }


def bench_prepare(root: Path, out: Path) -> dict[str, float]:
    """Time :func:`dtb.data.prepare.prepare` of ``root`` into ``out`` (cold: no cache yet)."""
    from dtb.data.prepare import prepare, read_meta

    t0 = time.perf_counter()
    path = prepare(root, out, progress=False)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    prepare(root, out, progress=False)  # unchanged inputs: the cache is reused
    return {
        "participants": len(read_meta(path)["participants"]),
        "seconds": seconds,
        "seconds_reuse": time.perf_counter() - t1,
        "cache_gb": path.stat().st_size / 1e9,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--participants",
        type=int,
        default=228,
        metavar="N",
        help="synthetic participants (default: 228, the paper's cohort)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prepare-only", nargs=2, metavar=("ROOT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.prepare_only:  # the child process of the prepare section
        print(json.dumps(bench_prepare(Path(args.prepare_only[0]), Path(args.prepare_only[1]))))
        return 0

    r = bench_synth(args.participants, args.seed)
    print(
        f"synth    {r['participants']} participants: {r['seconds']:.1f} s "
        f"({1000 * r['seconds_per_participant']:.0f} ms each), {r['gb_written']:.2f} GB written, "
        f"peak RSS {r['peak_rss_mb']:.0f} MiB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        synthesize(root, args.participants, args.seed)
        child = subprocess.run(
            [sys.executable, __file__, "--prepare-only", str(root), str(Path(tmp) / "cache")],
            capture_output=True,
            text=True,
            check=True,
        )
    p = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"prepare  {p['participants']} participants: {p['seconds']:.1f} s "
        f"(reuse of the unchanged cache {p['seconds_reuse']:.1f} s), cache {p['cache_gb']:.2f} GB, "
        f"peak RSS {p['peak_rss_mb']:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
