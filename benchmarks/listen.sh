#!/usr/bin/env bash
# Listener benchmark: the time from the last image of a study sent to `lungct listen` to the
# last of its DICOM results stored in a real PACS (Orthanc), on the committed sample and on the
# 512×512×300 phantom, with the shipped models. Issue 15's goal: ≤ 10 s on 2 cores.
#
# Each study is first stored in Orthanc (the PACS holds it, as in a hospital), then sent to
# lungct by DCMTK's storescu, as a modality or a routing rule would. The clock starts when
# storescu exits (its last image acknowledged) and stops when Orthanc lists the study's four
# result series (polled every 0.1 s). lungct's own log line "sent 4 objects ..., X s after its
# last image" is printed beside it. This is a measurement: it exits 0 whatever the figures.
#
# Usage:   benchmarks/listen.sh [--idle-seconds S]   (default 1: the analysis waits that long)
# Env:     BENCH_REPEAT=N  runs per study (default 3; each run uses a new Orthanc and listener)
#          LUNGCT=PATH     lungct binary (default: the release build, built if missing)
set -euo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
WORK=$BENCH_DIR/work
VENV=$BENCH_DIR/.venv
# shellcheck source=benchmarks/common.sh
source "$BENCH_DIR/common.sh"
REPEAT=${BENCH_REPEAT:-3}
IDLE=1
[[ ${1:-} == --idle-seconds ]] && IDLE=$2

command -v Orthanc >/dev/null || apt_install orthanc
command -v storescu >/dev/null || apt_install dcmtk
ensure_lungct

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
series_count() { curl -s "http://127.0.0.1:$HTTP/series" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# run_once NAME DICOM_FOLDER: one measured run, kept in work/listen/NAME; prints
# "seconds_by_orthanc seconds_by_log".
run_once() {
    local name=$1 dicom=$2 run=$WORK/listen/$1
    rm -rf "$run" && mkdir -p "$run"
    HTTP=$(free_port); local dport lport; dport=$(free_port); lport=$(free_port)
    cat >"$run/orthanc.json" <<JSON
{ "Name": "bench", "StorageDirectory": "$run/db", "IndexDirectory": "$run/db", "HttpPort": $HTTP,
  "DicomPort": $dport, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "Plugins": [] }
JSON
    Orthanc "$run/orthanc.json" >"$run/orthanc.log" 2>&1 & local orthanc=$!
    until curl -s "http://127.0.0.1:$HTTP/system" >/dev/null; do sleep 0.2; done
    storescu -aet BENCH -aec ORTHANC +sd -xt 127.0.0.1 "$dport" "$dicom" >/dev/null 2>&1
    local before; before=$(series_count)
    "$LUNGCT" listen --port "$lport" --ae-title LUNGCT --send-to "ORTHANC@127.0.0.1:$dport" \
        -o "$run/node" --idle-seconds "$IDLE" 2>"$run/listen.err" & local node=$!
    until grep -q "listening as" "$run/listen.err" 2>/dev/null; do sleep 0.1; done
    local sent_at done_at
    TCP_NODELAY=1 storescu -aet MODALITY -aec LUNGCT +sd -xt 127.0.0.1 "$lport" "$dicom" >/dev/null 2>&1
    sent_at=$EPOCHREALTIME
    until (( $(series_count) >= before + 4 )); do sleep 0.1; done
    done_at=$EPOCHREALTIME
    sleep 0.5
    local by_log; by_log=$(grep -o 'sent 4 objects.*, [0-9.]* s after' "$run/node/listen.log" | grep -o '[0-9.]* s after' | cut -d' ' -f1)
    kill -TERM $node; wait $node || true
    kill $orthanc; wait $orthanc 2>/dev/null || true
    printf '%.2f %s\n' "$(echo "$done_at - $sent_at" | bc -l)" "${by_log:-?}"
}

ensure_phantom phantom-512x512x300

printf '| study | run | last image -> last result in Orthanc (s) | lungct log (s) |\n|---|---|---|---|\n'
for study in "sample:$REPO/Volumes/phantom-chest/dicom" "512x512x300:$PHANTOM"; do
    name=${study%%:*}; folder=${study#*:}
    for ((i = 1; i <= REPEAT; i++)); do
        read -r by_orthanc by_log < <(run_once "$name-$i" "$folder")
        printf '| %s | %d | %s | %s |\n' "$name" "$i" "$by_orthanc" "$by_log"
    done
done
