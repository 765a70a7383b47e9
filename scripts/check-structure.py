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
    ["CDCMTK", "CNIfTI", "CHDF5", "COpenBLAS", "CImageCodecs"],
    ["VolumeCore", "SeededRandom", "AppSupport"],
    ["DICOMSeries", "NIfTIIO", "HDF5Store", "ImageCodecs", "NeuralEngine", "ModelEvaluation", "LungSegmentation"],
    ["Radiograph", "Overview", "Phantom", "ModelStore"],
    ["StudyInput", "ModelRuntime"],
    ["StudyAnalysis", "Training"],
    ["BatchScoring"],
    ["lungct"],
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


def package_edges(package):
    text = package.read_text(encoding="utf-8")
    edges = []
    for match in re.finditer(r'\.(?:executableTarget|target)\(\s*name:\s*"(\w+)"(.*?)\)\s*,\s*(?=\.|//|\])', text, re.S):
        name, rest = match.group(1), match.group(2)
        deps = re.search(r"dependencies:\s*\[(.*?)\]", rest, re.S)
        for dep in re.findall(r'^\s*"(\w+)"|[\[,]\s*"(\w+)"', deps.group(1), re.M) if deps else []:
            edges.append((name, next(d for d in dep if d)))
    return edges


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
    for target, dependency in package_edges(root / "Package.swift"):
        if target not in LEVEL or dependency not in LEVEL:
            if target in LEVEL or dependency in LEVEL and target not in ("TestSupport",):
                if target in LEVEL:
                    problems.append(f"Package.swift: {target} -> {dependency}: {dependency} is in no layer")
            continue
        if LEVEL[dependency] >= LEVEL[target]:
            problems.append(
                f"Package.swift: {target} (layer {LEVEL[target]}) -> {dependency} (layer {LEVEL[dependency]}): not a lower layer")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
