import Foundation
import Testing

@testable import NeuralEngine

/// A random tensor with values in [-1, 1).
func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in 2 * rng.uniform() - 1 })
}

/// Checks a layer's backward pass against central finite differences of the scalar
/// L = Σ output ⊙ R (R random), for the input and for every parameter. Float32 arithmetic
/// limits the agreement to about 1e-2 relative, so that is the tolerance.
func checkGradients(_ layer: Layer, input: Tensor, seed: UInt64 = 7, step: Float = 1e-2, tolerance: Float = 2e-2) {
    let projection = randomTensor(layer.forward(input, training: true).shape, seed: seed)
    func loss(_ x: Tensor) -> Float {
        let y = layer.forward(x, training: true)
        return zip(y.storage, projection.storage).reduce(0) { $0 + $1.0 * $1.1 }
    }
    for parameter in layer.parameters { parameter.zeroGradient() }
    _ = layer.forward(input, training: true)
    let analytic = layer.backward(projection)
    var numeric = input
    for index in input.storage.indices {
        var plus = input
        var minus = input
        plus.storage[index] += step
        minus.storage[index] -= step
        numeric.storage[index] = (loss(plus) - loss(minus)) / (2 * step)
    }
    expectClose(analytic.storage, numeric.storage, tolerance: tolerance, what: "\(layer.specification.kind) input")
    for parameter in layer.parameters {
        let saved = parameter.gradient.storage
        var numericParameter = [Float](repeating: 0, count: parameter.value.count)
        for index in parameter.value.storage.indices {
            let original = parameter.value.storage[index]
            parameter.value.storage[index] = original + step
            let up = loss(input)
            parameter.value.storage[index] = original - step
            let down = loss(input)
            parameter.value.storage[index] = original
            numericParameter[index] = (up - down) / (2 * step)
        }
        expectClose(
            saved, numericParameter, tolerance: tolerance, what: "\(layer.specification.kind) \(parameter.name)")
    }
}

/// The central finite-difference gradient of `f` at `x`, one element at a time.
func numericGradient(at x: Tensor, step: Float = 1e-2, of f: (Tensor) -> Float) -> [Float] {
    x.storage.indices.map { index in
        var plus = x
        var minus = x
        plus.storage[index] += step
        minus.storage[index] -= step
        return (f(plus) - f(minus)) / (2 * step)
    }
}

func expectClose(_ a: [Float], _ b: [Float], tolerance: Float, what: String) {
    let scale = max(1, b.map(abs).max() ?? 1)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance * scale, "\(what): max difference \(worst) (scale \(scale))")
}

@Test func convolutionGradients() {
    var rng = SeededGenerator(seed: 1)
    for (stride, padding, dilation) in [(1, 0, 1), (2, 1, 1), (1, 2, 2)] {
        let conv = Conv2D(
            inputChannels: 2, outputChannels: 3, kernel: 3, stride: stride, padding: padding, dilation: dilation,
            rng: &rng)
        checkGradients(conv, input: randomTensor([2, 2, 7, 6], seed: 3))
    }
}

@Test func batchNormGradients() {
    let bn = BatchNorm2D(channels: 3)
    bn.gamma.value.storage = [1.5, 0.5, -1]
    bn.beta.value.storage = [0.1, -0.2, 0.3]
    checkGradients(bn, input: randomTensor([2, 3, 4, 4], seed: 5), step: 5e-3, tolerance: 3e-2)
}

@Test func activationPoolingAndDenseGradients() {
    // Distinct values on a shuffled grid (spacing 2/72, offset by half a step from 0), so a
    // finite-difference step of 1e-3 never crosses ReLU's kink or changes a pooling winner.
    var rng = SeededGenerator(seed: 9)
    var grid = (0..<72).map { (Float($0) + 0.5) / 36 - 1 }
    grid.shuffle(using: &rng)
    let input = Tensor(shape: [2, 1, 6, 6], storage: grid)
    checkGradients(ReLU(), input: input, step: 1e-3)
    checkGradients(ReLU(slope: 0.1), input: input, step: 1e-3)
    checkGradients(Pool2D(.max, kernel: 2), input: input, step: 1e-3)
    checkGradients(Pool2D(.average, kernel: 3, stride: 2), input: input, step: 1e-3)
    checkGradients(GlobalAveragePool(), input: input, step: 1e-3)
    checkGradients(Dense(inputs: 5, outputs: 4, rng: &rng), input: randomTensor([3, 5], seed: 4))
}

