#!/usr/bin/env bash
# The prepared GPU check: correctness, speed per precision, scale, end to end, capacity
# (benchmarks/gpu_check.py). On the GPU machine (no network), from the repository root:
#
#   benchmarks/gpu_check.sh            # CUDA; installs .whl/ (make wheelhouse) and the project
#   benchmarks/gpu_check.sh --device cpu   # tiny sizes on a CPU, in seconds (CI)
#
# PYTHON picks the interpreter (default python3: the image's own, with its own torch). The table
# goes to stdout; the figures to $OUT/gpu_check.json when OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
device=cuda
if [ "${1:-}" = "--device" ]; then device="${2:?--device needs cuda or cpu}"; fi
PY="${PYTHON:-python3}"
if ! "$PY" -c "import nilearn, dtb" 2>/dev/null; then
  if [ ! -d .whl ]; then
    echo "the project's dependencies are missing and there is no .whl/: run 'make wheelhouse'" >&2
    exit 2
  fi
  # the image's torch stays: the wheels are only what the image lacks, the project without deps
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir -e .
fi
json=()
if [ -n "${OUT:-}" ]; then json=(--json "$OUT/gpu_check.json"); fi
export PYTHONUNBUFFERED=1
"$PY" benchmarks/gpu_check.py --device "$device" "${json[@]}"
