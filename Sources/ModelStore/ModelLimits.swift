import NeuralEngine

/// Bounds on what a model file may ask for, checked before a layer is built or a weight is
/// read: a file from elsewhere must not make lungct trap (negative channels) or allocate
/// gigabytes (10⁹ channels). lungct's own models sit far inside them (at most 64 channels,
/// kernels of 3, fewer than a million weights).
enum ModelLimits {
    static let channels = 1...4096
    static let kernel = 1...31
    static let stride = 1...16
    static let padding = 0...64
    static let dilation = 1...16
    /// Input images: side and channels (adjacent slices of a 2.5D model).
    static let inputSide = 8...4096
    static let inputChannels = 1...64
    /// The most weights a model may hold: 64 Mi floats (256 MiB).
    static let parameters = 64 << 20
    /// Nested skip connections.
    static let depth = 32

    /// The first problem with `description`, or nil when lungct may build it.
    static func problem(in description: ModelDescription) -> String? {
        let input = description.input
        guard inputSide.contains(input.width), inputSide.contains(input.height) else {
            return "input \(input.width)×\(input.height) is outside \(inputSide) pixels a side"
        }
        guard inputChannels.contains(input.channels) else {
            return "input channels \(input.channels) outside \(inputChannels)"
        }
        if let temperature = description.temperature, !(temperature.isFinite && temperature > 0) {
            return "calibration temperature \(temperature) is not a positive number"
        }
        var weights = 0
        return problem(in: description.layers, depth: 0, weights: &weights)
    }

    private static func problem(in layers: [LayerSpecification], depth: Int, weights: inout Int) -> String? {
        guard depth <= self.depth else { return "skip connections nested deeper than \(self.depth)" }
        for (index, layer) in layers.enumerated() {
            if let problem = problem(in: layer) { return "layer \(index) (\(layer.kind)): \(problem)" }
            weights += weightCount(layer) ?? Int.max / 2
            guard weights <= parameters else {
                return "more than \(parameters) weights by layer \(index); lungct's models hold under a million"
            }
            if let branch = layer.branch, let problem = problem(in: branch, depth: depth + 1, weights: &weights) {
                return "layer \(index) (\(layer.kind)): \(problem)"
            }
        }
        return nil
    }

    /// The first field of `layer` outside its range.
    private static func problem(in layer: LayerSpecification) -> String? {
        let checks: [(String, Int?, ClosedRange<Int>)] = [
            ("inputChannels", layer.inputChannels, channels), ("outputChannels", layer.outputChannels, channels),
            ("kernel", layer.kernel, kernel), ("stride", layer.stride, stride), ("padding", layer.padding, padding),
            ("dilation", layer.dilation, dilation),
        ]
        for (name, value, range) in checks {
            if let value, !range.contains(value) { return "\(name) \(value) outside \(range)" }
        }
        if let slope = layer.slope, !slope.isFinite { return "slope \(slope) is not a number" }
        if let rate = layer.rate, !(0..<1).contains(rate) { return "dropout rate \(rate) outside 0..<1" }
        return nil
    }

    /// The weights a layer holds (nil: too many to count), from its channels and kernel.
    private static func weightCount(_ layer: LayerSpecification) -> Int? {
        let input = layer.inputChannels ?? 1
        let output = layer.outputChannels ?? 1
        let k = layer.kernel ?? 1
        let taps = layer.kind == "conv3d" ? k * k * k : layer.kind == "conv2d" ? k * k : 1
        let (product, overflow) = (input * output).multipliedReportingOverflow(by: taps)
        return overflow ? nil : product + output
    }
}
