import Foundation
import SeededRandom

// The layers with learned weights (convolution, fully connected), and dropout: all three draw
// from the seeded generator, for their initial weights or their masks.

/// 2D convolution (cross-correlation) with OIHW weights, by im2col and sgemm; its backward
/// pass is two more matrix products and the scatter back onto the input (Convolution.conv2dBackward).
public final class Conv2D: ConvolutionLayer {
    public static let kind = "conv2d"
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
            value: Tensor(
                shape: [outputChannels, inputChannels, kernel, kernel],
                storage: (0..<count).map { _ in std * rng.normal() }))
        self.bias = bias ? Parameter(name: "bias", value: Tensor(zeros: [outputChannels])) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        if training { self.input = input }
        if !training && DirectConvolution.supports(stride: stride) {
            // Inference on the direct kernels (weights packed for this call alone; a network
            // folded for inference packs them once).
            return DirectConvolution(
                weights: weight.value, bias: bias?.value.storage, padding: padding, dilation: dilation)(input)
        }
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
            value: Tensor(
                shape: [outputs, inputs], storage: (0..<(inputs * outputs)).map { _ in limit * (2 * rng.uniform() - 1) }
            ))
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
        GEMM.sgemm(
            transposeB: true, m: n, n: outputs, k: inputs, a: input.storage, b: weight.value.storage, beta: 1,
            c: &output)
        return Tensor(shape: [n, outputs], storage: output)
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        guard let input else { preconditionFailure("Dense.backward without a training forward pass") }
        let (n, inputs, outputs) = (input.shape[0], weight.value.shape[1], weight.value.shape[0])
        // ∂W += dYᵀ · X ; ∂b += Σ dY ; ∂X = dY · W
        GEMM.sgemm(
            transposeA: true, m: outputs, n: inputs, k: n, a: gradient.storage, b: input.storage, beta: 1,
            c: &weight.gradient.storage)
        for image in 0..<n {
            for o in 0..<outputs { bias.gradient.storage[o] += gradient.storage[image * outputs + o] }
        }
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