@Test func lossGradientsMatchFiniteDifferences() {
    let logits = randomTensor([4, 3], seed: 8)
    let labels = [0, 2, 1, 2]
    let (_, gradient) = Loss.softmaxCrossEntropy(logits: logits, labels: labels, classWeights: [1, 2, 0.5])
    let numeric = numericGradient(at: logits) {
        Loss.softmaxCrossEntropy(logits: $0, labels: labels, classWeights: [1, 2, 0.5]).0
    }
    expectClose(gradient.storage, numeric, tolerance: 1e-2, what: "softmax cross-entropy")

    let binary = randomTensor([5, 1], seed: 12)
    let binaryLabels = [1, 0, 0, 1, 1]
    let (_, binaryGradient) = Loss.binaryCrossEntropy(logits: binary, labels: binaryLabels, positiveWeight: 3)
    let binaryNumeric = numericGradient(at: binary) {
        Loss.binaryCrossEntropy(logits: $0, labels: binaryLabels, positiveWeight: 3).0
    }
    expectClose(binaryGradient.storage, binaryNumeric, tolerance: 1e-2, what: "binary cross-entropy")
    // Known value: logit 0 gives log 2 whatever the label.
    #expect(abs(Loss.binaryCrossEntropy(logits: Tensor(zeros: [1, 1]), labels: [1]).0 - log(2)) < 1e-6)
}

@Test func dropoutIsIdentityAtInferenceAndScalesInTraining() {
    let dropout = Dropout(rate: 0.5, seed: 3)
    let input = Tensor(shape: [1, 1000], storage: [Float](repeating: 1, count: 1000))
    #expect(dropout.forward(input, training: false) == input)
    let trained = dropout.forward(input, training: true)
    #expect(trained.storage.allSatisfy { $0 == 0 || $0 == 2 })
    let kept = trained.storage.filter { $0 > 0 }.count
    #expect(kept > 400 && kept < 600)
    #expect(dropout.backward(input).storage == trained.storage)
}

@Test func batchNormUsesRunningStatisticsAtInference() {
    let bn = BatchNorm2D(channels: 1, momentum: 1)
    let input = Tensor(shape: [1, 1, 2, 2], storage: [1, 2, 3, 4])
    _ = bn.forward(input, training: true)
    #expect(abs(bn.runningMean.value.storage[0] - 2.5) < 1e-6)
    // Unbiased running variance: var of 1...4 is 1.25, unbiased 5/3.
    #expect(abs(bn.runningVariance.value.storage[0] - 5.0 / 3.0) < 1e-5)
    let output = bn.forward(input, training: false)
    #expect(abs(output.storage[0] - (1 - 2.5) / (5.0 / 3.0 + 1e-5).squareRoot()) < 1e-5)
}

/// A tiny CNN learns to tell images with a bright disk from images without one.
@Test func smallNetworkLearnsASyntheticTask() {
    var rng = SeededGenerator(seed: 42)
    func sample(_ positive: Bool) -> [Float] {
        var image = (0..<(16 * 16)).map { _ in 0.3 * rng.uniform() }
        if positive {
            let cx = 4 + Int(rng.uniform() * 8)
            let cy = 4 + Int(rng.uniform() * 8)
            for y in 0..<16 {
                for x in 0..<16 where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= 6 { image[y * 16 + x] = 1 }
            }
        }
        return image
    }
    var initRNG = SeededGenerator(seed: 1)
    let network = Sequential([
        Conv2D(inputChannels: 1, outputChannels: 8, kernel: 3, padding: 1, rng: &initRNG), BatchNorm2D(channels: 8),
        ReLU(),
        Pool2D(.max, kernel: 2),
        Conv2D(inputChannels: 8, outputChannels: 8, kernel: 3, padding: 1, rng: &initRNG), ReLU(),
        GlobalAveragePool(), Dense(inputs: 8, outputs: 2, rng: &initRNG),
    ])
    let optimizer = AdamW(learningRate: 0.01)
    for _ in 0..<60 {
        var batch: [Float] = []
        var labels: [Int] = []
        for i in 0..<16 {
            batch += sample(i % 2 == 0)
            labels.append(i % 2 == 0 ? 1 : 0)
        }
        network.zeroGradients()
        let logits = network.forward(Tensor(shape: [16, 1, 16, 16], storage: batch), training: true)
        let (_, gradient) = Loss.softmaxCrossEntropy(logits: logits, labels: labels)
        network.backward(gradient)
        optimizer.update(network.parameters)
    }
    var correct = 0
    for i in 0..<100 {
        let positive = i % 2 == 0
        let logits = network.forward(Tensor(shape: [1, 1, 16, 16], storage: sample(positive)), training: false)
        if (logits.storage[1] > logits.storage[0]) == positive { correct += 1 }
    }
    #expect(correct >= 95, "accuracy \(correct)/100")
}

