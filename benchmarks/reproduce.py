"""Time ``make reproduce`` from a fresh clone, then again with nothing changed.

Run ``python benchmarks/reproduce.py`` from the repository root. It clones the committed HEAD
into a temporary folder (so uncommitted changes are not measured), runs ``make reproduce`` there
twice and prints the wall time of each run and the peak resident memory of the largest process
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``). The first run includes creating the virtual
environment and installing the package (from pip's cache when it is warm). Targets: under
10 minutes and 4 GB for the first run, under 2 minutes for the second.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_make(repo: Path, target: str) -> tuple[float, int]:
    """Run ``make TARGET`` in ``repo``; return (seconds, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["make", target],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
    return time.perf_counter() - t0, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone and print its path")
    args = parser.parse_args(argv)

    root = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="dtb-reproduce-"))
    clone = tmp / "repo"
    subprocess.run(["git", "clone", "--quiet", str(root), str(clone)], check=True)
    env_note = f"load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    first, rc1 = timed_make(clone, "reproduce")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10
    second, rc2 = timed_make(clone, "reproduce")
    print(f"fresh clone, make reproduce (install included): {first / 60:.1f} min (exit {rc1})")
    print(f"peak RSS of the largest process: {peak:.0f} MiB")
    print(f"second make reproduce, nothing changed: {second:.1f} s (exit {rc2})")
    if env_note:
        print(f"{env_note} at the start (a busy machine slows everything)")
    if args.keep:
        print(f"clone kept at {clone}")
    else:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return max(rc1, rc2)


if __name__ == "__main__":
    raise SystemExit(main())
