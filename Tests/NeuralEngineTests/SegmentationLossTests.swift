import Foundation
import Testing

@testable import NeuralEngine

/// Two pixels, two classes: background logits 0, foreground logits ln 3 and 0, so the
/// foreground probabilities are 3/4 and 1/2. Pixel 0 is foreground, pixel 1 background.
private let twoPixels = Tensor(shape: [1, 2, 1, 2], storage: [0, 0, Float(log(3.0)), 0])
private let twoLabels: [UInt8] = [1, 0]

@Test func pixelCrossEntropyMatchesHandComputedValues() {
    let (loss, gradient) = Loss.pixelCrossEntropy(logits: twoPixels, labels: twoLabels)
    #expect(abs(loss - Float((-log(0.75) - log(0.5)) / 2)) < 1e-6)
    // (p − onehot) / 2 per pixel: pixel 0 (0.25, −0.25)/2, pixel 1 (−0.5, 0.5)/2, stored class by class.
    expectClose(gradient.storage, [0.125, -0.25, -0.125, 0.25], tolerance: 1e-6, what: "cross-entropy gradient")
    // Pixel 1 weighted out: the loss is pixel 0's alone and pixel 1 gets no gradient.
    let (masked, maskedGradient) = Loss.pixelCrossEntropy(logits: twoPixels, labels: twoLabels, pixelWeights: [1, 0])
    #expect(abs(masked - Float(-log(0.75))) < 1e-6)
    #expect(maskedGradient.storage[1] == 0 && maskedGradient.storage[3] == 0)
    // Class weights 1 (background) and 3 (foreground): (3·(−ln 3/4) + 1·(−ln 1/2)) / 4.
    let (weighted, _) = Loss.pixelCrossEntropy(logits: twoPixels, labels: twoLabels, classWeights: [1, 3])
    #expect(abs(weighted - Float((-3 * log(0.75) - log(0.5)) / 4)) < 1e-6)
    // Nothing weighted in: no loss, no gradient.
    let (none, noGradient) = Loss.pixelCrossEntropy(logits: twoPixels, labels: twoLabels, pixelWeights: [0, 0])
    #expect(none == 0 && noGradient.storage.allSatisfy { $0 == 0 })
}

@Test func softDiceMatchesHandComputedValues() {
    // Foreground: overlap 3/4, predicted 3/4 + 1/2, actual 1.
    let (plain, _) = Loss.softDice(logits: twoPixels, labels: twoLabels, smoothing: 0)
    #expect(abs(plain - Float(1 - 1.5 / 2.25)) < 1e-6)
    let (smoothed, _) = Loss.softDice(logits: twoPixels, labels: twoLabels, smoothing: 1)
    #expect(abs(smoothed - Float(1 - 2.5 / 3.25)) < 1e-6)
    // Pixel 1 left out: overlap 3/4, predicted 3/4, actual 1.
    let (masked, _) = Loss.softDice(logits: twoPixels, labels: twoLabels, pixelWeights: [1, 0], smoothing: 0)
    #expect(abs(masked - Float(1 - 1.5 / 1.75)) < 1e-6)
    // Both classes: background overlap 1/2, predicted 1/4 + 1/2, actual 1 → Dice 1/1.75.
    let (both, _) = Loss.softDice(logits: twoPixels, labels: twoLabels, classes: [0, 1], smoothing: 0)
    #expect(abs(both - Float(1 - (1 / 1.75 + 1.5 / 2.25) / 2)) < 1e-6)
    // No foreground anywhere and none predicted: with smoothing, Dice 1 and loss near 0.
    let sure = Tensor(shape: [1, 2, 1, 2], storage: [20, 20, -20, -20])
    #expect(Loss.softDice(logits: sure, labels: [0, 0]).0 < 1e-6)
    // The combined loss adds the weighted terms.
    let combined = SegmentationLoss(crossEntropyWeight: 0.5, diceWeight: 2, smoothing: 0)(
        logits: twoPixels, labels: twoLabels
    ).0
    #expect(abs(combined - Float(0.5 * (-log(0.75) - log(0.5)) / 2 + 2 * (1 - 1.5 / 2.25))) < 1e-6)
}

