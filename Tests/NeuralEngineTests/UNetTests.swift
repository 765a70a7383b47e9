import Foundation
import Testing

@testable import NeuralEngine

@Test func unetKeepsTheInputSizeAndDescribesItself() throws {
    let specification = Architecture.unet()
    let network = try Architecture.build(specification, seed: 1)
    #expect(network.specification == specification)
    #expect(network.sizeMultiple == 8)
    // 16/32/64/128 channels: the weights of the defaults (3 slices in, 2 classes out).
    let weights = network.parameters.reduce(0) { $0 + $1.value.count }
    #expect(weights > 400_000 && weights < 550_000, "\(weights) weights")
    let skips = specification.filter { $0.kind == "skip-concatenate" }
    #expect(skips.count == 1 && skips[0].branch?.contains { $0.kind == "skip-concatenate" } == true)

    let small = try Architecture.build(Architecture.unet(inputChannels: 3, classes: 3, width: 2, depth: 2), seed: 2)
    let input = randomTensor([2, 3, 12, 20], seed: 3)
    #expect(small.forward(input, training: true).shape == [2, 3, 12, 20])
    #expect(small.infer(input).shape == [2, 3, 12, 20])
    #expect(Architecture.sizeMultiple(Architecture.unet(depth: 4, upsampling: .nearest)) == 16)
}

@Test func multiplyAddsCountEveryConvolution() {
    // One 3×3 convolution, 2 → 4 channels, on 5×6 pixels with padding 1.
    let conv = LayerSpecification(kind: "conv2d", inputChannels: 2, outputChannels: 4, kernel: 3, padding: 1)
    #expect(Architecture.multiplyAdds([conv], height: 5, width: 6) == 5 * 6 * 2 * 4 * 9)
    // The U-Net level by level: two 3×3 blocks down, two up (from the concatenation), the 1×1
    // convolution below each level, and the final 1×1 to the classes.
    let (width, depth, side, slices, classes) = (16, 3, 256, 3, 2)
    var expected = side * side * width * classes
    for level in 0...depth {
        let (c, pixels) = (width << level, (side >> level) * (side >> level))
        expected += pixels * 9 * ((level == 0 ? slices : c / 2) * c + c * c)
        if level < depth { expected += pixels * 9 * (2 * c * c + c * c) + (pixels / 4) * 2 * c * c }
    }
    let counted = Architecture.multiplyAdds(
        Architecture.unet(inputChannels: slices, classes: classes, width: width, depth: depth), height: side,
        width: side)
    #expect(counted == expected)
}

/// ∂L/∂input and ∂L/∂(every `every`-th weight) of L = Σ output ⊙ R (R random) through a whole
/// network, batch norms in training mode, each beside its central difference and the two
/// one-sided differences (which disagree where a ReLU's kink lies within the step).
private func finiteDifferences(_ network: Sequential, input: Tensor, every: Int, step: Float = 1e-3) -> [(
    analytic: Float, central: Float, forward: Float, backward: Float
)] {
    let projection = randomTensor(network.forward(input, training: true).shape, seed: 9)
    func loss(_ x: Tensor) -> Double {
        zip(network.forward(x, training: true).storage, projection.storage).reduce(0) { $0 + Double($1.0 * $1.1) }
    }
    network.zeroGradients()
    let base = loss(input)
    let analytic = network.backward(projection)
    func entry(_ value: Float, _ up: Double, _ down: Double) -> (Float, Float, Float, Float) {
        let h = Double(step)
        return (value, Float((up - down) / (2 * h)), Float((up - base) / h), Float((base - down) / h))
    }
    var result = input.storage.indices.map { index in
        var (plus, minus) = (input, input)
        plus.storage[index] += step
        minus.storage[index] -= step
        return entry(analytic.storage[index], loss(plus), loss(minus))
    }
    for (position, parameter) in network.parameters.enumerated() {
        for index in stride(from: position % every, to: parameter.value.count, by: every) {
            let original = parameter.value.storage[index]
            parameter.value.storage[index] = original + step
            let up = loss(input)
            parameter.value.storage[index] = original - step
            let down = loss(input)
            parameter.value.storage[index] = original
            result.append(entry(parameter.gradient.storage[index], up, down))
        }
    }
    return result
}

