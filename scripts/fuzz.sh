#!/usr/bin/env bash
# Coverage-guided fuzzing of lungct's readers with libFuzzer under AddressSanitizer.
#
# Builds `lungct-fuzz` (Sources/lungct-fuzz) with -sanitize=fuzzer,address into .build/fuzz,
# makes seed corpora with lungct's own writers (phantom series in every transfer syntax it
# writes, JPEG 2000 and enhanced CT made from them with gdcmconv and highdicom, NIfTI from
# `lungct convert`, `lungct model init` models, DCMTK dumps of the test fixtures, small PNG/JPEG
# pictures and zips of phantom series), then runs each target:
#
#   dicom    one DICOM file through `lungct info --stats` (header scan, series choice, pixels)
#   nifti    one .nii or .nii.gz through `lungct info --stats`
#   picture  one PNG or JPEG radiograph through `lungct info`
#   zip      one zip through the batch archive scan (ZipUnpacker, then the members' headers)
#   model    one model file through `lungct analyze --model FILE`'s loader (HDF5, JSON, weights)
#
# A crash, sanitizer report, leak, time-out or out-of-memory is a finding: the input is kept
# under .build/fuzz-work/artifacts/TARGET/ and the script exits 1. Replay one without
# sanitizers with `swift build --product lungct-fuzz && .build/debug/lungct-fuzz TARGET FILE`.
# scripts/fuzz.py stays for whole-program mutation runs (`lungct info`, `analyze`, `batch`).
#
#   scripts/fuzz.sh                          every target for 45 s each (CI: `make test`)
#   scripts/fuzz.sh --seconds 300 dicom zip  two targets, 5 minutes each
#   scripts/fuzz.sh --runs 1000000           the long run: 10^6 executions per target
#   scripts/fuzz.sh --parallel 2             two fuzzers at a time (one per core)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

ALL_TARGETS=(dicom nifti picture zip model)
WORK=.build/fuzz-work
SCRATCH=.build/fuzz
seconds=45
runs=""
parallel=1
fresh=0
targets=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --parallel) parallel="$2"; shift 2 ;;
        --fresh) fresh=1; shift ;;
        -h | --help) usage; exit 0 ;;
        dicom | nifti | picture | zip | model) targets+=("$1"); shift ;;
        *) echo "fuzz.sh: unknown argument $1 (--help lists them)" >&2; exit 1 ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# Longest input per target: a little above its largest seed, so mutations can grow a seed
# but time goes to small inputs (libFuzzer truncates longer seeds to this).
max_len() {
    case "$1" in
        dicom) echo 8192 ;;
        nifti | zip) echo 16384 ;;
        picture | model) echo 32768 ;;
    esac
}

# --- the fuzzing build ---------------------------------------------------------------------
# -DFUZZING selects libFuzzer's driver in Sources/lungct-fuzz/FuzzMain.swift. The C and C++
# shims get coverage and ASan too (-Xcc, -Xcxx); the system libraries (DCMTK, nifticlib,
# libpng, libjpeg, HDF5, zlib) are not instrumented, so ASan sees their memory errors only
# through its interceptors (memcpy, malloc, free...). lld, because gold crashes on this link
# (internal error in format_file_lineno).
build_fuzzer() {
    echo "== building lungct-fuzz with -sanitize=fuzzer,address (scratch path $SCRATCH), and normally"
    swift build --product lungct-fuzz 2>&1 | grep -E "error" || true
    PLAIN_BINARY="$(swift build --show-bin-path)/lungct-fuzz"
    swift build --scratch-path "$SCRATCH" -c release --product lungct-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld \
        -Xcc -fsanitize=fuzzer-no-link,address -Xcxx -fsanitize=fuzzer-no-link,address 2>&1 |
        grep -E "error|warning: .*lungct|Build|Compiling lungct" || true
    [ -x "$SCRATCH/release/lungct-fuzz" ] || { echo "fuzz.sh: the fuzzing build failed" >&2; exit 1; }
}

