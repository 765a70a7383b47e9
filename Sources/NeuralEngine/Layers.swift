import Foundation
import SeededRandom

/// 2D convolution (cross-correlation) with OIHW weights, by im2col and sgemm; its backward
/// pass is two more matrix products and the scatter back onto the input (Convolution.conv2dBackward).
public final class Conv2D: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let padding: Int
    public let dilation: Int
    var input: Tensor?

    /// He (Kaiming) normal initialisation for ReLU networks (He et al., ICCV 2015).
    public init(
        inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
        bias: Bool = true, rng: inout SeededGenerator
    ) {
        let fanIn = Float(inputChannels * kernel * kernel)
        let std = (2 / fanIn).squareRoot()
        let count = outputChannels * inputChannels * kernel * kernel
        weight = Parameter(
            name: "weight",
            value: Tensor(shape: [outputChannels, inputChannels, kernel, kernel], storage: (0..<count).map { _ in std * rng.normal() }))
        self.bias = bias ? Parameter(name: "bias", value: Tensor(zeros: [outputChannels])) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    public var specification: LayerSpecification {
        LayerSpecification(
            kind: "conv2d", inputChannels: weight.value.shape[1], outputChannels: weight.value.shape[0],
            kernel: weight.value.shape[2], stride: stride, padding: padding, dilation: dilation, bias: bias != nil)
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        if training { self.input = input }
        return Convolution.conv2d(
            input: input, weights: weight.value, bias: bias?.value.storage, stride: Pair2D(integerLiteral: stride),
            padding: Pair2D(integerLiteral: padding), dilation: Pair2D(integerLiteral: dilation))
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        guard let input else { preconditionFailure("Conv2D.backward without a training forward pass") }
        let result = Convolution.conv2dBackward(
            input: input, gradient: gradient, weights: weight.value, stride: Pair2D(integerLiteral: stride),
            padding: Pair2D(integerLiteral: padding), dilation: Pair2D(integerLiteral: dilation))
        for index in 0..<result.weights.count { weight.gradient.storage[index] += result.weights[index] }
        if let bias {
            for channel in 0..<result.bias.count { bias.gradient.storage[channel] += result.bias[channel] }
        }
        return result.input
    }
}

/// Batch normalisation over the channels of NCHW maps (Ioffe & Szegedy 2015): batch
/// statistics when training (and running averages updated with `momentum`), running
/// statistics at inference, where it can be folded into the convolution before it.
public final class BatchNorm2D: Layer {
    public let gamma: Parameter
    public let beta: Parameter
    public let runningMean: Parameter
    public let runningVariance: Parameter
    public let momentum: Float
    public let epsilon: Float
    var normalized: Tensor?
    var inverseStd: [Float] = []

    public init(channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        gamma = Parameter(name: "gamma", value: Tensor(shape: [channels], storage: [Float](repeating: 1, count: channels)))
        beta = Parameter(name: "beta", value: Tensor(zeros: [channels]))
        runningMean = Parameter(name: "running_mean", value: Tensor(zeros: [channels]))
        runningVariance = Parameter(name: "running_var", value: Tensor(shape: [channels], storage: [Float](repeating: 1, count: channels)))
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public var specification: LayerSpecification {
        LayerSpecification(kind: "batchnorm2d", inputChannels: gamma.value.count, outputChannels: gamma.value.count)
    }
    public var parameters: [Parameter] { [gamma, beta] }
    public var buffers: [Parameter] { [runningMean, runningVariance] }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        let (n, c, plane) = (input.shape[0], input.shape[1], input.shape[2] * input.shape[3])
        var output = input
        var xhat = input
        var inverseStd = [Float](repeating: 0, count: c)
        for channel in 0..<c {
            var mean: Float
            var variance: Float
            if training {
                var sum: Double = 0
                var sumSquares: Double = 0
                for image in 0..<n {
                    let base = (image * c + channel) * plane
                    for index in base..<(base + plane) {
                        let v = Double(input.storage[index])
                        sum += v
                        sumSquares += v * v
                    }
                }
                let count = Double(n * plane)
                mean = Float(sum / count)
                variance = Float(max(0, sumSquares / count - Double(mean) * Double(mean)))
                // The running variance is unbiased, as in PyTorch.
                let unbiased = count > 1 ? variance * Float(count / (count - 1)) : variance
                runningMean.value.storage[channel] = (1 - momentum) * runningMean.value.storage[channel] + momentum * mean
                runningVariance.value.storage[channel] = (1 - momentum) * runningVariance.value.storage[channel] + momentum * unbiased
            } else {
                mean = runningMean.value.storage[channel]
                variance = runningVariance.value.storage[channel]
            }
            let inv = 1 / (variance + epsilon).squareRoot()
            inverseStd[channel] = inv
            let g = gamma.value.storage[channel]
            let b = beta.value.storage[channel]
            for image in 0..<n {
                let base = (image * c + channel) * plane
                for index in base..<(base + plane) {
                    let h = (input.storage[index] - mean) * inv
                    xhat.storage[index] = h
                    output.storage[index] = g * h + b
                }
            }
        }
        if training {
            normalized = xhat
            self.inverseStd = inverseStd
        }
        return output
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        guard let xhat = normalized else { preconditionFailure("BatchNorm2D.backward without a training forward pass") }
        let (n, c, plane) = (gradient.shape[0], gradient.shape[1], gradient.shape[2] * gradient.shape[3])
        let count = Float(n * plane)
        var inputGradient = gradient
        for channel in 0..<c {
            var sumDy: Float = 0
            var sumDyXhat: Float = 0
            for image in 0..<n {
                let base = (image * c + channel) * plane
                for index in base..<(base + plane) {
                    sumDy += gradient.storage[index]
                    sumDyXhat += gradient.storage[index] * xhat.storage[index]
                }
            }
            gamma.gradient.storage[channel] += sumDyXhat
            beta.gradient.storage[channel] += sumDy
            let scale = gamma.value.storage[channel] * inverseStd[channel] / count
            for image in 0..<n {
                let base = (image * c + channel) * plane
                for index in base..<(base + plane) {
                    inputGradient.storage[index] =
                        scale * (count * gradient.storage[index] - sumDy - xhat.storage[index] * sumDyXhat)
                }
            }
        }
        return inputGradient
    }
}

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
        for index in result.storage.indices where input.storage[index] < 0 { result.storage[index] *= slope }
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
                                out[ox] = max(max(top[2 * ox], top[2 * ox + 1]), max(bottom[2 * ox], bottom[2 * ox + 1]))
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
                            for j in 0..<kernel { result.storage[map * h * w + (oy * stride + i) * w + ox * stride + j] += g / area }
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

