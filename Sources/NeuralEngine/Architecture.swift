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
                        outputChannels: try need(spec.outputChannels, "outputChannels"), kernel: try need(spec.kernel, "kernel"),
                        stride: spec.stride ?? 1, padding: spec.padding ?? 0, dilation: spec.dilation ?? 1,
                        bias: spec.bias ?? true, rng: &rng))
            case "batchnorm2d": layers.append(BatchNorm2D(channels: try need(spec.outputChannels, "outputChannels")))
            case "relu": layers.append(ReLU())
            case "leakyrelu": layers.append(ReLU(slope: spec.slope ?? 0.01))
            case "maxpool2d": layers.append(Pool2D(.max, kernel: try need(spec.kernel, "kernel"), stride: spec.stride))
            case "avgpool2d": layers.append(Pool2D(.average, kernel: try need(spec.kernel, "kernel"), stride: spec.stride))
            case "globalavgpool": layers.append(GlobalAveragePool())
            case "dense":
                layers.append(
                    Dense(inputs: try need(spec.inputChannels, "inputChannels"), outputs: try need(spec.outputChannels, "outputChannels"), rng: &rng))
            case "dropout": layers.append(Dropout(rate: spec.rate ?? 0.5, seed: seed &+ UInt64(index)))
            default: throw UnknownLayer(kind: spec.kind)
            }
        }
        return Sequential(layers)
    }
}
