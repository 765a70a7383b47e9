#!/usr/bin/env bash
# Inference benchmark: lungct's CNN engine against ONNX Runtime on the same network, the
# same weights and the same input, measured in the same run on the same machine.
#
# The design's bar for the engine: its logits match ONNX Runtime's (max |diff| ≤ 1e-4) and
# it is not slower (time ratio lungct / ORT ≤ 1.0), for one image and for a batch of 16.
# Three networks, each rebuilt as an ONNX graph by onnx_peer.py from the model file alone:
# `lungct model init`'s untrained fully convolutional classifier (1×SIZE×SIZE), the shipped CT
# classifier Weights/ct-covid.h5 and the shipped lesion U-Net Weights/ct-lesions.h5 (3×128×128,
# skip connections and bilinear upsampling). This is a measurement: it exits 0 whether or not
# the targets are met.
#
# Usage:   benchmarks/onnx.sh
# Env:     REPEAT=N      timed forward passes per contender, batch and round (default 50;
#                        the median is reported)
#          ROUNDS=N      paired rounds, lungct then ORT in each (default 5): the table gives
#                        the medians over the rounds and the median of the rounds' ratios
#          WARMUP_SECONDS=S  untimed passes each contender runs first, at least one (default
#                        0.5: on the 2-core machines measured, the passes of the first 0.1 to
#                        0.3 s after start-up took up to twice as long as the later ones)
#          SIZE=S        the untrained classifier's input width and height (default 128)
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
REPEAT=${REPEAT:-50}
ROUNDS=${ROUNDS:-5}
export WARMUP_SECONDS=${WARMUP_SECONDS:-0.5}
SIZE=${SIZE:-128}
BATCHES=(1 16)
INPUT_SEED=20240501   # numpy seed of the random inputs; the model's own seed is lungct's default

# The targets.
MAX_DIFF_TARGET=1e-4
RATIO_TARGET=1.0

# ---------------------------------------------------------------------------------------
# Measuring (set-up: common.sh).
# ---------------------------------------------------------------------------------------