@Test func foldingBatchNormKeepsInferenceOutputs() throws {
    let network = try Architecture.build(Architecture.fullyConvolutional(classes: 3, width: 4), seed: 5)
    let input = randomTensor([2, 1, 32, 32], seed: 6)
    // Give the batch norms non-trivial running statistics and affine parameters.
    for _ in 0..<3 { _ = network.forward(input, training: true) }
    for case let bn as BatchNorm2D in network.layers {
        for channel in 0..<bn.gamma.value.count {
            bn.gamma.value.storage[channel] = 0.5 + Float(channel) * 0.1
            bn.beta.value.storage[channel] = Float(channel) * 0.05 - 0.1
        }
    }
    let folded = network.foldedForInference()
    #expect(folded.layers.count < network.layers.count)
    #expect(!folded.layers.contains { $0 is BatchNorm2D })
    expectClose(
        folded.forward(input, training: false).storage, network.forward(input, training: false).storage,
        tolerance: 1e-4,
        what: "folded network")
}

/// The trainer reaches near-perfect validation accuracy on a synthetic task, keeps its best
/// epoch, and repeats exactly for a seed.
@Test func trainerLearnsAndRepeatsForASeed() throws {
    var rng = SeededGenerator(seed: 9)
    var pixels: [Float] = []
    var labels: [Int] = []
    for i in 0..<120 {
        let positive = i % 2 == 0
        var image = (0..<(24 * 24)).map { _ in 0.3 * rng.uniform() }
        if positive {
            let cx = 6 + Int(rng.uniform() * 12)
            let cy = 6 + Int(rng.uniform() * 12)
            for y in 0..<24 {
                for x in 0..<24 where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= 9 { image[y * 24 + x] = 1 }
            }
        }
        pixels += image
        labels.append(positive ? 1 : 0)
    }
    let data = LabeledImages(channels: 1, height: 24, width: 24, pixels: pixels, labels: labels)
    var options = TrainingOptions()
    options.epochs = 12
    options.seed = 3
    func train() throws -> (TrainingResult, [[Float]]) {
        let network = try Architecture.build(Architecture.fullyConvolutional(classes: 2, width: 4), seed: 3)
        let result = Trainer.fit(
            network, data: data, trainIndices: Array(0..<90), validationIndices: Array(90..<120), options: options,
            classes: 2,
            augment: { image, rng in if rng.uniform() < 0.5 { image.reverse() } })
        return (result, Trainer.predict(network, data: data, indices: Array(90..<120), batchSize: 8))
    }
    let (first, probabilities) = try train()
    let best = first.history[first.bestEpoch - 1]
    #expect((best.validationAccuracy ?? 0) >= 0.95, "\(first.history.map { ($0.validationAccuracy ?? 0) })")
    let correct = (90..<120).filter { (probabilities[$0 - 90][1] > 0.5) == (labels[$0] == 1) }.count
    #expect(correct >= 28)
    let (second, again) = try train()
    #expect(second.history.map(\.trainLoss) == first.history.map(\.trainLoss))
    #expect(again == probabilities)
}

@Test func logitMapsAverageToTheImageLogits() throws {
    let network = try Architecture.build(Architecture.fullyConvolutional(classes: 3, width: 4), seed: 8)
        .foldedForInference()
    let input = randomTensor([2, 1, 32, 32], seed: 2)
    let logits = network.forward(input, training: false)
    let maps = try #require(network.logitMaps(input))
    #expect(maps.shape == [2, 3, 4, 4])
    for image in 0..<2 {
        for c in 0..<3 {
            let plane = maps.storage[((image * 3 + c) * 16)..<((image * 3 + c + 1) * 16)]
            #expect(abs(plane.reduce(0, +) / 16 - logits.storage[image * 3 + c]) < 1e-5)
        }
    }
    let probabilities = try #require(network.probabilityMaps(input))
    for location in 0..<16 {
        let sum = (0..<3).map { probabilities.storage[$0 * 16 + location] }.reduce(0, +)
        #expect(abs(sum - 1) < 1e-5)
    }
}

