#!/usr/bin/env python3
"""Checks the shape ARCHITECTURE.md promises: no Swift file in Sources over 400 lines, no
function, initializer or closure-free body over 80 lines, and a layered target graph in
Package.swift (each target depends only on targets of a lower layer, as listed in LAYERS).
Exits 1 and names each offender; prints nothing else when all is well."""
import re
import sys
from pathlib import Path

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80

# The layers, lowest first (ARCHITECTURE.md draws the same graph).
LAYERS = [
    ["CDCMTK", "CDICOMObjects", "CDICOMNetwork", "CNIfTI", "CHDF5", "COpenBLAS", "CImageCodecs", "CConvKernels"],
    ["VolumeCore", "SeededRandom", "AppSupport"],
    ["DICOMSeries", "DICOMObjects", "DICOMNetwork", "NIfTIIO", "HDF5Store", "ImageCodecs", "NeuralEngine", "ModelEvaluation", "LungSegmentation"],
    ["Radiograph", "Overview", "Phantom", "LesionSynthesis", "ModelStore"],
    ["StudyInput", "ModelRuntime"],
    ["StudyAnalysis", "Training"],
    ["BatchScoring", "DICOMListener"],
    ["lungct", "lungct-fuzz"],
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}
FUNCTION = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|internal|private|fileprivate|static|final|override|mutating|nonisolated|@inlinable|@discardableResult)\s+)*(?:func\s+\S+|init[?!]?\s*[(<]|deinit\b|(?:var|subscript)\b[^=]*\{\s*$)")


def function_lengths(path):
    """(name line, length) of each function body, by brace counting from its first line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    result = []
    for start, line in enumerate(lines):
        if not FUNCTION.match(line):
            continue
        depth, opened = 0, False
        for end in range(start, len(lines)):
            text = re.sub(r'"(?:\\.|[^"\\])*"', '""', lines[end].split("//")[0])
            depth += text.count("{") - text.count("}")
            opened = opened or "{" in text
            if opened and depth <= 0:
                result.append((start + 1, end - start + 1, line.strip()))
                break
    return result


# Modules that come with the toolchain: importing them needs no declared dependency.
TOOLCHAIN = {"Foundation", "FoundationNetworking", "Dispatch", "Glibc", "Testing", "XCTest", "FoundationEssentials"}
# Products of package dependencies, by the module name they are imported as.
PRODUCTS = {"Crypto", "ZIPFoundation", "ArgumentParser"}


def declared(package):
    """Each target's declared dependencies (targets and products), by target name."""
    text = package.read_text(encoding="utf-8")
    result = {}
    for match in re.finditer(r'\.(?:executableTarget|testTarget|target)\(\s*name:\s*"([\w-]+)"', text):
        name = match.group(1)
        rest = text[match.end():]
        end = re.search(r'\n        \.(?:executableTarget|testTarget|target|systemLibrary)\(|\n    \]', rest)
        body = rest[: end.start() if end else len(rest)]
        listed = re.search(r"dependencies:\s*\[(.*?)\]\s*[,)]", body, re.S)
        deps = set(re.findall(r'"(\w+)"', listed.group(1))) if listed else set()
        deps |= set(re.findall(r'\.product\(name:\s*"(\w+)"', body))
        result[name] = deps
    return result


def imports(folder):
    names = set()
    for path in folder.rglob("*.swift"):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^(?:@testable\s+|internal\s+|public\s+|@_exported\s+)*import\s+(\w+)", line)
            if match:
                names.add(match.group(1))
    return names


def import_problems(root):
    problems = []
    for target, deps in sorted(declared(root / "Package.swift").items()):
        folder = next((f for f in (root / "Sources" / target, root / "Tests" / target) if f.is_dir()), None)
        if folder is None:
            continue
        used = imports(folder) - TOOLCHAIN
        for name in sorted(used - deps):
            problems.append(f"Package.swift: {target} imports {name} without declaring it")
        # A test target may depend on the executable only to have it built for the tests to run.
        for name in sorted(deps - used - {"TestSupport", "lungct"}):
            problems.append(f"Package.swift: {target} declares {name} and never imports it")
    return problems


def main():
    root = Path(__file__).resolve().parent.parent
    problems = []
    for path in sorted((root / "Sources").rglob("*.swift")):
        relative = path.relative_to(root)
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_FILE_LINES:
            problems.append(f"{relative}: {count} lines (at most {MAX_FILE_LINES})")
        for line, length, text in function_lengths(path):
            if length > MAX_FUNCTION_LINES:
                problems.append(f"{relative}:{line}: {length} lines (at most {MAX_FUNCTION_LINES}): {text[:80]}")
    for target, dependencies in sorted(declared(root / "Package.swift").items()):
        if target not in LEVEL:
            continue  # tests and their support library sit above every layer
        for dependency in sorted(dependencies - PRODUCTS):
            if dependency not in LEVEL:
                problems.append(f"Package.swift: {target} -> {dependency}: {dependency} is in no layer")
            elif LEVEL[dependency] >= LEVEL[target]:
                problems.append(
                    f"Package.swift: {target} (layer {LEVEL[target]}) -> {dependency} (layer {LEVEL[dependency]}): "
                    "not a lower layer")
    problems += import_problems(root)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
