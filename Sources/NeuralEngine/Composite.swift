/// Upsampling of NCHW maps by an integer factor: nearest neighbour, or bilinear with
/// half-pixel centres (align_corners = false, as PyTorch's and ONNX Resize's default).
public final class Upsample2D: Layer {
    public enum Mode: String, Sendable { case nearest, bilinear }
    public let mode: Mode
    public let factor: Int
    var inputShape: [Int] = []

    public init(_ mode: Mode, factor: Int = 2) {
        precondition(factor >= 1, "Upsample2D: factor must be at least 1")
        self.mode = mode
        self.factor = factor
    }

    public var specification: LayerSpecification {
        LayerSpecification(kind: mode == .nearest ? "upsample-nearest" : "upsample-bilinear", stride: factor)
    }

    /// For output position o: the two source indices and the weight of the second.
    func taps(_ o: Int, _ size: Int) -> (Int, Int, Float) {
        if mode == .nearest { return (o / factor, o / factor, 0) }
        let source = max(0, (Float(o) + 0.5) / Float(factor) - 0.5)
        let i0 = min(Int(source), size - 1)
        let i1 = min(i0 + 1, size - 1)
        return (i0, i1, source - Float(i0))
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        if training { inputShape = input.shape }
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (h * factor, w * factor)
        // The taps of every output row and column, worked out once rather than at each pixel.
        let (rows, columns) = ((0..<oh).map { taps($0, h) }, (0..<ow).map { taps($0, w) })
        var output = Tensor(zeros: [n, c, oh, ow])
        input.storage.withUnsafeBufferPointer { source in
            output.storage.withUnsafeMutableBufferPointer { destination in
                for map in 0..<(n * c) {
                    for oy in 0..<oh {
                        let (y0, y1, wy) = rows[oy]
                        let (upper, lower, line) = (map * h * w + y0 * w, map * h * w + y1 * w, (map * oh + oy) * ow)
                        for ox in 0..<ow {
                            let (x0, x1, wx) = columns[ox]
                            let top = (1 - wx) * source[upper + x0] + wx * source[upper + x1]
                            let bottom = (1 - wx) * source[lower + x0] + wx * source[lower + x1]
                            destination[line + ox] = (1 - wy) * top + wy * bottom
                        }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        var result = Tensor(zeros: inputShape)
        let (h, w) = (inputShape[2], inputShape[3])
        let (oh, ow) = (gradient.shape[2], gradient.shape[3])
        let (rows, columns) = ((0..<oh).map { taps($0, h) }, (0..<ow).map { taps($0, w) })
        for map in 0..<(inputShape[0] * inputShape[1]) {
            let base = map * h * w
            for oy in 0..<oh {
                let (y0, y1, wy) = rows[oy]
                for ox in 0..<ow {
                    let (x0, x1, wx) = columns[ox]
                    let g = gradient.storage[(map * oh + oy) * ow + ox]
                    result.storage[base + y0 * w + x0] += (1 - wy) * (1 - wx) * g
                    result.storage[base + y0 * w + x1] += (1 - wy) * wx * g
                    result.storage[base + y1 * w + x0] += wy * (1 - wx) * g
                    result.storage[base + y1 * w + x1] += wy * wx * g
                }
            }
        }
        return result
    }
}

/// A skip connection: runs `branch` on the input and either concatenates its output to the
/// input along the channels (U-Net / DenseNet style) or adds it (ResNet style). The branch
/// must keep the spatial size (and, for addition, the channel count).
public final class SkipConnection: Layer {
    public enum Merge: String, Sendable { case concatenate, add }
    public let branch: Sequential
    public let merge: Merge
    var inputChannels = 0

    public init(_ merge: Merge, branch: Sequential) {
        self.merge = merge
        self.branch = branch
    }

    public var specification: LayerSpecification {
        LayerSpecification(kind: merge == .concatenate ? "skip-concatenate" : "skip-add", branch: branch.specification)
    }
    public var parameters: [Parameter] { branch.parameters }
    public var buffers: [Parameter] { branch.layers.flatMap(\.buffers) }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let inner = branch.forward(input, training: training)
        precondition(
            inner.shape[0] == input.shape[0] && inner.shape[2...] == input.shape[2...],
            "SkipConnection: the branch changed the spatial size \(input.shape) → \(inner.shape)")
        if training { inputChannels = input.shape[1] }
        switch merge {
        case .add:
            precondition(
                inner.shape == input.shape, "SkipConnection.add: shapes \(input.shape) and \(inner.shape) differ")
            var output = input
            for index in output.storage.indices { output.storage[index] += inner.storage[index] }
            return output
        case .concatenate:
            let (n, plane) = (input.shape[0], input.shape[2] * input.shape[3])
            let (a, b) = (input.shape[1] * plane, inner.shape[1] * plane)
            var storage: [Float] = []
            storage.reserveCapacity(n * (a + b))
            for image in 0..<n {
                storage += input.storage[(image * a)..<((image + 1) * a)]
                storage += inner.storage[(image * b)..<((image + 1) * b)]
            }
            return Tensor(
                shape: [n, input.shape[1] + inner.shape[1], input.shape[2], input.shape[3]], storage: storage)
        }
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        switch merge {
        case .add:
            var result = branch.backward(gradient)
            for index in result.storage.indices { result.storage[index] += gradient.storage[index] }
            return result
        case .concatenate:
            let (n, plane) = (gradient.shape[0], gradient.shape[2] * gradient.shape[3])
            let innerChannels = gradient.shape[1] - inputChannels
            let (a, b) = (inputChannels * plane, innerChannels * plane)
            var direct: [Float] = []
            var through: [Float] = []
            for image in 0..<n {
                let start = image * (a + b)
                direct += gradient.storage[start..<(start + a)]
                through += gradient.storage[(start + a)..<(start + a + b)]
            }
            var result = branch.backward(
                Tensor(shape: [n, innerChannels, gradient.shape[2], gradient.shape[3]], storage: through))
            for index in result.storage.indices { result.storage[index] += direct[index] }
            return result
        }
    }
}
