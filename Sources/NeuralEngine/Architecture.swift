/// Building a network from its stored description.
public enum Architecture {
    /// A layer the description names but this engine does not know.
    public struct UnknownLayer: Error, CustomStringConvertible {
        public var kind: String
        public var description: String { "unknown layer kind '\(kind)' in the model's architecture" }
    }

    /// A fresh network (initialised with `seed`) with the given layers; parameters are then
    /// usually overwritten from a model file.
    public static func build(_ specification: [LayerSpecification], seed: UInt64 = 0) throws -> Sequential {
        var rng = SeededGenerator(seed: seed)
        var layers: [Layer] = []
        for (index, spec) in specification.enumerated() {
            func need(_ value: Int?, _ name: String) throws -> Int {
                guard let value else { throw UnknownLayer(kind: "\(spec.kind) without \(name) (layer \(index))") }
                return value
            }
            switch spec.kind {
            case "conv2d":
                layers.append(
                    Conv2D(
                        inputChannels: try need(spec.inputChannels, "inputChannels"),
                        outputChannels: try need(spec.outputChannels, "outputChannels"),
                        kernel: try need(spec.kernel, "kernel"),
                        stride: spec.stride ?? 1, padding: spec.padding ?? 0, dilation: spec.dilation ?? 1,
                        bias: spec.bias ?? true, rng: &rng))
            case "conv3d":
                layers.append(
                    Conv3D(
                        inputChannels: try need(spec.inputChannels, "inputChannels"),
                        outputChannels: try need(spec.outputChannels, "outputChannels"),
                        kernel: try need(spec.kernel, "kernel"),
                        stride: spec.stride ?? 1, padding: spec.padding ?? 0, dilation: spec.dilation ?? 1,
                        bias: spec.bias ?? true, rng: &rng))
            case "batchnorm2d": layers.append(BatchNorm2D(channels: try need(spec.outputChannels, "outputChannels")))
            case "relu": layers.append(ReLU())
            case "leakyrelu": layers.append(ReLU(slope: spec.slope ?? 0.01))
            case "maxpool2d": layers.append(Pool2D(.max, kernel: try need(spec.kernel, "kernel"), stride: spec.stride))
            case "avgpool2d":
                layers.append(Pool2D(.average, kernel: try need(spec.kernel, "kernel"), stride: spec.stride))
            case "globalavgpool": layers.append(GlobalAveragePool())
            case "dense":
                layers.append(
                    Dense(
                        inputs: try need(spec.inputChannels, "inputChannels"),
                        outputs: try need(spec.outputChannels, "outputChannels"), rng: &rng))
            case "dropout": layers.append(Dropout(rate: spec.rate ?? 0.5, seed: seed &+ UInt64(index)))
            case "upsample-nearest": layers.append(Upsample2D(.nearest, factor: spec.stride ?? 2))
            case "upsample-bilinear": layers.append(Upsample2D(.bilinear, factor: spec.stride ?? 2))
            case "skip-concatenate", "skip-add":
                let inner = try build(spec.branch ?? [], seed: seed &+ UInt64(1000 * (index + 1)))
                layers.append(SkipConnection(spec.kind == "skip-add" ? .add : .concatenate, branch: inner))
            default: throw UnknownLayer(kind: spec.kind)
            }
        }
        return Sequential(layers)
    }
}

extension Architecture {
    /// lungct's fully convolutional classifier: `blocks` conv–BN–ReLU blocks, each but the
    /// last followed by 2×2 max pooling, channels doubling from `width` up to 4·width; then
    /// optional dropout and a 1×1 convolution to one logit per class at every location (the map
    /// that becomes the probability or class-activation map); then global average pooling to the
    /// image's logits. The default (4 blocks) sees 128×128 input as a 16×16 map.
    public static func fullyConvolutional(
        inputChannels: Int = 1, classes: Int, width: Int = 16, blocks: Int = 4, dropout: Float = 0
    ) -> [LayerSpecification] {
        var layers: [LayerSpecification] = []
        var channels = inputChannels
        for block in 0..<max(1, blocks) {
            let out = width << min(block, 2)
            layers.append(
                LayerSpecification(
                    kind: "conv2d", inputChannels: channels, outputChannels: out, kernel: 3, padding: 1, bias: false))
            layers.append(LayerSpecification(kind: "batchnorm2d", outputChannels: out))
            layers.append(LayerSpecification(kind: "relu"))
            if block < blocks - 1 { layers.append(LayerSpecification(kind: "maxpool2d", kernel: 2)) }
            channels = out
        }
        if dropout > 0 { layers.append(LayerSpecification(kind: "dropout", rate: dropout)) }
        layers.append(
            LayerSpecification(kind: "conv2d", inputChannels: channels, outputChannels: classes, kernel: 1, bias: true))
        layers.append(LayerSpecification(kind: "globalavgpool"))
        return layers
    }
}
