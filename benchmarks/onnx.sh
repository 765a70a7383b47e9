#!/usr/bin/env bash
# Inference benchmark: lungct's CNN engine against ONNX Runtime on the same network, the
# same weights and the same input, measured in the same run on the same machine.
#
# The design's bar for the engine: its logits match ONNX Runtime's (max |diff| ≤ 1e-4) and
# it is not slower (time ratio lungct / ORT ≤ 1.0), for one image and for a batch of 16.
# The model is `lungct model init`'s untrained fully convolutional network at the CT
# model's planned input (1×128×128); onnx_peer.py rebuilds it as an ONNX graph from the
# model file alone. This is a measurement: it exits 0 whether or not the targets are met.
#
# Usage:   benchmarks/onnx.sh
# Env:     REPEAT=N      timed forward passes per contender and batch (default 10; the
#                        median is reported; ORT gets one untimed warm-up run first)
#          SIZE=S        input width and height (default 128)
#          LUNGCT=PATH   lungct binary to use (default: the release build, built if missing)
#
# Writes only under benchmarks/work/onnx/ (model, inputs, logits, logs) and benchmarks/.venv/
# (onnx, onnxruntime, h5py, numpy from PyPI), both gitignored.
set -euo pipefail
export LC_ALL=C                   # '.' as the decimal separator in printf and awk
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ next to onnx_peer.py

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
WORK=$BENCH_DIR/work/onnx
VENV=$BENCH_DIR/.venv
# shellcheck source=benchmarks/common.sh
source "$BENCH_DIR/common.sh"
REPEAT=${REPEAT:-10}
SIZE=${SIZE:-128}
BATCHES=(1 16)
INPUT_SEED=20240501   # numpy seed of the random inputs; the model's own seed is lungct's default

# The targets.
MAX_DIFF_TARGET=1e-4
RATIO_TARGET=1.0

# ---------------------------------------------------------------------------------------
# Measuring (set-up: common.sh).
# ---------------------------------------------------------------------------------------

declare -A LUNGCT_S ORT_S DIFF

