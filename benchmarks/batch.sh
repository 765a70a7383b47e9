#!/usr/bin/env bash
# Batch benchmark: throughput (studies per hour) and peak memory of `lungct batch` on an
# archive of phantom CT studies, with --jobs 1 and --jobs 2, in the same run.
#
# The issue's setting is 20 studies of 512×512×150; peak memory should depend on the largest
# study and --jobs, never on the archive's size. This is a measurement: it exits 0 whatever
# the numbers are.
#
# Usage:   benchmarks/batch.sh
# Env:     BATCH_STUDIES=N  studies in the archive (default 20)
#          BATCH_SIZE=S     rows = columns of each study (default 512)
#          BATCH_SLICES=Z   slices of each study (default 150)
#          BATCH_JOBS="1 2" the --jobs values to time
#          LUNGCT=PATH      lungct binary to use (default: the release build, built if missing)
#
# Writes only under benchmarks/work/ (the archive, outputs, logs; gitignored); installs
# /usr/bin/time from Debian if missing.
set -euo pipefail
export LC_ALL=C  # '.' as the decimal separator in $EPOCHREALTIME and printf

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
WORK=$BENCH_DIR/work
VENV=$BENCH_DIR/.venv
# shellcheck source=benchmarks/common.sh
source "$BENCH_DIR/common.sh"
STUDIES=${BATCH_STUDIES:-20}
SIZE=${BATCH_SIZE:-512}
SLICES=${BATCH_SLICES:-150}
JOBS=${BATCH_JOBS:-1 2}
ARCHIVE=$WORK/batch-archive-${STUDIES}x${SIZE}x${SIZE}x${SLICES}

# The archive: STUDIES phantom studies with different seeds, in nested folders as a PACS
# export would have them. Made once and reused; written under a temporary name and renamed,
# so an interrupted set-up never passes for a complete archive.
ensure_archive() {
    [[ -d $ARCHIVE ]] && return
    log "making $STUDIES phantom studies of ${SIZE}×${SIZE}×${SLICES} in $ARCHIVE (once)"
    rm -rf "$ARCHIVE.partial"
    local i
    for ((i = 1; i <= STUDIES; i++)); do
        "$LUNGCT" phantom "$ARCHIVE.partial/tmp" --size "$SIZE" --slices "$SLICES" --spacing 2.0 --seed "$i" >&2
        mkdir -p "$ARCHIVE.partial/site-$((i % 3))/patient-$i"
        mv "$ARCHIVE.partial/tmp/dicom" "$ARCHIVE.partial/site-$((i % 3))/patient-$i/ct"
        rm -rf "$ARCHIVE.partial/tmp"
    done
    mv "$ARCHIVE.partial" "$ARCHIVE"
}

# run_batch JOBS: one timed batch run into a fresh output folder. Sets RUN_SECONDS (wall
# clock of the whole process: scan, analysis, writing) and RUN_KB (peak RSS).
run_batch() {
    local jobs=$1 out=$WORK/batch-out-jobs$1 logfile=$WORK/logs/batch-jobs$1.log
    rm -rf "$out"
    local start end
    start=$EPOCHREALTIME
    /usr/bin/time -v -o "$logfile.time" "$LUNGCT" batch "$ARCHIVE" -o "$out" --jobs "$jobs" --json \
        >"$logfile.json" 2>"$logfile" || { log "lungct batch --jobs $jobs FAILED (log: $logfile)"; return 1; }
    end=$EPOCHREALTIME
    RUN_SECONDS=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    RUN_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$logfile.time")
    OK=$(awk -F': ' '/"ok"/ { gsub(/[ ,]/, "", $2); print $2 }' "$logfile.json")
    rm -rf "$out"  # about 1 GB of outputs per run
}

main() {
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    mkdir -p "$WORK/logs"
    [[ -x /usr/bin/time ]] || apt_install time
    ensure_lungct
    "$LUNGCT" batch --help >/dev/null || { log "error: $LUNGCT has no 'batch' command (too old a build?)"; exit 1; }
    ensure_archive
    # Untimed: the archive into the page cache, as it would be on a second pass.
    cat "$ARCHIVE"/*/*/ct/* >/dev/null

    local rows=() jobs
    for jobs in $JOBS; do
        log "timing lungct batch --jobs $jobs on $STUDIES studies"
        run_batch "$jobs" || continue
        rows+=("$(awk -v j="$jobs" -v s="$RUN_SECONDS" -v kb="$RUN_KB" -v n="$STUDIES" -v ok="$OK" 'BEGIN {
            printf "| %d | %d/%d | %.1f s | %.0f | %.1f s | %.0f MB |", j, ok, n, s, n / s * 3600, s / n, kb / 1024 }')")
    done
    echo "lungct batch on $STUDIES phantom studies of ${SIZE}×${SIZE}×${SLICES} ($(nproc) cores; load average at the start: $load)"
    echo
    echo "| --jobs | cases ok | wall clock | studies/hour | seconds/study | peak RSS |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
}

main "$@"