# --- seed corpora, made by lungct's own writers ----------------------------------------------
make_seeds() {
    local seeds="$WORK/seeds" tmp="$WORK/seed-sources"
    [ -f "$seeds/.complete" ] && return 0
    echo "== making seed corpora in $seeds"
    swift build --product lungct 2>&1 | grep -E "error" || true
    local lungct
    lungct="$(swift build --show-bin-path)/lungct"
    rm -rf "$seeds" "$tmp"
    mkdir -p "$tmp" "$seeds"/{dicom,nifti,picture,zip,model}
    # DICOM: one slice of a 32×32 phantom per transfer syntax lungct writes, one feet-first.
    for syntax in explicit implicit rle jpeg-lossless jpeg-ls; do
        "$lungct" phantom "$tmp/ct-$syntax" --size 32 --slices 4 --spacing 5 --lesions 1 --syntax "$syntax" >/dev/null
        cp "$tmp/ct-$syntax/dicom/IM00002.dcm" "$seeds/dicom/ct-$syntax.dcm"
    done
    "$lungct" phantom "$tmp/ct-feet" --size 32 --slices 3 --spacing 2 --feet-first --shuffle >/dev/null
    cp "$tmp/ct-feet/dicom/IM00001.dcm" "$seeds/dicom/ct-feet-first.dcm"
    # The archive formats: a JPEG 2000 slice (GDCM's gdcmconv), and a legacy-converted enhanced
    # CT of a 16×16×3 phantom (highdicom, from the test virtualenv), native and JPEG 2000.
    if command -v gdcmconv >/dev/null; then
        gdcmconv --j2k "$tmp/ct-explicit/dicom/IM00002.dcm" "$seeds/dicom/ct-jpeg2000.dcm"
    fi
    local python="${LUNGCT_PYTHON:-.build/test-venv/bin/python}"
    if [ -x "$python" ] && "$python" -c "import highdicom" 2>/dev/null; then
        "$lungct" phantom "$tmp/ct-tiny" --size 16 --slices 3 --spacing 5 >/dev/null
        "$python" - "$tmp/ct-tiny/dicom" "$seeds/dicom/ct-enhanced-legacy.dcm" <<'PYTHON'
import glob, sys
import highdicom, pydicom
from highdicom.legacy import LegacyConvertedEnhancedCTImage
slices = [pydicom.dcmread(path) for path in sorted(glob.glob(sys.argv[1] + "/*.dcm"))]
LegacyConvertedEnhancedCTImage(slices, series_instance_uid=highdicom.UID(), series_number=9,
                               sop_instance_uid=highdicom.UID(), instance_number=1).save_as(sys.argv[2])
PYTHON
        if command -v gdcmconv >/dev/null; then
            gdcmconv --j2k "$seeds/dicom/ct-enhanced-legacy.dcm" "$seeds/dicom/ct-enhanced-jpeg2000.dcm"
        fi
    fi
    # The test suite's DICOM fixtures (DX radiographs with a VOI LUT, odd headers, SR, DICOMDIR).
    if command -v dump2dcm >/dev/null; then
        for dump in Tests/*/Fixtures/*.dump; do
            dump2dcm --write-xfer-same --line 65536 "$dump" "$seeds/dicom/$(basename "$dump" .dump).dcm"
        done
    fi
    # NIfTI: int16 volume plain and gzipped, a uint8 label volume.
    "$lungct" convert "$tmp/ct-explicit/dicom" "$seeds/nifti/ct.nii" >/dev/null
    "$lungct" convert "$tmp/ct-jpeg-ls/dicom" "$seeds/nifti/ct.nii.gz" >/dev/null
    cp "$tmp/ct-explicit/lung_mask_truth.nii.gz" "$seeds/nifti/labels.nii.gz"
    # Models: two untrained ones small enough to mutate; the shipped ones are run whole below.
    "$lungct" model init "$seeds/model/two-class.h5" --size 8 --width 1 >/dev/null
    "$lungct" model init "$seeds/model/three-class.h5" --size 16 --width 2 --classes a,b,c --seed 2 >/dev/null
    # Pictures: a chart lungct drew (libpng), PNGs of every colour type and bit depth, JPEGs.
    cp Weights/ct-covid.curves.png "$seeds/picture/chart.png"
    python3 - "$seeds/picture" "$tmp" <<'PYTHON'
import struct, sys, zlib
out, tmp = sys.argv[1], sys.argv[2]
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
def png(name, width, height, depth, colour, row, extra=b""):
    raw = b"".join(b"\0" + row(y) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    with open(f"{out}/{name}", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
gray = lambda y: bytes((x * 8 + y * 3) % 256 for x in range(32))
phys = chunk(b"pHYs", struct.pack(">IIB", 5000, 5000, 1))  # 0.2 mm pixels
png("gray8-phys.png", 32, 32, 8, 0, gray, phys)
png("gray16.png", 32, 32, 16, 0, lambda y: b"".join(struct.pack(">H", x * 2000 + y * 7) for x in range(32)))
png("palette.png", 16, 16, 8, 3, lambda y: bytes((x + y) % 4 for x in range(16)),
    chunk(b"PLTE", bytes([0, 0, 0, 90, 90, 90, 180, 180, 180, 255, 255, 255])))
png("rgba.png", 16, 16, 8, 6, lambda y: bytes(v for x in range(16) for v in (x * 16, y * 16, 128, 255 - x)))
png("gray-alpha.png", 16, 16, 8, 4, lambda y: bytes(v for x in range(16) for v in (x * 16, 200)))
with open(f"{tmp}/gray.pgm", "wb") as f:
    f.write(b"P5 32 32 255\n" + b"".join(gray(y) for y in range(32)))
with open(f"{tmp}/colour.ppm", "wb") as f:
    f.write(b"P6 24 24 255\n" + bytes(v for y in range(24) for x in range(24) for v in (x * 10, y * 10, 100)))
PYTHON
    if command -v cjpeg >/dev/null; then
        cjpeg -quality 90 -outfile "$seeds/picture/gray.jpg" "$tmp/gray.pgm"
        cjpeg -progressive -outfile "$seeds/picture/colour-progressive.jpg" "$tmp/colour.ppm"
        cjpeg -restart 1 -arithmetic -outfile "$seeds/picture/gray-restart-arithmetic.jpg" "$tmp/gray.pgm"
        # JFIF density 50 dots per cm (0.2 mm pixels): APP0 units byte 13, densities 14-17.
        python3 -c "import sys; d = bytearray(open(sys.argv[1], 'rb').read()); d[13:18] = bytes([2, 0, 50, 0, 50]); open(sys.argv[2], 'wb').write(d)" \
            "$seeds/picture/gray.jpg" "$seeds/picture/gray-density.jpg"
    fi
    # Zips of a 16×16 phantom series: deflated, stored, nested, and one with members batch refuses.
    "$lungct" phantom "$tmp/small" --size 16 --slices 3 --spacing 5 --lesions 1 --syntax rle >/dev/null
    python3 - "$seeds/zip" "$tmp/small/dicom" "$seeds/nifti/labels.nii.gz" <<'PYTHON'
import io, os, sys, zipfile
out, series, nifti = sys.argv[1], sys.argv[2], sys.argv[3]
slices = sorted(os.listdir(series))
def archive(compression, extra=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name in slices:
            z.write(os.path.join(series, name), "study/series/" + name)
        for name, data in extra:
            z.writestr(name, data)
    return buffer.getvalue()
series_zip = archive(zipfile.ZIP_DEFLATED)
open(f"{out}/series.zip", "wb").write(series_zip)
open(f"{out}/series-stored.zip", "wb").write(archive(zipfile.ZIP_STORED, [("labels.nii.gz", open(nifti, "rb").read())]))
open(f"{out}/nested.zip", "wb").write(archive(zipfile.ZIP_DEFLATED, [("inner/series.zip", series_zip)]))
link = zipfile.ZipInfo("study/link.dcm")
link.external_attr = 0o120777 << 16
hostile = [("../escape.dcm", b"DICM"), ("/absolute.dcm", b"DICM"), (link, "study/series/" + slices[0]), ("empty/", b"")]
open(f"{out}/refused-members.zip", "wb").write(archive(zipfile.ZIP_DEFLATED, hostile))
PYTHON
    touch "$seeds/.complete"
}

# --- running one target ------------------------------------------------------------------------
# LeakSanitizer suppressions for known leaks outside lungct, each bounded per call:
# - on Linux, FileManager.fileSystemRepresentation(withPath:) returns memory the caller must
#   free, and ZIPFoundation 0.9.20 never frees it (Archive+BackingConfiguration.swift:48 on
#   every zip opened, Archive+Reading.swift:39 on every member extracted): a path's length
#   per call. lungct's own code does not call it.
# - swift-foundation's FileManager.contents(atPath:) (readBytesFromFile) loses its 4 KB read
#   buffer when the file is empty.
# - HDF5 1.10.8 loses metadata it was decoding when a damaged file fails to open (56 bytes
#   from H5O_protect under H5Fopen, as in HDF5 issue 3790, fixed upstream in 2024). An HDF5
#   handle lungct forgot to close would not show here (HDF5's id tables still point at it)
#   but as growth of the process, which -rss_limit_mb bounds.
write_suppressions() {
    cat >"$WORK/lsan.supp" <<'EOF'
leak:fileSystemRepresentation8withPath
leak:readBytesFromFile4path
leak:libhdf5_serial.so
EOF
}

# Memory: a process over 2.5 GB resident, or one allocation over 1 GB, is a finding. No input
# is over 32 KB, and the most lungct allocates for one by design is a 10000² radiograph's
# decoded pixels (800 MB); an allocation is caught with its stack, before it grows the process,
# where a process grown too large may be charged to a later input. A C library asking for more
# than the machine has gets NULL, as from glibc, and must cope with it
# (allocator_may_return_null=1); Swift traps on it, which is then a finding too. Swift's own
# crash reporter is off: the sanitizers report, and it would outlive the process.
fuzz_environment() {
    local shm="${TMPDIR:-/tmp}"
    [ -d /dev/shm ] && [ -w /dev/shm ] && shm=/dev/shm
    # The private folder each input is written to lives in TMPDIR: /dev/shm spares the disk.
    # One folder for the whole run, removed at its end: a process that crashes leaves its own.
    FUZZ_TMP=$(mktemp -d "$shm/lungct-fuzz.XXXXXX")
    trap 'rm -rf "$FUZZ_TMP"' EXIT
    export TMPDIR="$FUZZ_TMP" SWIFT_BACKTRACE=enable=no
    export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export LSAN_OPTIONS="suppressions=$PWD/$WORK/lsan.supp:print_suppressions=0"
}
SANITIZER_LIMITS=(-rss_limit_mb=2560 -malloc_limit_mb=1024 -timeout=20)

# libFuzzer checks for leaks after each input whose mallocs and frees do not match. Every
# zip leaks through ZIPFoundation (suppressed, but each check still scans the heap: about 50
# instead of 650 executions a second), so the zip target is checked once, at exit, over
# everything it ran; the others after each input.
leak_option() {
    case "$1" in
        zip) echo -detect_leaks=0 ;;
        *) echo -detect_leaks=1 ;;
    esac
}

# A library whose own faults on damaged input are known and not lungct's to fix: Debian 12's
# HDF5 1.10.8 crashes on some damaged files (README, "Fuzzing"). The model target runs in
# libFuzzer's fork mode, which goes on after a crash, and scripts/fuzz-triage.py sorts what it
# kept: an input whose fault lies wholly inside HDF5 is listed as third-party; anything else
# (lungct's code, a Swift trap, a buffer lungct handed HDF5) fails the run as before. An input
# that fails neither under ASan nor in the normal build when run alone (it failed on what the
# thousands of inputs before it in the same process left behind) is listed, not failed, for
# this target only.
known_library() {
    case "$1" in
        model) echo libhdf5 ;;
    esac
}

# The figures of a run from its log: executions, executions per second, cov, ft.
run_figures() {
    local log="$1" line
    line=$({ grep -E '^#[0-9]+: cov: ' "$log" || true; } | tail -1)
    if [ -n "$line" ]; then # fork mode: "#N: cov: C ft: F corp: K exec/s: R ... time: Ts"
        local execs time
        execs=$(echo "$line" | sed -E 's/^#([0-9]+):.*/\1/')
        time=$(echo "$line" | sed -E 's/.* time: ([0-9]+)s.*/\1/')
        echo "$execs $((execs / (time > 0 ? time : 1))) $(echo "$line" | sed -E 's/.* cov: ([0-9]+) ft: ([0-9]+) .*/\1 \2/')"
        return
    fi
    local execs rate cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$({ grep -oE 'cov: [0-9]+' "$log" || true; } | tail -1 | cut -d' ' -f2)
    ft=$({ grep -oE 'ft: [0-9]+' "$log" || true; } | tail -1 | cut -d' ' -f2)
    echo "${execs:-?} ${rate:-?} ${cov:-?} ${ft:-?}"
}