# The networks, in the table's order: a name, the model file (set in main) and a label.
NETWORKS=(untrained ct-covid ct-lesions)
declare -A MODEL LABEL=(
    [untrained]="lungct model init --size $SIZE (untrained)"
    [ct-covid]="Weights/ct-covid.h5 (shipped CT classifier)"
    [ct-lesions]="Weights/ct-lesions.h5 (shipped lesion U-Net)"
)
# Per "network batch": medians in seconds and the largest logit difference.
declare -A LUNGCT_S ORT_S RATIO DIFF
ROUND_LUNGCT= ROUND_ORT= ROUND_RATIO=

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# One round: lungct, then ORT on the same input; appends each median to the round lists.
bench_round() {
    local net=$1 batch=$2 round=$3 dir=$WORK/$1 key="$1 $2" input logfile lungct ort
    input=$dir/input-b$batch.f32

    # lungct reports the median of its in-process forward passes (model load excluded).
    logfile=$WORK/logs/$net-lungct-b$batch-r$round.log
    if "$LUNGCT" model run "${MODEL[$net]}" --input "$input" --batch "$batch" --output "$dir/lungct-b$batch.f32" \
        --repeat "$REPEAT" --warmup-seconds "$WARMUP_SECONDS" --json >"$logfile" 2>&1; then
        lungct=$("$VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["medianSeconds"])' "$logfile")
    else
        log "  lungct FAILED: $(tail -n 1 "$logfile") (log: $logfile)"
        lungct=FAIL
    fi

    # ORT: session.run alone is timed, after its warm-up runs.
    logfile=$WORK/logs/$net-ort-b$batch-r$round.log
    local compare=()
    [[ $lungct != FAIL ]] && compare=("$dir/lungct-b$batch.f32")
    if "$VENV/bin/python" "$BENCH_DIR/onnx_peer.py" run "$dir/model.onnx" "$input" "$batch" "$REPEAT" \
        "$dir/ort-b$batch.f32" "${compare[@]}" >"$logfile" 2>&1; then
        ort=$(awk '/^ORT_MEDIAN_SECONDS/ { print $2 }' "$logfile")
        DIFF[$key]=$(awk '/^MAX_ABS_DIFF/ { print $2 }' "$logfile")
        ORT_VERSION=$(awk '/^ORT_VERSION/ { print $2 }' "$logfile")
    else
        log "  ORT FAILED: $(tail -n 1 "$logfile") (log: $logfile)"
        ort=FAIL
    fi
    log "  round $round: lungct $lungct s, ORT $ort s"
    [[ $lungct == FAIL || $ort == FAIL ]] && return 1
    ROUND_LUNGCT+=" $lungct" ROUND_ORT+=" $ort"
    ROUND_RATIO+=" $(awk -v a="$lungct" -v b="$ort" 'BEGIN { printf "%.6f", a / b }')"
}

# ROUNDS paired rounds (lungct, then ORT, each round), so that a slower or faster spell of a
# shared machine falls on both: the medians over the rounds, and the median of the rounds' ratios.
bench_batch() {
    local net=$1 batch=$2 key="$1 $2" round
    log "$net, batch $batch: $ROUNDS round(s) of $REPEAT timed run(s) each"
    ROUND_LUNGCT= ROUND_ORT= ROUND_RATIO=
    for ((round = 1; round <= ROUNDS; round++)); do
        bench_round "$net" "$batch" "$round" || { LUNGCT_S[$key]=FAIL ORT_S[$key]=FAIL RATIO[$key]=-; break; }
    done
    if [[ ${LUNGCT_S[$key]:-} != FAIL ]]; then
        LUNGCT_S[$key]=$(median <<<"$ROUND_LUNGCT")
        ORT_S[$key]=$(median <<<"$ROUND_ORT")
        RATIO[$key]=$(median <<<"$ROUND_RATIO")
    fi
    DIFF[$key]=${DIFF[$key]:--}
    log "  lungct ${LUNGCT_S[$key]} s, ORT ${ORT_S[$key]} s, ratio ${RATIO[$key]}, max |diff| ${DIFF[$key]}"
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
    local net batch key r verdict diff_ok ratio_ok
    printf '\n%-11s %6s %16s %14s %8s %12s  %s\n' network batch "lungct median s" "ORT median s" ratio "max |diff|" verdict
    printf '%s\n' "$(printf '%.0s-' {1..104})"
    for net in "${NETWORKS[@]}"; do
        for batch in "${BATCHES[@]}"; do
            key="$net $batch"
            r=$(ratio "${RATIO[$key]}" 1)
            if [[ $r == - || ${DIFF[$key]} == - || ${DIFF[$key]} == nan ]]; then
                verdict="no verdict (a run failed)"
            else
                diff_ok=$(awk -v d="${DIFF[$key]}" -v t="$MAX_DIFF_TARGET" 'BEGIN { print (d <= t) ? "met" : "MISSED" }')
                ratio_ok=$(awk -v r="$r" -v t="$RATIO_TARGET" 'BEGIN { print (r <= t) ? "met" : "MISSED" }')
                verdict="diff $diff_ok, speed $ratio_ok"
            fi
            printf '%-11s %6s %16s %14s %8s %12s  %s\n' "$net" "$batch" "$(seconds "${LUNGCT_S[$key]}")" \
                "$(seconds "${ORT_S[$key]}")" "$r" "${DIFF[$key]}" "$verdict"
        done
    done
    echo
    for net in "${NETWORKS[@]}"; do echo "$net: ${LABEL[$net]}"; done
    cat <<TEXT
onnxruntime ${ORT_VERSION:-?}, CPU execution provider, 2 intra-op threads, all graph optimizations.
Median over $ROUNDS paired round(s) of the median of $REPEAT forward pass(es) of the whole batch,
in-process (model load excluded), ratio the median of the rounds' ratios: lungct's
own timer in 'model run', ORT's session.run; each after $WARMUP_SECONDS s of untimed warm-up passes.
Targets: max |diff| of the logits ≤ $MAX_DIFF_TARGET; ratio lungct / ORT ≤ $RATIO_TARGET.
TEXT
}

# ---------------------------------------------------------------------------------------

main() {
    [[ $REPEAT =~ ^[1-9][0-9]*$ ]] || { log "error: REPEAT must be a positive integer"; exit 1; }
    [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { log "error: ROUNDS must be a positive integer"; exit 1; }
    [[ $SIZE =~ ^[1-9][0-9]*$ ]] || { log "error: SIZE must be a positive integer"; exit 1; }
    [[ $WARMUP_SECONDS =~ ^[0-9]+(\.[0-9]+)?$ ]] || { log "error: WARMUP_SECONDS must be a number of seconds"; exit 1; }
    mkdir -p "$WORK/logs"
    ensure_venv onnx onnxruntime h5py numpy
    ensure_lungct
    "$LUNGCT" model run --help >/dev/null 2>&1 \
        || { log "error: $LUNGCT has no 'model run' (too old a build?)"; exit 1; }

    # The untrained model is remade every run: it is quick, and it must match the binary
    # being measured.
    mkdir -p "$WORK/untrained" "$WORK/ct-covid" "$WORK/ct-lesions"
    MODEL[untrained]=$WORK/untrained/ct-untrained-$SIZE.h5
    MODEL[ct-covid]=$REPO/Weights/ct-covid.h5
    MODEL[ct-lesions]=$REPO/Weights/ct-lesions.h5
    rm -f "${MODEL[untrained]}"
    "$LUNGCT" model init "${MODEL[untrained]}" --size "$SIZE" >&2
    local net batch
    for net in "${NETWORKS[@]}"; do
        "$VENV/bin/python" "$BENCH_DIR/onnx_peer.py" prepare "${MODEL[$net]}" "$WORK/$net" "$INPUT_SEED" "${BATCHES[@]}"
    done

    ORT_VERSION=
    for net in "${NETWORKS[@]}"; do
        for batch in "${BATCHES[@]}"; do bench_batch "$net" "$batch"; done
    done
    print_table
    write_json
}

# $WORK/onnx.json: per network and batch, both medians in seconds and the largest logit difference.
write_json() {
    local net batch key
    for net in "${NETWORKS[@]}"; do
        for batch in "${BATCHES[@]}"; do
            key="$net $batch"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$net" "${LABEL[$net]}" "$batch" "${LUNGCT_S[$key]}" \
                "${ORT_S[$key]}" "${RATIO[$key]}" "${DIFF[$key]}"
        done
    done | "$VENV/bin/python" -c '
import json, sys
number = lambda v: None if v in ("FAIL", "-", "nan") else float(v)
rows = []
for line in sys.stdin:
    network, label, batch, lungct, ort, ratio, diff = line.rstrip("\n").split("\t")
    rows.append({"network": network, "model": label, "batch": int(batch), "lungctSeconds": number(lungct),
                 "ortSeconds": number(ort), "ratio": number(ratio), "maxAbsDiff": number(diff)})
json.dump({"models": list(dict.fromkeys(r["model"] for r in rows)), "ortVersion": sys.argv[2], "rows": rows},
          open(sys.argv[1], "w"), indent=1)
' "$WORK/onnx.json" "${ORT_VERSION:-?}"
    log "results: $WORK/onnx.json"
}

main "$@"