@Test func parallelInferenceEqualsTheBatchForwardPass() throws {
    let network = try Architecture.build(Architecture.fullyConvolutional(classes: 2, width: 4), seed: 4)
    let input = randomTensor([5, 1, 32, 32], seed: 1)
    _ = network.forward(input, training: true)  // non-trivial batch-norm statistics
    let folded = network.foldedForInference()
    let batch = folded.forward(input, training: false)
    let parallel = folded.infer(input)
    #expect(parallel.shape == batch.shape)
    expectClose(parallel.storage, batch.storage, tolerance: 1e-5, what: "infer")
}

@Test func upsamplingAndSkipConnectionGradients() {
    let input = randomTensor([2, 2, 3, 4], seed: 21)
    checkGradients(Upsample2D(.nearest, factor: 2), input: input)
    checkGradients(Upsample2D(.bilinear, factor: 2), input: input)
    var rng = SeededGenerator(seed: 5)
    let concat = SkipConnection(
        .concatenate,
        branch: Sequential([Conv2D(inputChannels: 2, outputChannels: 3, kernel: 3, padding: 1, rng: &rng)]))
    checkGradients(concat, input: input)
    #expect(concat.forward(input, training: false).shape == [2, 5, 3, 4])
    let add = SkipConnection(
        .add, branch: Sequential([Conv2D(inputChannels: 2, outputChannels: 2, kernel: 1, rng: &rng)]))
    checkGradients(add, input: input)
}

@Test func bilinearUpsamplingMatchesHalfPixelCentres() {
    // [0, 1] upsampled ×2 with half-pixel centres: 0, 0.25, 0.75, 1 (PyTorch align_corners=False).
    let output = Upsample2D(.bilinear, factor: 2).forward(
        Tensor(shape: [1, 1, 1, 2], storage: [0, 1]), training: false)
    #expect(output.storage == [0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1])
    let nearest = Upsample2D(.nearest, factor: 2).forward(
        Tensor(shape: [1, 1, 1, 2], storage: [3, 5]), training: false)
    #expect(nearest.storage == [3, 3, 5, 5, 3, 3, 5, 5])
}

@Test func conv3DMatchesADirectLoopAndItsGradients() {
    var rng = SeededGenerator(seed: 13)
    let conv = Conv3D(inputChannels: 2, outputChannels: 2, kernel: 3, stride: 2, padding: 1, rng: &rng)
    conv.bias!.value.storage = [0.1, -0.2]
    let input = randomTensor([1, 2, 5, 4, 6], seed: 14)
    let output = conv.forward(input, training: false)
    #expect(output.shape == [1, 2, 3, 2, 3])
    // Direct definition at every output voxel.
    for o in 0..<2 {
        for z in 0..<3 {
            for y in 0..<2 {
                for x in 0..<3 {
                    var sum = conv.bias!.value.storage[o]
                    for c in 0..<2 {
                        for kz in 0..<3 {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let (iz, iy, ix) = (z * 2 - 1 + kz, y * 2 - 1 + ky, x * 2 - 1 + kx)
                                    guard iz >= 0, iz < 5, iy >= 0, iy < 4, ix >= 0, ix < 6 else { continue }
                                    sum += conv.weight.value[o, c, kz, ky, kx] * input[0, c, iz, iy, ix]
                                }
                            }
                        }
                    }
                    #expect(abs(output[0, o, z, y, x] - sum) < 1e-4)
                }
            }
        }
    }
    checkGradients(conv, input: input)
}

@Test func fastPathsEqualTheGeneralCode() {
    // 2×2 max pooling at inference has its own loop; training mode takes the general one.
    let input = randomTensor([2, 3, 6, 8], seed: 31)
    let pool = Pool2D(.max, kernel: 2)
    #expect(pool.forward(input, training: false) == pool.forward(input, training: true))
    // Unit-stride im2col copies runs; compare with the stride-1 definition via a padded direct sum.
    var rng = SeededGenerator(seed: 3)
    let conv = Conv2D(inputChannels: 3, outputChannels: 2, kernel: 3, padding: 2, dilation: 2, rng: &rng)
    let output = conv.forward(input, training: false)
    for o in 0..<2 {
        for y in 0..<6 {
            for x in 0..<8 {
                var sum = conv.bias!.value.storage[o]
                for c in 0..<3 {
                    for i in 0..<3 {
                        for j in 0..<3 {
                            let (iy, ix) = (y - 2 + 2 * i, x - 2 + 2 * j)
                            if iy >= 0, iy < 6, ix >= 0, ix < 8 {
                                sum += conv.weight.value[o, c, i, j] * input[0, c, iy, ix]
                            }
                        }
                    }
                }
                #expect(abs(output[0, o, y, x] - sum) < 1e-4)
            }
        }
    }
}
