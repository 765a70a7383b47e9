#!/usr/bin/env python3
"""Sorts the inputs a libFuzzer run of lungct-fuzz kept (crash-, leak-, timeout-, oom-...) by
where the fault lies, for scripts/fuzz.sh: each input is run again, alone, under the same
sanitizers, and its report read.

An input counts against a third-party library (a known defect, reported but not failing the
run) only when its report is about that library alone: the first frame that is not the
sanitizer, libFuzzer or libc runtime lies in a library named with --library, and so does the
first such frame of the stack that allocated (or freed) the memory involved. A buffer lungct
allocated and a library overran, a Swift trap, a leak lungct made, a report without a stack:
all count against lungct.

  scripts/fuzz-triage.py --binary .build/fuzz/release/lungct-fuzz --target model \\
      --library libhdf5 .build/fuzz-work/artifacts/model/crash-*

An input the sanitized replay runs through is run once more by the normal build, whose crash
report names the crashed frame; one that fails neither way alone is "unreproduced" (in libFuzzer's
fork mode an input runs after thousands of others in one process, and can fail on what they left).

Prints one line per input: "lungct|third-party|unreproduced<TAB>kind<TAB>where<TAB>input". Exits 1
when any input counts against lungct."""
import argparse
import os
import re
import subprocess
import sys

# Frames that say nothing about the fault: the sanitizer and libFuzzer runtimes, libc, and
# FuzzMain.swift, where libFuzzer's own allocations are made from (the harness's are deeper).
RUNTIME = (
    "compiler-rt", "libc.so", "csu/", "nptl/", "stdlib/", "signal/", "sysdeps/", "libstdc++", "libgcc",
    "lungct-fuzz/FuzzMain.swift",
)
FRAME = re.compile(r"^\s+#\d+ 0x[0-9a-f]+\s+(?:in (\S+)\s*)?(.*)$")
KIND = re.compile(r"ERROR: (?:AddressSanitizer|LeakSanitizer|libFuzzer): ([\w-]+(?: \w+)?)")


def stacks(report):
    """The report's stacks in order, each with the line above it: the fault's, then those of
    "allocated by", "freed by" (or, after a process grew too large, the largest live
    allocations, each headed "N byte(s) (P%) in K allocation(s)")."""
    result, current, above = [], None, ""
    for line in report.splitlines():
        match = FRAME.match(line)
        if match:
            if current is None:
                current = []
                result.append((above, current))
            current.append((match.group(1) or "", match.group(2)))
        elif line.strip():
            current, above = None, line
    return result


def share(header):
    """The percentage of live memory a stack of an out-of-memory report holds, else 0."""
    match = re.search(r"\((\d+)%\)", header)
    return int(match.group(1)) if match else 0


def first_own_frame(stack):
    """The first frame outside the sanitizer, libFuzzer and C runtimes: (function, location)."""
    for function, location in stack:
        if not any(part in location for part in RUNTIME) and not function.startswith("__sanitizer"):
            return function, location
    return None


def verdict(report, libraries):
    kind = (KIND.search(report) or [None, "no sanitizer report"])[1]
    found_stacks = stacks(report)
    if "out-of-memory (used" in report:
        # Too large a process: whoever holds most of the memory, if the heap holds most of it
        # (else what grew was freed before the report, and no stack says whose it was).
        used = re.search(r"used: (\d+)Mb", report)
        live = re.search(r"Live Heap Allocations: (\d+) bytes", report)
        if not used or not live or int(live.group(1)) < int(used.group(1)) << 19:
            return "lungct", kind, "memory not held by a live allocation: no stack to blame"
        found_stacks = sorted(found_stacks, key=lambda item: share(item[0]), reverse=True)[:1]
    found = [first_own_frame(stack) for _, stack in found_stacks]
    found = [frame for frame in found if frame]
    if not found:
        return "lungct", kind, "no stack"
    where = found[0][0] or found[0][1]
    third = all(any(library in location for library in libraries) for _, location in found)
    return ("third-party" if third and libraries else "lungct"), kind, where


def plain_verdict(binary, target, path, libraries):
    """For an input the sanitized replay ran through: the verdict of a replay by the normal
    build (`lungct-fuzz TARGET FILE`), whose different heap layout can turn a wild read into a
    crash. Swift's crash reporter names the crashed thread's first frame; nil when it ran
    through as well."""
    environment = dict(os.environ, SWIFT_BACKTRACE="enable=yes,interactive=no,color=no")
    try:
        run = subprocess.run([binary, target, path], env=environment, capture_output=True, text=True,
                             errors="replace", timeout=300)
    except subprocess.TimeoutExpired:
        return "lungct", "hang beyond 300 s without sanitizers", "-"
    if run.returncode == 0:
        return None
    report = run.stdout + run.stderr
    if "Fatal error" in report:
        return "lungct", "Swift trap without sanitizers", report.split("Fatal error", 1)[1].split("\n")[0][:80]
    crashed = re.search(r"crashed:\s*\n\s*\n?\s*0\s+(.*)", report)
    where = crashed.group(1).strip() if crashed else "no backtrace"
    third = crashed and libraries and any(library in where for library in libraries)
    return ("third-party" if third else "lungct"), "crash without sanitizers", where


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the fuzzing build of lungct-fuzz")
    parser.add_argument("--plain-binary", help="the normal build of lungct-fuzz, for inputs ASan runs through")
    parser.add_argument("--target", required=True)
    parser.add_argument("--library", action="append", default=[], help="a library whose own faults are known")
    parser.add_argument("inputs", nargs="*")
    args = parser.parse_args()
    environment = dict(os.environ, LUNGCT_FUZZ_TARGET=args.target, SWIFT_BACKTRACE="enable=no")
    against_lungct = False
    for path in args.inputs:
        command = [args.binary, "-timeout=20", "-rss_limit_mb=2560", "-malloc_limit_mb=1024", path]
        try:
            run = subprocess.run(command, env=environment, capture_output=True, text=True, errors="replace", timeout=300)
            if run.returncode != 0:
                side, kind, where = verdict(run.stdout + run.stderr, args.library)
            else:
                found = args.plain_binary and plain_verdict(args.plain_binary, args.target, path, args.library)
                # Run after thousands of others in one process, an input can fail on what they
                # left behind (memory, a library's global state) and on its own run through.
                side, kind, where = found or ("unreproduced", "did not fail when run alone", "-")
        except subprocess.TimeoutExpired:
            side, kind, where = "lungct", "hang beyond 300 s", "-"
        against_lungct |= side == "lungct"
        print(f"{side}\t{kind}\t{where[:90]}\t{path}")
    return 1 if against_lungct else 0


if __name__ == "__main__":
    sys.exit(main())
