/// A convolution of a network folded for inference (`Sequential.foldedForInference`): its
/// weights (with any batch normalisation folded in) packed once for the direct kernels, and
/// the ReLU or leaky ReLU that followed it, applied in the kernel's output pass. Inference
/// only: a training forward pass or a backward pass is a programmer error and traps.
public final class InferenceConvolution: Layer {
    public let convolution: DirectConvolution
    /// The convolution it was made from, as a model file describes it (the fused activation
    /// is not part of this layer's specification; `activation` says whether there was one).
    public let specification: LayerSpecification

    public init(_ conv: Conv2D, activation: Float?) {
        precondition(DirectConvolution.supports(stride: conv.stride), "InferenceConvolution: stride \(conv.stride)")
        convolution = DirectConvolution(
            weights: conv.weight.value, bias: conv.bias?.value.storage, padding: conv.padding,
            dilation: conv.dilation, activation: activation)
        specification = conv.specification
    }

    public var activation: Float? { convolution.activation }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(!training, "InferenceConvolution is for inference; train the network it was folded from")
        return convolution(input)
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        preconditionFailure("InferenceConvolution has no backward pass; train the network it was folded from")
    }
}
