/// A trainable tensor and the gradient of the loss with respect to it.
public final class Parameter: @unchecked Sendable {
    public let name: String
    public var value: Tensor
    public var gradient: Tensor

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        gradient = Tensor(zeros: value.shape)
    }

    public func zeroGradient() {
        for index in gradient.storage.indices { gradient.storage[index] = 0 }
    }
}

/// One step of a network. `forward` keeps what `backward` needs (when training), and
/// `backward` takes ∂loss/∂output, accumulates ∂loss/∂parameters into the parameters'
/// gradients and returns ∂loss/∂input.
public protocol Layer: AnyObject {
    /// The layer's kind and settings, as stored in a model file's architecture.
    var specification: LayerSpecification { get }
    var parameters: [Parameter] { get }
    /// Running statistics and other non-trainable state saved with the model.
    var buffers: [Parameter] { get }
    func forward(_ input: Tensor, training: Bool) -> Tensor
    func backward(_ gradient: Tensor) -> Tensor
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var buffers: [Parameter] { [] }
}

/// A layer's description: what the architecture JSON of a model file holds for it.
public struct LayerSpecification: Codable, Sendable, Hashable {
    public var kind: String
    public var inputChannels: Int?
    public var outputChannels: Int?
    public var kernel: Int?
    public var stride: Int?
    public var padding: Int?
    public var dilation: Int?
    public var bias: Bool?
    public var slope: Float?
    public var rate: Float?
    /// The inner layers of a skip connection.
    public var branch: [LayerSpecification]?

    public init(
        kind: String, inputChannels: Int? = nil, outputChannels: Int? = nil, kernel: Int? = nil, stride: Int? = nil,
        padding: Int? = nil, dilation: Int? = nil, bias: Bool? = nil, slope: Float? = nil, rate: Float? = nil,
        branch: [LayerSpecification]? = nil
    ) {
        self.kind = kind
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.bias = bias
        self.slope = slope
        self.rate = rate
        self.branch = branch
    }
}
