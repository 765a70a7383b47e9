"""ONNX Runtime peer for benchmarks/onnx.sh.

Rebuilds a lungct model file (HDF5: the `architecture` JSON attribute and the float32
datasets under /parameters/<NNN>_<kind>/<name>, Sources/ModelStore/ModelFile.swift) as an
ONNX graph with the onnx helper API, and times ONNX Runtime on raw float32 N×C×H×W input,
as `lungct model run` does. Two sub-commands:

  onnx_peer.py prepare MODEL.h5 OUT_DIR SEED BATCH...
      writes OUT_DIR/model.onnx (checked with onnx.checker) and OUT_DIR/input-b<N>.f32
      (seeded uniform [0, 1) values, the range of a windowed CT slice) for each batch size.
  onnx_peer.py run MODEL.onnx INPUT.f32 BATCH REPEAT OUTPUT.f32 [LUNGCT_LOGITS.f32]
      one untimed warm-up session.run, then REPEAT timed ones; writes the logits as raw
      float32 and prints `ORT_MEDIAN_SECONDS s`, `ORT_MIN_SECONDS s` and, given lungct's
      logits, `MAX_ABS_DIFF d`.
"""

import json
import sys
import time

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Opset 17 has every operator used here in its current form (BatchNormalization without
# training outputs, Gemm, Flatten) and is supported by every onnxruntime of the last years.
OPSET = 17
# IR version 8 goes with opset 17; a newer onnx would otherwise stamp a newer IR version
# than an older onnxruntime accepts.
IR_VERSION = 8
# lungct's BatchNorm2D epsilon (Sources/NeuralEngine/Layers.swift).
BATCHNORM_EPSILON = 1e-5
# ReLU(slope:) default when a "leakyrelu" layer gives no slope (Architecture.build).
DEFAULT_LEAKY_SLOPE = 0.01
# lungct model run: single-threaded process apart from OpenBLAS, on a 2-core machine.
THREADS = 2


def read_model(path):
    """The parsed architecture JSON and a function giving one parameter as float32."""
    file = h5py.File(path, "r")
    text = file.attrs["architecture"]
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    description = json.loads(text)

    def parameter(index, kind, name):
        return np.asarray(file[f"/parameters/{index:03d}_{kind}/{name}"], dtype=np.float32)

    return description, parameter, file


def build_graph(description, parameter):
    """The same network as Architecture.build, layer by layer, with a symbolic batch axis."""
    spec = description["input"]
    nodes, initializers = [], []
    current, rank = "input", 4

    def constant(name, array):
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    for index, layer in enumerate(description["layers"]):
        kind = layer["kind"]
        prefix = f"{index:03d}_{kind}"
        output = prefix
        if kind == "conv2d":
            weight = parameter(index, kind, "weight")
            inputs = [current, constant(f"{prefix}.weight", weight)]
            if layer.get("bias", True):
                inputs.append(constant(f"{prefix}.bias", parameter(index, kind, "bias")))
            pad, stride, dilation = layer.get("padding") or 0, layer.get("stride") or 1, layer.get("dilation") or 1
            nodes.append(helper.make_node(
                "Conv", inputs, [output], name=prefix, kernel_shape=list(weight.shape[2:]),
                pads=[pad, pad, pad, pad], strides=[stride, stride], dilations=[dilation, dilation]))
        elif kind == "batchnorm2d":
            names = [constant(f"{prefix}.{name}", parameter(index, kind, name))
                     for name in ("gamma", "beta", "running_mean", "running_var")]
            nodes.append(helper.make_node(
                "BatchNormalization", [current] + names, [output], name=prefix, epsilon=BATCHNORM_EPSILON))
        elif kind == "relu":
            nodes.append(helper.make_node("Relu", [current], [output], name=prefix))
        elif kind == "leakyrelu":
            slope = layer.get("slope")
            nodes.append(helper.make_node(
                "LeakyRelu", [current], [output], name=prefix,
                alpha=float(DEFAULT_LEAKY_SLOPE if slope is None else slope)))
        elif kind in ("maxpool2d", "avgpool2d"):
            kernel = layer["kernel"]
            stride = layer.get("stride") or kernel  # Pool2D: stride defaults to the kernel
            nodes.append(helper.make_node(
                "MaxPool" if kind == "maxpool2d" else "AveragePool", [current], [output], name=prefix,
                kernel_shape=[kernel, kernel], strides=[stride, stride]))  # no padding, floor
        elif kind == "globalavgpool":
            # lungct's GlobalAveragePool is NCHW → NC; ONNX's keeps 1×1 spatial axes.
            nodes.append(helper.make_node("GlobalAveragePool", [current], [f"{prefix}.nc11"], name=prefix))
            nodes.append(helper.make_node("Flatten", [f"{prefix}.nc11"], [output], name=f"{prefix}.flatten", axis=1))
            rank = 2
        elif kind == "dense":
            if rank != 2:  # lungct's Dense reads any NCHW tensor as [N, C·H·W]
                nodes.append(helper.make_node("Flatten", [current], [f"{prefix}.flat"], name=f"{prefix}.flatten", axis=1))
                current, rank = f"{prefix}.flat", 2
            nodes.append(helper.make_node(
                "Gemm", [current, constant(f"{prefix}.weight", parameter(index, kind, "weight")),
                         constant(f"{prefix}.bias", parameter(index, kind, "bias"))],
                [output], name=prefix, transB=1))
        elif kind == "dropout":
            continue  # the identity at inference (and dropped by foldedForInference)
        else:
            raise SystemExit(f"error: layer {index}: unknown kind '{kind}'")
        current = output

    classes = len(description["classes"])
    graph = helper.make_graph(
        nodes, "lungct",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", spec["channels"], spec["height"], spec["width"]])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, ["N", classes] if rank == 2 else None)],
        initializer=initializers)
    model = helper.make_model(graph, producer_name="lungct benchmarks/onnx_peer.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def prepare(model_path, out_dir, seed, batches):
    description, parameter, file = read_model(model_path)
    model = build_graph(description, parameter)
    file.close()
    onnx.save(model, f"{out_dir}/model.onnx")
    spec = description["input"]
    rng = np.random.default_rng(seed)
    for batch in batches:
        x = rng.random((batch, spec["channels"], spec["height"], spec["width"]), dtype=np.float32)
        x.tofile(f"{out_dir}/input-b{batch}.f32")
    print(f"onnx {onnx.__version__}: {len(model.graph.node)} nodes, opset {OPSET}, "
          f"input N×{spec['channels']}×{spec['height']}×{spec['width']}, {len(description['classes'])} classes",
          file=sys.stderr)


def run(model_path, input_path, batch, repeat, output_path, lungct_logits=None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape
    x = np.fromfile(input_path, dtype=np.float32).reshape(batch, *shape[1:])
    feed = {session.get_inputs()[0].name: x}
    session.run(None, feed)  # warm-up, untimed
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        (logits,) = session.run(None, feed)
        times.append(time.perf_counter() - start)
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    logits.tofile(output_path)
    times.sort()
    # The same median as ModelTools.run (the upper one for an even count).
    print(f"ORT_MEDIAN_SECONDS {times[len(times) // 2]:.6f}")
    print(f"ORT_MIN_SECONDS {times[0]:.6f}")
    print(f"ORT_VERSION {ort.__version__}")
    if lungct_logits:
        theirs = np.fromfile(lungct_logits, dtype=np.float32)
        if theirs.size != logits.size:
            print(f"MAX_ABS_DIFF nan  # lungct wrote {theirs.size} values, ORT {logits.size}")
        else:
            print(f"MAX_ABS_DIFF {np.max(np.abs(theirs - logits.ravel())):.3e}")
            print(f"MAX_ABS_LOGIT {np.max(np.abs(logits)):.3e}")


def main(argv):
    if len(argv) >= 5 and argv[1] == "prepare":
        prepare(argv[2], argv[3], int(argv[4]), [int(b) for b in argv[5:]])
    elif len(argv) in (7, 8) and argv[1] == "run":
        run(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6], argv[7] if len(argv) == 8 else None)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