run_target() {
    local target="$1" binary="$SCRATCH/release/lungct-fuzz"
    local corpus="$WORK/corpus/$target" artifacts="$WORK/artifacts/$target" log="$WORK/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$WORK/logs"
    local limit=(-max_total_time="$seconds")
    [ -n "$runs" ] && limit=(-runs="$runs")
    local library mode=()
    library=$(known_library "$target")
    [ -n "$library" ] && mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    local stamp="$WORK/logs/$target.started" start=$SECONDS status=0
    touch "$stamp"
    LUNGCT_FUZZ_TARGET="$target" "$binary" "$corpus" "$WORK/seeds/$target" "${limit[@]}" "${mode[@]}" \
        -max_len="$(max_len "$target")" "$(leak_option "$target")" "${SANITIZER_LIMITS[@]}" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    local elapsed=$((SECONDS - start)) figures kept finding="none"
    figures=$(run_figures "$log")
    # Inputs slower than 10 s (libFuzzer's slow-unit-*) are kept to look at, not findings.
    kept=$(find "$artifacts" -type f -newer "$stamp" ! -name 'slow-unit-*' | sort)
    if [ -n "$kept" ]; then
        # shellcheck disable=SC2086 # one path per line, none with spaces
        python3 scripts/fuzz-triage.py --binary "$binary" --plain-binary "$PLAIN_BINARY" --target "$target" \
            ${library:+--library "$library"} $kept >"$WORK/logs/$target.triage" || status=1
        local known unreproduced triage="$WORK/logs/$target.triage"
        known=$(grep -c '^third-party' "$triage" || true)
        unreproduced=$(grep -c '^unreproduced' "$triage" || true)
        if grep -q '^lungct' "$triage" || { [ -z "$library" ] && [ "$unreproduced" -gt 0 ]; }; then
            finding="$(grep -m1 -E '^(lungct|unreproduced)' "$triage" | cut -f2,4 | tr '\t' ' '); all in $triage"
        else
            finding="none in lungct; $known in $library (known), $unreproduced not failing alone; see $triage"
            status=0
        fi
    elif [ "$status" -ne 0 ]; then
        finding="$(grep -m1 -oE 'ERROR: [A-Za-z]+: [^ ]+( [^ ]+)?' "$log" || echo "exit $status"); log $log"
    fi
    # shellcheck disable=SC2086 # figures is four words
    printf '%-8s %10s %8s %6s %6s %7s %6ss  %s\n' "$target" $figures "$(find "$corpus" -type f | wc -l)" \
        "$elapsed" "$finding" >"$WORK/logs/$target.result"
    return "$status"
}