/// ∂loss/∂logits of every term and option against central differences of the loss itself.
@Test func segmentationLossGradientsMatchFiniteDifferences() {
    let logits = randomTensor([2, 3, 3, 4], seed: 17).scaled(by: 2)
    var rng = SeededGenerator(seed: 4)
    let labels = (0..<24).map { _ in UInt8(rng.next() % 3) }
    let weights = (0..<24).map { index -> Float in index % 5 == 0 ? 0 : 0.5 + rng.uniform() }
    let losses: [(String, SegmentationLoss, [Float]?)] = [
        ("cross-entropy", SegmentationLoss(diceWeight: 0, classWeights: [0.5, 2, 1]), weights),
        ("dice", SegmentationLoss(crossEntropyWeight: 0, smoothing: 0.5), weights),
        ("dice of all classes", SegmentationLoss(crossEntropyWeight: 0, diceClasses: [0, 1, 2], smoothing: 0), nil),
        ("dice + cross-entropy", SegmentationLoss(crossEntropyWeight: 0.7, diceWeight: 1.3), weights),
    ]
    for (name, loss, pixelWeights) in losses {
        let (_, gradient) = loss(logits: logits, labels: labels, pixelWeights: pixelWeights)
        let numeric = numericGradient(at: logits) { loss(logits: $0, labels: labels, pixelWeights: pixelWeights).0 }
        let scale = gradient.storage.map(abs).max() ?? 0
        #expect(scale > 1e-3, "\(name): the gradient vanished")
        let worst = zip(gradient.storage, numeric).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 2e-3 * max(scale, 0.05), "\(name): max difference \(worst), largest gradient \(scale)")
        // Pixels weighted 0 get no gradient.
        if let pixelWeights {
            for pixel in 0..<24 where pixelWeights[pixel] == 0 {
                let (image, location) = (pixel / 12, pixel % 12)
                for c in 0..<3 { #expect(gradient.storage[(image * 3 + c) * 12 + location] == 0) }
            }
        }
    }
}

@Test func pixelSoftmaxAndClassPerPixelFollowEachPixel() {
    let logits = randomTensor([2, 3, 4, 5], seed: 23).scaled(by: 4)
    let probabilities = Activation.pixelSoftmax(logits)
    let classes = Activation.classPerPixel(logits)
    for image in 0..<2 {
        for location in 0..<20 {
            let values = (0..<3).map { logits.storage[(image * 3 + $0) * 20 + location] }
            let expected = Activation.softmax(values)
            for c in 0..<3 { #expect(probabilities.storage[(image * 3 + c) * 20 + location] == expected[c]) }
            #expect(Int(classes[image * 20 + location]) == values.indices.max { values[$0] < values[$1] })
        }
    }
}

@Test func segmentationCountsGiveDiceAndAccuracy() {
    var counts = SegmentationCounts(classes: 3)
    // Class 1: 2 right, 1 predicted elsewhere, 1 missed; the last pixel is weighted out.
    counts.add(predicted: [1, 1, 1, 0, 2, 0, 2], labels: [1, 1, 0, 1, 2, 0, 1], weights: [1, 1, 1, 1, 1, 1, 0])
    #expect(abs(counts.dice(1) - 4.0 / 6.0) < 1e-6)
    #expect(abs(counts.dice(2) - 1) < 1e-6)
    #expect(abs(counts.accuracy - 4.0 / 6.0) < 1e-6)
    #expect(SegmentationCounts(classes: 2).dice(1) == 1)
}

extension Tensor {
    func scaled(by factor: Float) -> Tensor { Tensor(shape: shape, storage: storage.map { $0 * factor }) }
}