/// y = x · Wᵀ + b for x of shape [N, in].
public final class Dense: Layer {
    public let weight: Parameter
    public let bias: Parameter
    var input: Tensor?

    /// Glorot (Xavier) uniform initialisation (Glorot & Bengio 2010).
    public init(inputs: Int, outputs: Int, rng: inout SeededGenerator) {
        let limit = (6 / Float(inputs + outputs)).squareRoot()
        weight = Parameter(
            name: "weight",
            value: Tensor(shape: [outputs, inputs], storage: (0..<(inputs * outputs)).map { _ in limit * (2 * rng.uniform() - 1) }))
        bias = Parameter(name: "bias", value: Tensor(zeros: [outputs]))
    }

    public var specification: LayerSpecification {
        LayerSpecification(kind: "dense", inputChannels: weight.value.shape[1], outputChannels: weight.value.shape[0])
    }
    public var parameters: [Parameter] { [weight, bias] }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        if training { self.input = input }
        let (n, inputs, outputs) = (input.shape[0], weight.value.shape[1], weight.value.shape[0])
        precondition(input.count == n * inputs, "Dense: input \(input.shape) does not have \(inputs) features")
        var output = [Float](repeating: 0, count: n * outputs)
        for image in 0..<n { for o in 0..<outputs { output[image * outputs + o] = bias.value.storage[o] } }
        GEMM.sgemm(transposeB: true, m: n, n: outputs, k: inputs, a: input.storage, b: weight.value.storage, beta: 1, c: &output)
        return Tensor(shape: [n, outputs], storage: output)
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        guard let input else { preconditionFailure("Dense.backward without a training forward pass") }
        let (n, inputs, outputs) = (input.shape[0], weight.value.shape[1], weight.value.shape[0])
        // ∂W += dYᵀ · X ; ∂b += Σ dY ; ∂X = dY · W
        GEMM.sgemm(transposeA: true, m: outputs, n: inputs, k: n, a: gradient.storage, b: input.storage, beta: 1, c: &weight.gradient.storage)
        for image in 0..<n { for o in 0..<outputs { bias.gradient.storage[o] += gradient.storage[image * outputs + o] } }
        var result = [Float](repeating: 0, count: n * inputs)
        GEMM.sgemm(m: n, n: inputs, k: outputs, a: gradient.storage, b: weight.value.storage, c: &result)
        return Tensor(shape: input.shape, storage: result)
    }
}

/// Inverted dropout: in training, zeroes each value with probability `rate` and scales the
/// rest by 1/(1 − rate); at inference, the identity.
public final class Dropout: Layer {
    public let rate: Float
    var mask: [Float] = []
    var rng: SeededGenerator

    public init(rate: Float, seed: UInt64) {
        self.rate = rate
        rng = SeededGenerator(seed: seed)
    }

    public var specification: LayerSpecification { LayerSpecification(kind: "dropout", rate: rate) }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        guard training, rate > 0 else { return input }
        let keep = 1 - rate
        mask = (0..<input.count).map { _ in rng.uniform() < keep ? 1 / keep : 0 }
        var output = input
        for index in output.storage.indices { output.storage[index] *= mask[index] }
        return output
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        guard !mask.isEmpty else { return gradient }
        var result = gradient
        for index in result.storage.indices { result.storage[index] *= mask[index] }
        return result
    }
}

/// The seeded generator of initialisation, shuffling, dropout and augmentation.
public typealias SeededGenerator = SplitMix64
