import Foundation

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
        gamma = Parameter(
            name: "gamma", value: Tensor(shape: [channels], storage: [Float](repeating: 1, count: channels)))
        beta = Parameter(name: "beta", value: Tensor(zeros: [channels]))
        runningMean = Parameter(name: "running_mean", value: Tensor(zeros: [channels]))
        runningVariance = Parameter(
            name: "running_var", value: Tensor(shape: [channels], storage: [Float](repeating: 1, count: channels)))
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
                runningMean.value.storage[channel] =
                    (1 - momentum) * runningMean.value.storage[channel] + momentum * mean
                runningVariance.value.storage[channel] =
                    (1 - momentum) * runningVariance.value.storage[channel] + momentum * unbiased
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
