import Foundation
import SeededRandom
import Testing

@testable import ModelEvaluation

@Test func eceOfHandComputedBinaryCase() throws {
    // Bins of width 0.1: [0, .1) holds 0.05 (negative): gap 0.05; [.1, .2) holds 0.15 (positive):
    // gap 0.85; [.5, .6) holds 0.55 twice (one positive): gap 0.05; [.9, 1] holds 0.95 twice (both
    // positive): gap 0.05. ECE = (0.05 + 0.85 + 2 × 0.05 + 2 × 0.05) / 6 = 1.1 / 6.
    let p = [0.05, 0.15, 0.95, 0.95, 0.55, 0.55]
    let positives = [false, true, true, true, true, false]
    let ece = try #require(Calibration.expectedCalibrationError(positiveProbabilities: p, positives: positives))
    #expect(abs(ece - 1.1 / 6) < 1e-12)

    let table = Calibration.reliability(confidences: p, outcomes: positives)
    #expect(table.count == Calibration.defaultBinCount)
    #expect(table.map(\.count) == [1, 1, 0, 0, 0, 2, 0, 0, 0, 2])
    #expect(table[5].accuracy == 0.5)
    #expect(abs(try #require(table[5].meanConfidence) - 0.55) < 1e-12)
    #expect(table[2].meanConfidence == nil && table[2].accuracy == nil && table[2].gap == 0)
    #expect(abs(table[9].lower - 0.9) < 1e-12 && table[9].upper == 1)
}

@Test func eceOfHandComputedMultiClassCase() throws {
    // Confidences 0.9 (right), 0.7 (wrong), 0.4 (right) in separate bins: (0.1 + 0.7 + 0.6) / 3.
    let probabilities: [[Double]] = [[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.4, 0.35, 0.25]]
    let ece = try #require(Calibration.expectedCalibrationError(probabilities: probabilities, truth: [0, 0, 0]))
    #expect(abs(ece - 1.4 / 3) < 1e-12)
    // Bin edges are left-closed and 1.0 lands in the last bin.
    let edges = Calibration.reliability(confidences: [0, 0.5, 1], outcomes: [false, true, true], bins: 2)
    #expect(edges.map(\.count) == [1, 2])
    #expect(Calibration.expectedCalibrationError(confidences: [], outcomes: []) == nil)
}

@Test func eceIsNearZeroForCalibratedData() throws {
    var generator = SplitMix64(seed: 2017)
    let n = 200_000
    let p = (0..<n).map { _ in generator.nextDouble() }
    let positives = p.map { generator.nextDouble() < $0 }
    // Sampling noise alone gives about 0.003 with 20,000 samples per bin.
    let ece = try #require(Calibration.expectedCalibrationError(positiveProbabilities: p, positives: positives))
    #expect(ece < 0.01)
    // An over-confident version of the same predictions is clearly miscalibrated.
    let sharpened = p.map { $0 < 0.5 ? $0 / 2 : 1 - (1 - $0) / 2 }
    let worse = try #require(
        Calibration.expectedCalibrationError(positiveProbabilities: sharpened, positives: positives))
    #expect(worse > 0.1)
}

@Test func plattScalingRecoversKnownParameters() throws {
    // The model's probabilities are σ(x); the truth follows σ(2x − 0.5).
    var generator = SplitMix64(seed: 1999)
    let x = (0..<50_000).map { _ in generator.nextDouble() * 8 - 4 }
    let positives = x.map { generator.nextDouble() < sigmoid(2 * $0 - 0.5) }
    let fit = try #require(PlattScaling.fit(probabilities: x.map(sigmoid), positives: positives))
    #expect(abs(fit.a - 2) < 0.1)
    #expect(abs(fit.b + 0.5) < 0.05)
    #expect(abs(fit(0.5) - sigmoid(fit.b)) < 1e-9)

    // Same data, same fit: no randomness inside.
    #expect(PlattScaling.fit(probabilities: x.map(sigmoid), positives: positives) == fit)
}

@Test func plattScalingStaysFiniteOnSeparableData() throws {
    let fit = try #require(PlattScaling.fit(logits: [-2, -1, 1, 2], positives: [false, false, true, true]))
    #expect(fit.a.isFinite && fit.a > 0 && fit.b.isFinite)
    #expect(PlattScaling.fit(logits: [1, 2], positives: [true, true]) == nil)
    #expect(abs(PlattScaling()(0.3) - 0.3) < 1e-12)  // a = 1, b = 0 is the identity
}

@Test func temperatureScalingRecoversKnownTemperature() throws {
    // Labels drawn from softmax(z / 2.5): the model's logits are 2.5 times too confident.
    let trueTemperature = 2.5
    var generator = SplitMix64(seed: 42)
    var logits: [[Double]] = []
    var truth: [Int] = []
    for _ in 0..<20_000 {
        let z = (0..<3).map { _ in generator.nextDouble() * 12 - 6 }
        let p = Calibration.softmax(z.map { $0 / trueTemperature })
        let u = generator.nextDouble()
        truth.append(u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2)
        logits.append(z)
    }
    let fit = try #require(TemperatureScaling.fit(logits: logits, truth: truth))
    #expect(abs(fit.temperature - trueTemperature) < 0.15)
    let nll = { (t: Double) in TemperatureScaling.negativeLogLikelihood(logits: logits, truth: truth, temperature: t) }
    #expect(nll(fit.temperature) <= nll(1))
    #expect(nll(fit.temperature) <= nll(trueTemperature) + 1e-12)
    // Temperature changes confidence, never the predicted class.
    let calibrated = fit(logits[0])
    #expect(abs(calibrated.reduce(0, +) - 1) < 1e-12)
    #expect(calibrated.firstIndex(of: calibrated.max()!) == logits[0].firstIndex(of: logits[0].max()!))
    #expect(TemperatureScaling.fit(logits: [], truth: []) == nil)
}