/// Backward through a whole tiny U-Net (depth 2: convolutions, batch norms in training mode,
/// max pooling, nested concatenations, bilinear upsampling) against finite differences.
@Test func tinyUNetGradientsMatchFiniteDifferences() throws {
    func tolerance(_ central: Float) -> Float { 2e-2 * max(1, abs(central)) }
    // With its ReLUs made the identity (leaky, slope 1) the network is smooth: every
    // derivative must match.
    func smooth(_ layers: [LayerSpecification]) -> [LayerSpecification] {
        layers.map { layer in
            var layer = layer.kind == "relu" ? LayerSpecification(kind: "leakyrelu", slope: 1) : layer
            layer.branch = layer.branch.map(smooth)
            return layer
        }
    }
    let specification = Architecture.unet(inputChannels: 2, classes: 2, width: 2, depth: 2)
    let input = randomTensor([2, 2, 8, 8], seed: 8)
    let exact = finiteDifferences(try Architecture.build(smooth(specification), seed: 6), input: input, every: 3)
    let wrong = exact.filter { abs($0.analytic - $0.central) > tolerance($0.central) }
    #expect(wrong.isEmpty, "\(wrong.count) of \(exact.count) derivatives differ, e.g. \(wrong.prefix(3))")
    // With ReLUs, a derivative may differ only where a kink lies within the step (the
    // one-sided differences disagree). Kinks are common here (a batch-norm weight moves a
    // whole channel past zero), about one derivative in five at this step; most must match.
    let checked = finiteDifferences(try Architecture.build(specification, seed: 6), input: input, every: 3)
    let differing = checked.filter { abs($0.analytic - $0.central) > tolerance($0.central) }
    let unexplained = differing.filter { abs($0.forward - $0.backward) <= tolerance($0.central) }
    #expect(unexplained.isEmpty, "\(unexplained.count) derivatives differ without a kink: \(unexplained.prefix(3))")
    #expect(differing.count * 4 <= checked.count, "\(differing.count) of \(checked.count) at kinks")
}

@Test func foldingReachesIntoSkipConnections() throws {
    let network = try Architecture.build(Architecture.unet(inputChannels: 1, classes: 2, width: 2, depth: 2), seed: 3)
    let input = randomTensor([2, 1, 8, 8], seed: 4)
    for _ in 0..<3 { _ = network.forward(input, training: true) }  // running statistics away from 0 and 1
    let folded = network.foldedForInference()
    func batchNorms(_ layers: [Layer]) -> Int {
        layers.reduce(0) { count, layer in
            count + (layer is BatchNorm2D ? 1 : 0)
                + ((layer as? SkipConnection).map { batchNorms($0.branch.layers) } ?? 0)
        }
    }
    #expect(batchNorms(network.layers) == 10)
    #expect(batchNorms(folded.layers) == 0)
    expectClose(
        folded.infer(input).storage, network.forward(input, training: false).storage, tolerance: 1e-4,
        what: "folded U-Net")
}

@Test func oddSizesArePaddedByTheEdgeAndCroppedBack() throws {
    let image = Tensor(shape: [1, 1, 2, 3], storage: [1, 2, 3, 4, 5, 6])
    let padded = image.edgePadded(top: 1, left: 0, height: 4, width: 4)
    #expect(padded.storage == [1, 2, 3, 3, 1, 2, 3, 3, 4, 5, 6, 6, 4, 5, 6, 6])
    #expect(padded.cropped(top: 1, left: 0, height: 2, width: 3) == image)

    let network = try Architecture.build(Architecture.unet(inputChannels: 3, classes: 3, width: 2, depth: 2), seed: 5)
    // A size the network takes as it is: the softmax of the plain forward pass.
    let even = randomTensor([2, 3, 8, 12], seed: 6)
    expectClose(
        network.segmentationProbabilities(even).storage,
        Activation.pixelSoftmax(network.forward(even, training: false)).storage, tolerance: 1e-5, what: "8×12")
    // 13×19 becomes 16×20 (1 row above, 2 below, none left, 1 column right) and comes back 13×19.
    let odd = randomTensor([2, 3, 13, 19], seed: 7)
    let probabilities = network.segmentationProbabilities(odd)
    #expect(probabilities.shape == [2, 3, 13, 19])
    let manual = network.forward(odd.edgePadded(top: 1, left: 0, height: 16, width: 20), training: false)
    expectClose(
        probabilities.storage,
        Activation.pixelSoftmax(manual.cropped(top: 1, left: 0, height: 13, width: 19)).storage, tolerance: 1e-5,
        what: "13×19")
    for location in 0..<(13 * 19) {
        let sum = (0..<3).reduce(Float(0)) { $0 + probabilities.storage[$1 * 13 * 19 + location] }
        #expect(abs(sum - 1) < 1e-5)
    }
}
