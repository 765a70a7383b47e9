/// What the 2D and 3D convolutions share: OI(D)HW weights with a cubic or square kernel, an
/// optional bias, stride, padding and dilation; so their specification and parameters.
public protocol ConvolutionLayer: Layer {
    /// The layer kind in a model file ("conv2d", "conv3d").
    static var kind: String { get }
    var weight: Parameter { get }
    var bias: Parameter? { get }
    var stride: Int { get }
    var padding: Int { get }
    var dilation: Int { get }
}

extension ConvolutionLayer {
    public var specification: LayerSpecification {
        LayerSpecification(
            kind: Self.kind, inputChannels: weight.value.shape[1], outputChannels: weight.value.shape[0],
            kernel: weight.value.shape[2], stride: stride, padding: padding, dilation: dilation, bias: bias != nil)
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}
