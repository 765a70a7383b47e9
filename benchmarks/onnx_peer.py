"""ONNX Runtime peer for benchmarks/onnx.sh.

Rebuilds a lungct model file (HDF5: the `architecture` JSON attribute and the float32
datasets under /parameters/<NNN>_<kind>/<name>, Sources/ModelStore/ModelFile.swift) as an
ONNX graph, skip connections (Concat, Add) and upsampling (Resize) included, so the lesion
U-Net as well as the classifiers, with the onnx helper API, and times ONNX Runtime on raw float32 N×C×H×W input,
as `lungct model run` does. Two sub-commands:

  onnx_peer.py prepare MODEL.h5 OUT_DIR SEED BATCH...
      writes OUT_DIR/model.onnx (checked with onnx.checker) and OUT_DIR/input-b<N>.f32
      (seeded uniform [0, 1) values, the range of a windowed CT slice) for each batch size.
  onnx_peer.py run MODEL.onnx INPUT.f32 BATCH REPEAT OUTPUT.f32 [LUNGCT_LOGITS.f32]
      untimed warm-up runs (at least one, for WARMUP_SECONDS from the environment, default
      0.5, as lungct model run --warmup-seconds), then REPEAT timed ones; writes the logits as raw
      float32 and prints `ORT_MEDIAN_SECONDS s`, `ORT_MIN_SECONDS s` and, given lungct's
      logits, `MAX_ABS_DIFF d`.
"""

