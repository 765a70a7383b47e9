import Foundation

// Layers without learned weights or randomness: the activation and the poolings.

/// max(x, slope·x): ReLU with slope 0, leaky ReLU otherwise.
public final class ReLU: Layer {
    public let slope: Float
    var input: Tensor?

    public init(slope: Float = 0) { self.slope = slope }

    public var specification: LayerSpecification {
        slope == 0 ? LayerSpecification(kind: "relu") : LayerSpecification(kind: "leakyrelu", slope: slope)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        if training { self.input = input }
        var output = input
        let slope = self.slope
        // max(x, slope·x) is x for x ≥ 0 and slope·x below (slope < 1): no branch, vectorisable.
        output.storage.withUnsafeMutableBufferPointer { values in
            for index in values.indices { values[index] = max(values[index], slope * values[index]) }
        }
        return output
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        guard let input else { preconditionFailure("ReLU.backward without a training forward pass") }
        var result = gradient
        let slope = self.slope
        // A select rather than a branch, so the loop vectorises.
        input.storage.withUnsafeBufferPointer { x in
            result.storage.withUnsafeMutableBufferPointer { g in
                for index in g.indices { g[index] = x[index] < 0 ? slope * g[index] : g[index] }
            }
        }
        return result
    }
}

/// Max or average pooling over k×k windows with a stride (no padding).
public final class Pool2D: Layer {
    public enum Mode: String, Sendable { case max, average }
    public let mode: Mode
    public let kernel: Int
    public let stride: Int
    var inputShape: [Int] = []
    var argmax: [Int32] = []

    public init(_ mode: Mode, kernel: Int, stride: Int? = nil) {
        self.mode = mode
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public var specification: LayerSpecification {
        LayerSpecification(kind: mode == .max ? "maxpool2d" : "avgpool2d", kernel: kernel, stride: stride)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let oh = (h - kernel) / stride + 1
        let ow = (w - kernel) / stride + 1
        precondition(oh >= 1 && ow >= 1, "Pool2D: input \(h)×\(w) smaller than kernel \(kernel)")
        var output = Tensor(zeros: [n, c, oh, ow])
        if training {
            inputShape = input.shape
            argmax = [Int32](repeating: 0, count: output.count)
        }
        let area = Float(kernel * kernel)
        let (kernel, stride, isMax) = (self.kernel, self.stride, mode == .max)
        if !training && isMax && kernel == 2 && stride == 2 {
            // The common case at inference (2×2 max, stride 2): two input rows per output row.
            input.storage.withUnsafeBufferPointer { source in
                output.storage.withUnsafeMutableBufferPointer { destination in
                    for map in 0..<(n * c) {
                        for oy in 0..<oh {
                            let top = source.baseAddress! + map * h * w + 2 * oy * w
                            let bottom = top + w
                            let out = destination.baseAddress! + (map * oh + oy) * ow
                            for ox in 0..<ow {
                                out[ox] = max(
                                    max(top[2 * ox], top[2 * ox + 1]), max(bottom[2 * ox], bottom[2 * ox + 1]))
                            }
                        }
                    }
                }
            }
            return output
        }
        input.storage.withUnsafeBufferPointer { source in
            output.storage.withUnsafeMutableBufferPointer { destination in
                argmax.withUnsafeMutableBufferPointer { winners in
                    for map in 0..<(n * c) {
                        let inBase = map * h * w
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var best = -Float.infinity
                                var bestIndex = 0
                                var sum: Float = 0
                                for i in 0..<kernel {
                                    let row = inBase + (oy * stride + i) * w + ox * stride
                                    for j in 0..<kernel {
                                        let v = source[row + j]
                                        sum += v
                                        if v > best {
                                            best = v
                                            bestIndex = row + j
                                        }
                                    }
                                }
                                let out = (map * oh + oy) * ow + ox
                                destination[out] = isMax ? best : sum / area
                                if training { winners[out] = Int32(bestIndex) }
                            }
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
        let area = Float(kernel * kernel)
        for map in 0..<(gradient.shape[0] * gradient.shape[1]) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let out = (map * oh + oy) * ow + ox
                    let g = gradient.storage[out]
                    if mode == .max {
                        result.storage[Int(argmax[out])] += g
                    } else {
                        for i in 0..<kernel {
                            for j in 0..<kernel {
                                result.storage[map * h * w + (oy * stride + i) * w + ox * stride + j] += g / area
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}

/// Mean over each feature map: NCHW → NC.
public final class GlobalAveragePool: Layer {
    var inputShape: [Int] = []
    public init() {}
    public var specification: LayerSpecification { LayerSpecification(kind: "globalavgpool") }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        if training { inputShape = input.shape }
        let (n, c, plane) = (input.shape[0], input.shape[1], input.shape[2] * input.shape[3])
        var output = Tensor(zeros: [n, c])
        for map in 0..<(n * c) {
            var sum: Float = 0
            for index in (map * plane)..<((map + 1) * plane) { sum += input.storage[index] }
            output.storage[map] = sum / Float(plane)
        }
        return output
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        let plane = inputShape[2] * inputShape[3]
        var result = Tensor(zeros: inputShape)
        for map in 0..<gradient.count {
            let g = gradient.storage[map] / Float(plane)
            for index in (map * plane)..<((map + 1) * plane) { result.storage[index] = g }
        }
        return result
    }
}