# The shipped models are longer than the model target's -max_len, which would truncate
# them: each runs whole, once, under the same sanitizers.
run_whole_models() {
    echo "== shipped models, whole, once each under ASan"
    mkdir -p "$WORK/artifacts/shipped"
    LUNGCT_FUZZ_TARGET=model "$SCRATCH/release/lungct-fuzz" "${SANITIZER_LIMITS[@]}" \
        -artifact_prefix="$WORK/artifacts/shipped/" Weights/*.h5 >"$WORK/logs/shipped-models.log" 2>&1 || {
        echo "fuzz.sh: a shipped model failed under ASan; see $WORK/logs/shipped-models.log" >&2
        return 1
    }
}

if [ "$fresh" = 1 ]; then rm -rf "$WORK"; fi
mkdir -p "$WORK/logs"
build_fuzzer
make_seeds
write_suppressions
fuzz_environment
failed=0
run_whole_models || failed=1

limit_text="${seconds} s each"
[ -n "$runs" ] && limit_text="$runs runs each"
echo "== fuzzing ${targets[*]} ($limit_text, $parallel at a time; logs in $WORK/logs)"
for target in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
    run_target "$target" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || true; done

printf '%-8s %10s %8s %6s %6s %7s %7s  %s\n' target execs exec/s cov ft corpus time findings
for target in "${targets[@]}"; do
    cat "$WORK/logs/$target.result"
    grep -qE '  none( in lungct.*)?$' "$WORK/logs/$target.result" || failed=1
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: findings above; replay an input with .build/debug/lungct-fuzz TARGET FILE" >&2
    exit 1
fi
