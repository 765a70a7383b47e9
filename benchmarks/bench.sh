#!/usr/bin/env bash
# Every performance figure of lungct in one run (make bench): loading against dcm2niix,
# SimpleITK and pydicom, analyze on two 512×512×300 phantoms with its stage times, and the
# CNN engine against ONNX Runtime; then one table of all of them, each as a ratio against the
# peer measured in the same run or against its target, also written as JSON.
#
# Usage:   benchmarks/bench.sh
# Env:     as benchmarks/load.sh and benchmarks/onnx.sh (BENCH_REPEAT, REPEAT, LUNGCT, ...)
#
# Writes benchmarks/work/bench.json (and what the two scripts write). A measurement: exits 0
# whether or not the targets are met.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$BENCH_DIR/load.sh"
"$BENCH_DIR/onnx.sh"
"$BENCH_DIR/.venv/bin/python" "$BENCH_DIR/summary.py" "$BENCH_DIR/work"
