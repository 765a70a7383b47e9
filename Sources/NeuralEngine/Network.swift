import Dispatch
import Foundation

/// Layers applied in order. Its forward pass returns logits; losses take logits. Training
/// mutates the layers (caches, gradients); inference (`training: false`, `infer`) does not,
/// so one network may serve several threads at inference: hence the unchecked Sendable.
public final class Sequential: @unchecked Sendable {
    public let layers: [Layer]

    public init(_ layers: [Layer]) { self.layers = layers }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        layers.reduce(input) { $1.forward($0, training: training) }
    }

    /// Back-propagates ∂loss/∂output through every layer (after a training forward pass).
    @discardableResult
    public func backward(_ gradient: Tensor) -> Tensor {
        layers.reversed().reduce(gradient) { $1.backward($0) }
    }

    public func zeroGradients() {
        for parameter in parameters { parameter.zeroGradient() }
    }

    /// Inference on a batch: the images are split between the cores and each runs through the
    /// whole network on its own (single-threaded matrix products), so its activations stay in
    /// cache; the result equals `forward(input, training: false)`. Layers keep no state at
    /// inference, which is what makes this safe.
    ///
    /// A network folded for inference runs each image on packed maps (`runsOnPackedMaps`).
    public func infer(_ input: Tensor) -> Tensor {
        let n = input.shape[0]
        guard n > 1 else { return inferOne(input) }
        let perImage = input.count / n
        let outputs = InferenceResults(count: n)
        GEMM.singleThreaded {
            DispatchQueue.concurrentPerform(iterations: n) { image in
                var shape = input.shape
                shape[0] = 1
                let one = Tensor(
                    shape: shape, storage: Array(input.storage[(image * perImage)..<((image + 1) * perImage)]))
                outputs.set(image, inferOne(one))
            }
        }
        let first = outputs.get(0)
        var shape = first.shape
        shape[0] = n
        return Tensor(shape: shape, storage: (0..<n).flatMap { outputs.get($0).storage })
    }

    public var specification: [LayerSpecification] { layers.map(\.specification) }

    /// One image's inference: on packed maps when the network was folded for inference.
    private func inferOne(_ input: Tensor) -> Tensor {
        guard input.shape.count == 4, input.shape[0] == 1, runsOnPackedMaps else {
            return forward(input, training: false)
        }
        return inferOnPackedMaps(input)
    }
}

/// Losses on logits, returning the mean loss over the batch and ∂loss/∂logits.
public enum Loss {
    /// Softmax cross-entropy for [N, K] logits and integer labels, each sample weighted by
    /// its class's weight (1 when `classWeights` is nil), normalised by the total weight.
    public static func softmaxCrossEntropy(logits: Tensor, labels: [Int], classWeights: [Float]? = nil) -> (
        Float, Tensor
    ) {
        let (n, k) = (logits.shape[0], logits.shape[1])
        var gradient = Tensor(zeros: logits.shape)
        var loss: Double = 0
        var totalWeight: Float = 0
        for i in 0..<n { totalWeight += classWeights?[labels[i]] ?? 1 }
        for i in 0..<n {
            let row = Array(logits.storage[(i * k)..<((i + 1) * k)])
            let probabilities = Activation.softmax(row)
            let weight = (classWeights?[labels[i]] ?? 1) / totalWeight
            loss -= Double(weight) * log(Double(max(probabilities[labels[i]], 1e-12)))
            for j in 0..<k {
                gradient.storage[i * k + j] = weight * (probabilities[j] - (j == labels[i] ? 1 : 0))
            }
        }
        return (Float(loss), gradient)
    }

    /// Binary cross-entropy on [N, 1] logits (the numerically stable form), positives
    /// weighted by `positiveWeight`.
    public static func binaryCrossEntropy(logits: Tensor, labels: [Int], positiveWeight: Float = 1) -> (Float, Tensor) {
        let n = logits.shape[0]
        var gradient = Tensor(zeros: logits.shape)
        var loss: Double = 0
        var totalWeight: Float = 0
        for i in 0..<n { totalWeight += labels[i] == 1 ? positiveWeight : 1 }
        for i in 0..<n {
            let z = logits.storage[i]
            let y: Float = labels[i] == 1 ? 1 : 0
            let weight = (labels[i] == 1 ? positiveWeight : 1) / totalWeight
            // log(1 + e^z) − y·z, computed without overflow.
            loss += Double(weight * (max(z, 0) - z * y + log1p(exp(-abs(z)))))
            gradient.storage[i] = weight * (Activation.sigmoid(z) - y)
        }
        return (Float(loss), gradient)
    }
}

public enum Activation {
    public static func sigmoid(_ z: Float) -> Float { z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)) }

    public static func softmax(_ logits: [Float]) -> [Float] {
        let top = logits.max() ?? 0
        let exps = logits.map { exp($0 - top) }
        let sum = exps.reduce(0, +)
        return exps.map { $0 / sum }
    }
}

/// Adam with decoupled weight decay (AdamW: Loshchilov & Hutter, ICLR 2019).
public final class AdamW {
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    var step = 0
    var moments: [ObjectIdentifier: (m: [Float], v: [Float])] = [:]

