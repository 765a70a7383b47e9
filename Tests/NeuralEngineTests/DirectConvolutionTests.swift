import NeuralEngine
import Testing

// The direct kernels (CConvKernels through DirectConvolution) against the naive convolution,
// and networks folded for inference against the training forward pass (im2col + sgemm).

/// Unit-stride cases: odd sizes, padding, dilation, 1×1 and 5×5 kernels, channel counts below,
/// at and past the 16-channel block (partial input and output blocks), batches.
private let directCases: [ConvolutionCase] = [
    ConvolutionCase(),
    ConvolutionCase(inputChannels: 3, outputChannels: 2, height: 6, width: 6, padding: 1),
    ConvolutionCase(inputChannels: 2, outputChannels: 2, height: 9, width: 9, dilation: 2, bias: false),
    ConvolutionCase(batch: 2, inputChannels: 4, outputChannels: 5, height: 8, width: 7),
    ConvolutionCase(batch: 3, inputChannels: 3, outputChannels: 17, height: 13, width: 11, padding: 1),
    ConvolutionCase(batch: 2, inputChannels: 16, outputChannels: 16, height: 7, width: 9, padding: 1, bias: false),
    ConvolutionCase(batch: 2, inputChannels: 19, outputChannels: 33, height: 10, width: 5, padding: 1),
    ConvolutionCase(inputChannels: 40, outputChannels: 20, height: 31, width: 29, padding: 2, dilation: 2),
    ConvolutionCase(batch: 2, inputChannels: 24, outputChannels: 7, height: 4, width: 5, kernel: 1),
    ConvolutionCase(batch: 2, inputChannels: 2, outputChannels: 18, height: 6, width: 6, kernel: 5, padding: 2),
    ConvolutionCase(inputChannels: 1, outputChannels: 1, height: 2, width: 2, kernel: 3, padding: 1, bias: false),
    ConvolutionCase(inputChannels: 32, outputChannels: 64, height: 1, width: 1, kernel: 3, padding: 1),
]

@Test(arguments: directCases, [nil, 0, 0.1] as [Float?])
func directConvolutionMatchesANaiveConvolution(_ setup: ConvolutionCase, activation: Float?) throws {
    let (input, weights, bias) = randomConvolutionOperands(setup)

    let direct = DirectConvolution(
        weights: weights, bias: bias, padding: setup.padding.height, dilation: setup.dilation.height,
        activation: activation)
    let result = direct(input)
    let reference = naiveConvolution(input, weights, bias, setup)
    try #require(result.shape == reference.shape)
    let worst = worstRelativeError(result, reference, activation: activation)
    #expect(worst <= relativeTolerance, "\(setup) on \(DirectConvolution.instructionSet)")
}

@Test func directConvolutionGivesTheSameResultTwice() {
    // Scratch buffers are reused between calls: a second call must not see the first's values.
    let weights = randomTensor([5, 3, 3, 3], seed: 1)
    let direct = DirectConvolution(weights: weights, bias: nil, padding: 1, activation: 0)
    let large = direct(randomTensor([2, 3, 20, 20], seed: 2))
    let small = randomTensor([1, 3, 6, 7], seed: 3)
    let first = direct(small)
    #expect(large.shape == [2, 5, 20, 20])
    #expect(direct(small) == first)
}

/// `layers` without their batch normalisations (inside skip connections too), so that a
/// training forward pass computes what inference does.
private func withoutBatchNorm(_ layers: [LayerSpecification]) -> [LayerSpecification] {
    layers.compactMap { layer in
        guard layer.kind != "batchnorm2d" else { return nil }
        var layer = layer
        layer.branch = layer.branch.map(withoutBatchNorm)
        return layer
    }
}