import json
import os
import sys
import time

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Opset 17 has every operator used here in its current form (BatchNormalization without
# training outputs, Gemm, Flatten, Resize with half-pixel linear mode) and is supported by every onnxruntime of the last years.
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


# What each layer kind stores, in the order lungct's layers list them (`parameters`, then
# `buffers`; Sources/NeuralEngine/Layers.swift, BatchNorm2D.swift).
PARAMETERS = {
    "conv2d": lambda layer: ["weight"] + (["bias"] if layer.get("bias", True) else []),
    "batchnorm2d": lambda layer: ["gamma", "beta"],
    "dense": lambda layer: ["weight", "bias"],
}
BUFFERS = {"batchnorm2d": lambda layer: ["running_mean", "running_var"]}
SKIPS = ("skip-concatenate", "skip-add")


def slots(layers, table):
    """(path of layer indices, name) of every array `table` gives the layers, depth first, as
    SkipConnection.parameters and .buffers list them."""
    result = []
    for index, layer in enumerate(layers):
        if layer["kind"] in SKIPS:
            result += [((index,) + path, name) for path, name in slots(layer.get("branch") or [], table)]
        else:
            result += [((index,), name) for name in table.get(layer["kind"], lambda _: [])(layer)]
    return result


def read_model(path):
    """The parsed architecture JSON and a function giving one parameter as float32 by its
    layer path (top-level index, then indices inside skip-connection branches) and name."""
    file = h5py.File(path, "r")
    text = file.attrs["architecture"]
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    description = json.loads(text)
    arrays = {}
    for index, layer in enumerate(description["layers"]):
        group = f"/parameters/{index:03d}_{layer['kind']}"
        if layer["kind"] not in SKIPS:
            for name in PARAMETERS.get(layer["kind"], lambda _: [])(layer) + BUFFERS.get(layer["kind"], lambda _: [])(layer):
                arrays[((index,), name)] = file[f"{group}/{name}"]
            continue
        # ModelFile.datasetPath: a skip connection's arrays are numbered by position when
        # their names repeat.
        branch = layer.get("branch") or []
        inner = slots(branch, PARAMETERS) + slots(branch, BUFFERS)
        unique = len({name for _, name in inner}) == len(inner)
        for position, (inner_path, name) in enumerate(inner):
            arrays[((index,) + inner_path, name)] = file[f"{group}/{name if unique else f'{position}_{name}'}"]

    def parameter(path, name):
        return np.asarray(arrays[(tuple(path), name)], dtype=np.float32)

    return description, parameter, file


class Graph:
    """The nodes and initializers of the ONNX graph being built."""

    def __init__(self, parameter):
        self.nodes, self.initializers, self.parameter = [], [], parameter

    def constant(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op, inputs, output, **attributes):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def add_layers(graph, layers, current, rank, path=()):
    """Appends `layers` (the same network as Architecture.build) after tensor `current`;
    returns the last tensor's name and rank."""
    for index, layer in enumerate(layers):
        kind = layer["kind"]
        where = path + (index,)
        prefix = "_".join(f"{i:03d}" for i in where) + f"_{kind}"
        output = prefix
        if kind == "conv2d":
            weight = graph.parameter(where, "weight")
            inputs = [current, graph.constant(f"{prefix}.weight", weight)]
            if layer.get("bias", True):
                inputs.append(graph.constant(f"{prefix}.bias", graph.parameter(where, "bias")))
            pad, stride, dilation = layer.get("padding") or 0, layer.get("stride") or 1, layer.get("dilation") or 1
            graph.node(
                "Conv", inputs, output, kernel_shape=list(weight.shape[2:]),
                pads=[pad, pad, pad, pad], strides=[stride, stride], dilations=[dilation, dilation])
        elif kind == "batchnorm2d":
            names = [graph.constant(f"{prefix}.{name}", graph.parameter(where, name))
                     for name in ("gamma", "beta", "running_mean", "running_var")]
            graph.node("BatchNormalization", [current] + names, output, epsilon=BATCHNORM_EPSILON)
        elif kind == "relu":
            graph.node("Relu", [current], output)
        elif kind == "leakyrelu":
            slope = layer.get("slope")
            graph.node("LeakyRelu", [current], output, alpha=float(DEFAULT_LEAKY_SLOPE if slope is None else slope))
        elif kind in ("maxpool2d", "avgpool2d"):
            kernel = layer["kernel"]
            stride = layer.get("stride") or kernel  # Pool2D: stride defaults to the kernel
            graph.node(
                "MaxPool" if kind == "maxpool2d" else "AveragePool", [current], output,
                kernel_shape=[kernel, kernel], strides=[stride, stride])  # no padding, floor
        elif kind in ("upsample-nearest", "upsample-bilinear"):
            # Upsample2D: bilinear with half-pixel centres (align_corners = false), or the
            # nearest neighbour o / factor.
            factor = float(layer.get("stride") or 2)
            scales = graph.constant(f"{prefix}.scales", np.array([1, 1, factor, factor]))
            modes = (dict(mode="linear", coordinate_transformation_mode="half_pixel") if kind == "upsample-bilinear"
                     else dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
            graph.node("Resize", [current, "", scales], output, **modes)
        elif kind in SKIPS:
            inner, _ = add_layers(graph, layer.get("branch") or [], current, rank, where)
            if kind == "skip-concatenate":
                graph.node("Concat", [current, inner], output, axis=1)
            else:
                graph.node("Add", [current, inner], output)
        elif kind == "globalavgpool":
            # lungct's GlobalAveragePool is NCHW → NC; ONNX's keeps 1×1 spatial axes.
            graph.node("GlobalAveragePool", [current], f"{prefix}.nc11")
            graph.node("Flatten", [f"{prefix}.nc11"], output, axis=1)
            rank = 2
        elif kind == "dense":
            if rank != 2:  # lungct's Dense reads any NCHW tensor as [N, C·H·W]
                current, rank = graph.node("Flatten", [current], f"{prefix}.flat", axis=1), 2
            graph.node(
                "Gemm", [current, graph.constant(f"{prefix}.weight", graph.parameter(where, "weight")),
                         graph.constant(f"{prefix}.bias", graph.parameter(where, "bias"))],
                output, transB=1)
        elif kind == "dropout":
            continue  # the identity at inference (and dropped by foldedForInference)
        else:
            raise SystemExit(f"error: layer {prefix}: unknown kind '{kind}'")
        current = output
    return current, rank


def build_graph(description, parameter):
    """The whole network with a symbolic batch axis; logits [N, classes] or [N, classes, H, W]."""
    spec = description["input"]
    graph = Graph(parameter)
    current, rank = add_layers(graph, description["layers"], "input", 4)
    classes = len(description["classes"])
    onnx_graph = helper.make_graph(
        graph.nodes, "lungct",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", spec["channels"], spec["height"], spec["width"]])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, ["N", classes] if rank == 2 else ["N", classes, "H", "W"])],
        initializer=graph.initializers)
    model = helper.make_model(onnx_graph, producer_name="lungct benchmarks/onnx_peer.py",
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
    deadline = time.perf_counter() + float(os.environ.get("WARMUP_SECONDS", "0.5"))
    session.run(None, feed)  # warm-up, untimed
    while time.perf_counter() < deadline:
        session.run(None, feed)
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