    public init(
        learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        weightDecay: Float = 1e-4
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public func update(_ parameters: [Parameter]) {
        step += 1
        let correction1 = 1 - pow(beta1, Float(step))
        let correction2 = 1 - pow(beta2, Float(step))
        for parameter in parameters {
            let key = ObjectIdentifier(parameter)
            // Taken out of the dictionary while updated, so the arrays are not copied.
            var (m, v) =
                moments.removeValue(forKey: key) ?? (
                    [Float](repeating: 0, count: parameter.value.count),
                    [Float](repeating: 0, count: parameter.value.count)
                )
            // Decay applies to weights, not to biases or normalisation parameters (1-D tensors).
            let decay = parameter.value.shape.count > 1 ? weightDecay : 0
            for index in 0..<parameter.value.count {
                let g = parameter.gradient.storage[index]
                m[index] = beta1 * m[index] + (1 - beta1) * g
                v[index] = beta2 * v[index] + (1 - beta2) * g * g
                let update = (m[index] / correction1) / ((v[index] / correction2).squareRoot() + epsilon)
                parameter.value.storage[index] -= learningRate * (update + decay * parameter.value.storage[index])
            }
            moments[key] = (m, v)
        }
    }
}

extension Sequential {
    /// The same network for inference with every batch normalisation that follows a
    /// convolution folded into it (inside skip connections too): w' = w·γ/√(σ²+ε) per output
    /// channel, b' = (b − μ)·γ/√(σ²+ε) + β. Unit-stride convolutions become
    /// `InferenceConvolution`s (weights packed once for the direct kernels), each with the ReLU
    /// that follows it fused into its output pass.
    /// Two passes over each feature map fewer, and the outputs equal the unfolded network's
    /// inference outputs up to float rounding. Dropout, an identity at inference, is dropped.
    public func foldedForInference() -> Sequential {
        var result: [Layer] = []
        var index = 0
        while index < layers.count {
            let layer = layers[index]
            if layer is Dropout {
                index += 1
                continue
            }
            if let skip = layer as? SkipConnection {
                result.append(SkipConnection(skip.merge, branch: skip.branch.foldedForInference()))
                index += 1
                continue
            }
            if let conv = layer as? Conv2D {
                index += 1
                var folded = conv
                if index < layers.count, let bn = layers[index] as? BatchNorm2D {
                    folded = conv.folding(bn)
                    index += 1
                }
                guard DirectConvolution.supports(stride: folded.stride) else {
                    result.append(folded)
                    continue
                }
                let activation = index < layers.count ? (layers[index] as? ReLU)?.slope : nil
                if activation != nil { index += 1 }
                result.append(InferenceConvolution(folded, activation: activation))
                continue
            }
            result.append(layer)
            index += 1
        }
        return Sequential(result)
    }
}

extension Conv2D {
    /// A new convolution equal to this one followed by `bn` at inference.
    func folding(_ bn: BatchNorm2D) -> Conv2D {
        let (out, perChannel) = (weight.value.shape[0], weight.value.count / weight.value.shape[0])
        var rng = SeededGenerator(seed: 0)
        let folded = Conv2D(
            inputChannels: weight.value.shape[1], outputChannels: out, kernel: weight.value.shape[2], stride: stride,
            padding: padding, dilation: dilation, bias: true, rng: &rng)
        for channel in 0..<out {
            let scale =
                bn.gamma.value.storage[channel] / (bn.runningVariance.value.storage[channel] + bn.epsilon).squareRoot()
            for k in 0..<perChannel {
                folded.weight.value.storage[channel * perChannel + k] =
                    weight.value.storage[channel * perChannel + k] * scale
            }
            let b = bias?.value.storage[channel] ?? 0
            folded.bias!.value.storage[channel] =
                (b - bn.runningMean.value.storage[channel]) * scale + bn.beta.value.storage[channel]
        }
        return folded
    }
}

extension Sequential {
    /// For a fully convolutional network that ends in global average pooling: the per-location
    /// logits before the pooling, [N, classes, h, w]. Their mean over locations is exactly the
    /// image's logits, which is what makes them class-activation maps (Zhou et al., CVPR 2016)
    /// and, through a softmax at each location, per-location probability maps. Nil when the
    /// last layer is not global average pooling.
    public func logitMaps(_ input: Tensor) -> Tensor? {
        guard layers.last is GlobalAveragePool else { return nil }
        return layers.dropLast().reduce(input) { $1.forward($0, training: false) }
    }

    /// Per-location class probabilities: a softmax over the classes at every location of
    /// `logitMaps`, [N, classes, h, w].
    public func probabilityMaps(_ input: Tensor) -> Tensor? {
        logitMaps(input).map(Activation.pixelSoftmax)
    }
}

/// Per-image outputs written by concurrent workers, one slot each.
final class InferenceResults: @unchecked Sendable {
    private var slots: [Tensor]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: Tensor(zeros: [0]), count: count) }
    func set(_ index: Int, _ value: Tensor) { lock.withLock { slots[index] = value } }
    func get(_ index: Int) -> Tensor { lock.withLock { slots[index] } }
}
