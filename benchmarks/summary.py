"""One table of every figure benchmarks/load.sh and benchmarks/onnx.sh measured, with its
ratio against the peer of the same run or against its target (issue 14's targets), printed
and written to WORK/bench.json. Usage: summary.py WORK"""

import json
import sys

ANALYZE_SECONDS = 5.0  # analyze on a 512×512×300 CT, every output and shipped model
ANALYZE_MIB = 1024.0
LOAD_RATIO = 0.6  # lungct's load / dcm2niix's conversion
ENGINE_RATIO = 1.0  # lungct's forward pass / ONNX Runtime's
ENGINE_DIFF = 1e-4  # largest logit difference


def main(work):
    load = json.load(open(f"{work}/load.json"))
    onnx = json.load(open(f"{work}/onnx/onnx.json"))
    rows = {(r["input"], r["contender"]): r for r in load["rows"]}
    figures = []

    def add(figure, value, unit, against, against_label, target, met, ratio=None):
        if ratio is None:
            ratio = None if value is None or not against else value / against
        figures.append({"figure": figure, "value": value, "unit": unit, "against": against,
                        "againstIs": against_label, "ratio": ratio, "target": target,
                        "met": None if value is None else met(value, ratio)})

    for input_ in sorted({r["input"] for r in load["rows"]}):
        analyze = rows.get((input_, "lungct analyze (all outputs)"))
        if analyze:
            add(f"analyze {input_} (all outputs), s", analyze["seconds"], "s", ANALYZE_SECONDS,
                "target s", f"<= {ANALYZE_SECONDS} s and <= {ANALYZE_MIB:.0f} MiB",
                lambda v, r, a=analyze: v <= ANALYZE_SECONDS and (a["peakMiB"] or 1e9) <= ANALYZE_MIB)
            add(f"analyze {input_} peak memory, MiB", analyze["peakMiB"], "MiB", ANALYZE_MIB, "target MiB",
                f"<= {ANALYZE_MIB:.0f} MiB", lambda v, r: v <= ANALYZE_MIB)
        info = rows.get((input_, "lungct info --stats"))
        dcm2niix = rows.get((input_, "dcm2niix -> .nii"))
        if info and dcm2niix and info["seconds"] is not None:
            add(f"load {input_} (lungct info --stats), s", info["seconds"], "s", dcm2niix["seconds"],
                "dcm2niix -> .nii", f"ratio <= {LOAD_RATIO}", lambda v, r: r is not None and r <= LOAD_RATIO)
            convert = rows.get((input_, "lungct convert -> .nii"))
            if convert:
                add(f"convert {input_} (lungct convert -> .nii), s", convert["seconds"], "s", dcm2niix["seconds"],
                    "dcm2niix -> .nii", "ratio < 1", lambda v, r: r is not None and r < 1)
            for peer in ("SimpleITK (in-process load)", "pydicom+numpy (in-process load)"):
                if (input_, peer) in rows:
                    add(f"load {input_}, s", info["seconds"], "s", rows[(input_, peer)]["seconds"], peer,
                        "ratio < 1", lambda v, r: r is not None and r < 1)
    for row in onnx["rows"]:
        # Older onnx.json files name one model for all rows; newer ones name it per row.
        add(f"CNN forward, batch {row['batch']} ({row.get('model', onnx.get('model'))}), s", row["lungctSeconds"], "s",
            row["ortSeconds"], f"ONNX Runtime {onnx['ortVersion']}",
            f"ratio <= {ENGINE_RATIO}, max |diff| <= {ENGINE_DIFF}",
            lambda v, r, d=row["maxAbsDiff"]: r is not None and r <= ENGINE_RATIO and d is not None and d <= ENGINE_DIFF,
            # onnx.sh's paired rounds give the median of the rounds' ratios.
            ratio=row.get("ratio"))

    print(f"\n{'figure':<72} {'lungct':>9} {'against':>9} {'ratio':>6}  {'against is':<26} {'target':<34} verdict")
    print("-" * 170)
    for f in figures:
        value = "FAIL" if f["value"] is None else f"{f['value']:.4g}"
        against = "-" if not f["against"] else f"{f['against']:.4g}"
        ratio = "-" if f["ratio"] is None else f"{f['ratio']:.2f}"
        verdict = {True: "met", False: "MISSED", None: "no verdict"}[f["met"]]
        print(f"{f['figure']:<72} {value:>9} {against:>9} {ratio:>6}  {f['againstIs']:<26} {f['target']:<34} {verdict}")
    print("\nanalyze stage times, median over the runs with the shipped models (report.json timingsSeconds), s:")
    stages = load.get("analyzeStageSeconds", {})
    names = sorted({name for input_ in stages.values() for name in input_})
    inputs = sorted(stages)
    print(f"  {'stage':<34}" + "".join(f" {i:>28}" for i in inputs))
    for name in names:
        print(f"  {name:<34}" + "".join(f" {stages[i].get(name, float('nan')):>28.3f}" for i in inputs))
    json.dump({"figures": figures, "analyzeStageSeconds": stages, "load": load, "onnx": onnx},
              open(f"{work}/bench.json", "w"), indent=1)
    print(f"\nwritten: {work}/bench.json")


if __name__ == "__main__":
    main(sys.argv[1])
