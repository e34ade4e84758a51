#!/usr/bin/env bash
# The GPU check: tests/test_cuda.py (everything a user does on device='cuda', compared with
# the CPU) on a machine with an NVIDIA GPU and CuPy.  CI has no GPU and skips that file.
#
#   bash benchmarks/gpu_check.sh [LOGDIR]      (from the repository root)
#
# Writes LOGDIR/cuda_tests.log (default: .) and, when CUPY_CACHE_DIR is set or defaults to
# build/cupy_cache, LOGDIR/cupy_cache.tgz: CuPy's compiled kernels, which a second run can
# reuse (CuPy compiles each kernel on first use; a cold run spends most of its time there).
set -u
LOGDIR=${1:-${OUT:-.}}
nvidia-smi -L
python3 -c 'import cupy, numpy
print("cupy", cupy.__version__, "numpy", numpy.__version__)
n = cupy.cuda.runtime.getDeviceProperties(0)["name"]
print(n.decode() if isinstance(n, bytes) else n)'
export CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-$PWD/build/cupy_cache}
mkdir -p "$CUPY_CACHE_DIR"
workers=()
python3 -c 'import xdist' 2>/dev/null && workers=(-n "${WORKERS:-12}")
timeout_opt=()
python3 -c 'import pytest_timeout' 2>/dev/null && timeout_opt=(--timeout=120)
PYTHONPATH=. timeout "${PYTEST_LIMIT:-230}" python3 -m pytest tests/test_cuda.py -rfEs \
    --tb=short -p no:cacheprovider -p no:benchmark --durations=8 "${workers[@]}" "${timeout_opt[@]}" \
    > "$LOGDIR/cuda_tests.log" 2>&1
status=$?
tail -c 6000 "$LOGDIR/cuda_tests.log"
tar czf "$LOGDIR/cupy_cache.tgz" -C "$(dirname "$CUPY_CACHE_DIR")" \
    "$(basename "$CUPY_CACHE_DIR")" 2>/dev/null
ls -la "$LOGDIR"
exit $status
