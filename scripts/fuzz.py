#!/usr/bin/env python3
"""Mutation fuzzing of lungct's readers: "never crash on a file from the wild", checked.

Seeds are small DICOM series that `lungct phantom` writes in every transfer syntax it
writes (explicit, implicit, RLE, JPEG lossless, JPEG-LS), the test suite's DICOM radiograph
fixtures with a VOI LUT (Tests/RadiographTests/Fixtures, built with DCMTK's dump2dcm when it is
installed), plus any files given with --seed (for example a slice of
../shared/data/ct/popi-00, a JPEG radiograph, a PNG slice image).

  files mode (default): each mutated file goes through `lungct info --stats` and
      `lungct analyze --no-model`; a signal, an exit code above 7 or a time-out is a crash.
  batch mode (--batch): archives of phantom series with mutated slices, zip files (half of
      them mutated) and mutated seed files go through `lungct batch --jobs 2 --no-model`;
      the run must end with 0, 2 or 6 and one summary row per case id.

Mutations: bit flips anywhere, random bytes in the first 1500 bytes (the header), truncation,
insertion and deletion of bytes, and 16/32-bit length-like fields set to extreme values.
Crashing inputs are kept in the work folder. Uses only Python's standard library.

  scripts/fuzz.py --count 1000 --random-seed 21 --seed ../shared/data/ct/popi-00/00-slice000.dcm \
      --seed ../shared/data/cxr/covid/020.jpg \
      --seed ../shared/data/ct-slices/covid/2020.01.24.919183-p27-132.png
  scripts/fuzz.py --batch --count 6 --seed ../shared/data/cxr/covid/020.jpg
"""
import argparse
import collections
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile

SYNTAXES = ["explicit", "implicit", "rle", "jpeg-lossless", "jpeg-ls"]
HIGHEST_DOCUMENTED_EXIT = 7  # README "Exit codes"; 130 only after a signal we do not send


def mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    if not data:
        return bytes(data)
    kind = rng.choice(["flip", "header", "truncate", "insert", "delete", "len32", "len16"])
    if kind == "flip":
        for _ in range(rng.randint(1, 20)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == "header":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(min(len(data), 1500))] = rng.randrange(256)
    elif kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "insert":
        i = rng.randrange(len(data))
        data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == "delete":
        i = rng.randrange(len(data))
        del data[i : i + rng.randint(1, 64)]
    else:
        width = 4 if kind == "len32" else 2
        i = rng.randrange(min(len(data), 2000))
        value = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0, 1, 0xFFFF, 0xFFFE])
        data[i : i + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return bytes(data)


def run(command, timeout):
    try:
        return subprocess.run(command, capture_output=True, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return "time-out"


def crashed(code) -> bool:
    return code == "time-out" or code < 0 or code > HIGHEST_DOCUMENTED_EXIT


def fuzz_files(lungct, seeds, work, count, rng, timeout):
    crashes = []
    codes = collections.Counter()
    for n in range(count):
        seed = rng.choice(seeds)
        case = os.path.join(work, f"case{n}")
        os.makedirs(case)
        target = os.path.join(case, "input" + os.path.splitext(seed)[1])
        with open(seed, "rb") as source:
            mutated = mutate(source.read(), rng)
        with open(target, "wb") as out:
            out.write(mutated)
        for command in ([lungct, "info", "--stats", target],
                        [lungct, "analyze", target, "-o", os.path.join(case, "out"), "--no-model"]):
            code = run(command, timeout)
            codes[f"{command[1]} {code}"] += 1
            if crashed(code):
                crashes.append((n, os.path.basename(seed), command[1], code))
        if not any(c[0] == n for c in crashes):
            shutil.rmtree(case)
    print(f"{count} mutated files: {len(crashes)} crash(es); exit codes: "
          + ", ".join(f"{key}: {n}" for key, n in sorted(codes.items())))
    for n, seed, command, code in crashes:
        print(f"  case{n} (from {seed}): lungct {command} -> {code}")
    return not crashes


def fuzz_batch(lungct, series, extra, work, count, rng, timeout):
    ok = True
    for k in range(count):
        archive = os.path.join(work, f"archive{k}")
        out = os.path.join(work, f"out{k}")
        for s in range(12):
            folder = os.path.join(archive, f"s{s}")
            shutil.copytree(rng.choice(series), folder)
            for name in rng.sample(sorted(os.listdir(folder)), rng.randint(1, 2)):
                path = os.path.join(folder, name)
                with open(path, "rb") as source:
                    mutated = mutate(source.read(), rng)
                with open(path, "wb") as target:
                    target.write(mutated)
        for z in range(4):
            source_folder = rng.choice(series)
            path = os.path.join(archive, f"z{z}.zip")
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for name in sorted(os.listdir(source_folder)):
                    zf.write(os.path.join(source_folder, name), f"series/{name}")
            if z % 2:
                with open(path, "rb") as source:
                    mutated = mutate(source.read(), rng)
                with open(path, "wb") as target:
                    target.write(mutated)
        for e, seed in enumerate(extra):
            with open(seed, "rb") as source:
                mutated = mutate(source.read(), rng)
            with open(os.path.join(archive, f"x{e}{os.path.splitext(seed)[1]}"), "wb") as target:
                target.write(mutated)
        code = run([lungct, "batch", archive, "-o", out, "--jobs", "2", "--no-model"], timeout)
        summary = os.path.join(out, "summary.csv")
        rows = list(csv.DictReader(open(summary))) if os.path.exists(summary) else []
        unique = len({row["case_id"] for row in rows}) == len(rows)
        good = code in (0, 2, 6) and rows and unique
        ok = ok and good
        statuses = sorted({row["status"] for row in rows})
        print(f"archive{k}: exit {code}, {len(rows)} rows, statuses {statuses}, case ids unique: {unique}"
              + ("" if good else "  <- FAILED"))
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lungct", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "lungct"))
    parser.add_argument("--count", type=int, default=200, help="mutated files (or archives with --batch)")
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument("--seed", action="append", default=[], help="another file to mutate (repeatable)")
    parser.add_argument("--batch", action="store_true", help="fuzz lungct batch with whole archives")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per lungct run")
    parser.add_argument("--work", help="work folder (default: a new temporary folder, kept when something crashed)")
    args = parser.parse_args()
    lungct = os.path.abspath(args.lungct)
    if not os.access(lungct, os.X_OK):
        sys.exit(f"{lungct}: no lungct binary (swift build -c release, or --lungct)")
    rng = random.Random(args.random_seed)
    work = args.work or tempfile.mkdtemp(prefix="lungct-fuzz-")
    os.makedirs(work, exist_ok=True)
    series = []
    for syntax in SYNTAXES:
        folder = os.path.join(work, "seeds", syntax)
        subprocess.run([lungct, "phantom", folder, "--size", "32", "--slices", "4", "--syntax", syntax, "--seed", "2"],
                       check=True, capture_output=True)
        series.append(os.path.join(folder, "dicom"))
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "RadiographTests", "Fixtures")
    dump2dcm = shutil.which("dump2dcm")
    for dump in sorted(os.listdir(fixtures)) if dump2dcm and os.path.isdir(fixtures) else []:
        target = os.path.join(work, "seeds", dump.replace(".dump", ".dcm"))
        subprocess.run([dump2dcm, "--write-xfer-same", "--line", "65536", os.path.join(fixtures, dump), target],
                       check=True, capture_output=True)
        args.seed.append(target)
    if args.batch:
        ok = fuzz_batch(lungct, series, args.seed, work, args.count, rng, max(args.timeout, 600))
    else:
        seeds = [os.path.join(folder, "IM00001.dcm") for folder in series] + args.seed
        ok = fuzz_files(lungct, seeds, work, args.count, rng, args.timeout)
    if ok and not args.work:
        shutil.rmtree(work)
    elif not ok:
        print(f"inputs kept in {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