/// The U-Nets and the classifier of width 16 run on packed maps from end to end (whole 16-channel blocks: pooling,
/// upsampling and concatenation on the maps, odd sizes halved and doubled); the others switch
/// between maps and tensors where a layer cannot read the maps (blocks of 4 or 6 channels).
@Test(arguments: [
    (Architecture.unet(inputChannels: 3, classes: 2, width: 4, depth: 2), [2, 3, 20, 24]),
    (Architecture.fullyConvolutional(inputChannels: 1, classes: 3, width: 6), [3, 1, 24, 24]),
    (Architecture.unet(inputChannels: 3, classes: 3, width: 16, depth: 2), [2, 3, 12, 20]),
    (Architecture.unet(inputChannels: 1, classes: 2, width: 16, depth: 1, upsampling: .nearest), [1, 1, 10, 6]),
    // The classifier at width 16: its Winograd convolutions pool as they go.
    (Architecture.fullyConvolutional(inputChannels: 1, classes: 2, width: 16, blocks: 4), [3, 1, 32, 24]),
])
func foldedInferenceEqualsTheTrainingForwardPass(layers: [LayerSpecification], shape: [Int]) throws {
    let network = try Architecture.build(withoutBatchNorm(layers), seed: 11)
    for parameter in network.parameters where parameter.name == "bias" {
        for index in parameter.value.storage.indices { parameter.value.storage[index] = 0.1 * Float(index % 5) - 0.2 }
    }
    let input = randomTensor(shape, seed: 12)
    let folded = network.foldedForInference()
    // Every convolution runs on the direct kernels, each ReLU fused into the one before it.
    #expect(!folded.layers.contains { $0 is Conv2D || $0 is ReLU })
    #expect(folded.runsOnPackedMaps)
    let training = network.forward(input, training: true)
    let inference = folded.infer(input)
    try #require(training.shape == inference.shape)
    var worst: Float = 0
    let scale = training.storage.map(abs).max() ?? 1
    for index in training.storage.indices {
        worst = max(worst, abs(training.storage[index] - inference.storage[index]) / max(scale, 1e-6))
    }
    #expect(worst <= 1e-4)
}

/// Convolutions that `infer` runs on packed maps: 3×3 with padding 1 and at least 16 input
/// channels on even sizes go through Winograd F(2×2, 3×3) (whole and partial channel blocks, a
/// 2×2 image, several bands), the others through the direct kernels writing packed maps (odd
/// sizes, fewer input channels, 1×1).
private let packedCases: [ConvolutionCase] = [
    ConvolutionCase(inputChannels: 16, outputChannels: 16, height: 8, width: 6, padding: 1),
    ConvolutionCase(batch: 2, inputChannels: 32, outputChannels: 17, height: 4, width: 4, padding: 1, bias: false),
    ConvolutionCase(inputChannels: 20, outputChannels: 40, height: 6, width: 10, padding: 1),
    ConvolutionCase(inputChannels: 16, outputChannels: 16, height: 2, width: 2, padding: 1),
    ConvolutionCase(inputChannels: 48, outputChannels: 16, height: 36, width: 12, padding: 1),
    ConvolutionCase(batch: 2, inputChannels: 3, outputChannels: 16, height: 5, width: 7, padding: 1),
    ConvolutionCase(inputChannels: 16, outputChannels: 24, height: 7, width: 9, padding: 1),
    ConvolutionCase(inputChannels: 16, outputChannels: 8, height: 7, width: 5, kernel: 1),
]

@Test(arguments: packedCases, [nil, 0, 0.1] as [Float?])
func packedMapsConvolutionMatchesANaiveConvolution(_ setup: ConvolutionCase, activation: Float?) throws {
    let (input, weights, bias) = randomConvolutionOperands(setup)
    var generator = SeededGenerator(seed: 1)
    let conv = Conv2D(
        inputChannels: setup.inputChannels, outputChannels: setup.outputChannels, kernel: setup.kernel.height,
        stride: 1, padding: setup.padding.height, dilation: 1, bias: bias != nil, rng: &generator)
    conv.weight.value = weights
    if let bias { conv.bias!.value = Tensor(shape: [bias.count], storage: bias) }
    let network = Sequential([InferenceConvolution(conv, activation: activation)])
    #expect(network.runsOnPackedMaps)
    let result = network.infer(input)
    let reference = naiveConvolution(input, weights, bias, setup)
    try #require(result.shape == reference.shape)
    let worst = worstRelativeError(result, reference, activation: activation)
    #expect(worst <= relativeTolerance, "\(setup) on \(DirectConvolution.instructionSet)")
}

@Test func packedMapsFromReusedBuffersKeepTheirBordersZero() throws {
    // The scratch pool hands back buffers with an earlier call's values: every border pixel a
    // convolution reads must be written again (a Winograd output left the bottom row's first
    // border pixel stale, which the next 3×3 convolution read at its bottom-left output pixel).
    let layers = withoutBatchNorm(Architecture.unet(inputChannels: 1, classes: 2, width: 16, depth: 1))
    let network = try Architecture.build(layers, seed: 5)
    let folded = network.foldedForInference()
    let large = randomTensor([2, 1, 40, 36], seed: 6).storage.map { $0 * 50 + 30 }
    _ = folded.infer(Tensor(shape: [2, 1, 40, 36], storage: large))
    let input = randomTensor([2, 1, 8, 10], seed: 7)
    let expected = network.forward(input, training: true)
    let scale = expected.storage.map(abs).max() ?? 1
    for _ in 0..<3 {
        let result = folded.infer(input)
        let worst = zip(result.storage, expected.storage).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * max(scale, 1e-6))
    }
}