bench_batch() {
    local batch=$1 input=$WORK/input-b$1.f32 logfile
    log "batch $batch: $REPEAT timed run(s) each"

    # lungct reports the median of its in-process forward passes (model load excluded).
    logfile=$WORK/logs/lungct-b$batch.log
    if "$LUNGCT" model run "$MODEL" --input "$input" --batch "$batch" --output "$WORK/lungct-b$batch.f32" \
        --repeat "$REPEAT" --json >"$logfile" 2>&1; then
        LUNGCT_S[$batch]=$("$VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["medianSeconds"])' "$logfile")
    else
        log "  lungct FAILED: $(tail -n 1 "$logfile") (log: $logfile)"
        LUNGCT_S[$batch]=FAIL
    fi

    # ORT: session.run alone is timed, after one warm-up run.
    logfile=$WORK/logs/ort-b$batch.log
    local compare=()
    [[ ${LUNGCT_S[$batch]} != FAIL ]] && compare=("$WORK/lungct-b$batch.f32")
    if "$VENV/bin/python" "$BENCH_DIR/onnx_peer.py" run "$WORK/model.onnx" "$input" "$batch" "$REPEAT" \
        "$WORK/ort-b$batch.f32" "${compare[@]}" >"$logfile" 2>&1; then
        ORT_S[$batch]=$(awk '/^ORT_MEDIAN_SECONDS/ { print $2 }' "$logfile")
        DIFF[$batch]=$(awk '/^MAX_ABS_DIFF/ { print $2 }' "$logfile")
        ORT_VERSION=$(awk '/^ORT_VERSION/ { print $2 }' "$logfile")
    else
        log "  ORT FAILED: $(tail -n 1 "$logfile") (log: $logfile)"
        ORT_S[$batch]=FAIL
    fi
    DIFF[$batch]=${DIFF[$batch]:--}
    log "  lungct ${LUNGCT_S[$batch]} s, ORT ${ORT_S[$batch]} s, max |diff| ${DIFF[$batch]}"
}

# ---------------------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------------------

ratio() {  # ratio A B: A / B with two decimals, or "-" if either is missing or failed
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
        if (a ~ /^[0-9.e-]+$/ && b ~ /^[0-9.e-]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'
}

seconds() { [[ $1 == FAIL ]] && echo FAIL || printf '%.4f' "$1"; }

print_table() {
    local batch r verdict diff_ok ratio_ok
    printf '\n%6s %16s %14s %8s %12s  %s\n' batch "lungct median s" "ORT median s" ratio "max |diff|" verdict
    printf '%s\n' "$(printf '%.0s-' {1..92})"
    for batch in "${BATCHES[@]}"; do
        r=$(ratio "${LUNGCT_S[$batch]}" "${ORT_S[$batch]}")
        if [[ $r == - || ${DIFF[$batch]} == - || ${DIFF[$batch]} == nan ]]; then
            verdict="no verdict (a run failed)"
        else
            diff_ok=$(awk -v d="${DIFF[$batch]}" -v t="$MAX_DIFF_TARGET" 'BEGIN { print (d <= t) ? "met" : "MISSED" }')
            ratio_ok=$(awk -v r="$r" -v t="$RATIO_TARGET" 'BEGIN { print (r <= t) ? "met" : "MISSED" }')
            verdict="diff $diff_ok, speed $ratio_ok"
        fi
        printf '%6s %16s %14s %8s %12s  %s\n' "$batch" "$(seconds "${LUNGCT_S[$batch]}")" \
            "$(seconds "${ORT_S[$batch]}")" "$r" "${DIFF[$batch]}" "$verdict"
    done
    cat <<EOF

Model: lungct model init --size $SIZE (untrained, fully convolutional, 1×${SIZE}×${SIZE} input);
onnxruntime ${ORT_VERSION:-?}, CPU execution provider, 2 intra-op threads, all graph optimizations.
Median of $REPEAT forward pass(es) of the whole batch, in-process (model load excluded): lungct's
own timer in 'model run' (its first pass is counted), ORT's session.run after one warm-up run.
Targets: max |diff| of the logits ≤ $MAX_DIFF_TARGET; ratio lungct / ORT ≤ $RATIO_TARGET.
EOF
}

# ---------------------------------------------------------------------------------------

main() {
    [[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { log "error: REPEAT must be a positive integer"; exit 1; }
    [[ $SIZE =~ ^[1-9][0-9]*$ ]] || { log "error: SIZE must be a positive integer"; exit 1; }
    mkdir -p "$WORK/logs"
    ensure_venv onnx onnxruntime h5py numpy
    ensure_lungct
    "$LUNGCT" model run --help >/dev/null 2>&1 \
        || { log "error: $LUNGCT has no 'model run' (too old a build?)"; exit 1; }

    # Remade every run: it is quick, and the model must match the binary being measured.
    MODEL=$WORK/ct-untrained-$SIZE.h5
    [[ $SIZE == 128 ]] && MODEL=$WORK/ct-untrained.h5
    rm -f "$MODEL"
    "$LUNGCT" model init "$MODEL" --size "$SIZE" >&2
    "$VENV/bin/python" "$BENCH_DIR/onnx_peer.py" prepare "$MODEL" "$WORK" "$INPUT_SEED" "${BATCHES[@]}"

    ORT_VERSION=
    for batch in "${BATCHES[@]}"; do bench_batch "$batch"; done
    print_table
    write_json
}

# $WORK/onnx.json: per batch, both medians in seconds and the largest logit difference.
write_json() {
    local batch
    for batch in "${BATCHES[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "$batch" "${LUNGCT_S[$batch]}" "${ORT_S[$batch]}" "${DIFF[$batch]}"
    done | "$VENV/bin/python" -c '
import json, sys
number = lambda v: None if v in ("FAIL", "-", "nan") else float(v)
rows = [dict(zip(("batch", "lungctSeconds", "ortSeconds", "maxAbsDiff"), line.split())) for line in sys.stdin]
rows = [{"batch": int(r["batch"]), **{k: number(v) for k, v in r.items() if k != "batch"}} for r in rows]
json.dump({"model": sys.argv[2], "ortVersion": sys.argv[3], "rows": rows}, open(sys.argv[1], "w"), indent=1)
' "$WORK/onnx.json" "lungct model init --size $SIZE (untrained)" "${ORT_VERSION:-?}"
    log "results: $WORK/onnx.json"
}

main "$@"
