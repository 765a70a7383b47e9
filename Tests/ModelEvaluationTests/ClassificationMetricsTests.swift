import Foundation
import SeededRandom
import Testing

@testable import ModelEvaluation

// MARK: - ROC and AUC

@Test func aucOfHandComputedCase() throws {
    // Positives 0.35, 0.8; negatives 0.1, 0.4: 3 of the 4 pairs are ordered correctly.
    let auc = try #require(ROC.auc(scores: [0.1, 0.4, 0.35, 0.8], positives: [false, false, true, true]))
    #expect(auc == 0.75)
}

@Test func aucCountsTiesAsHalf() throws {
    // Pairs (pos, neg): (0.5, 0.5) tie = 1/2, (0.5, 0.2) = 1, (0.9, 0.5) = 1, (0.9, 0.2) = 1 → 3.5 / 4.
    let auc = try #require(ROC.auc(scores: [0.5, 0.5, 0.2, 0.9], positives: [true, false, false, true]))
    #expect(auc == 0.875)
    // Everything tied: every pair is half.
    #expect(ROC.auc(scores: [0.3, 0.3, 0.3, 0.3, 0.3], positives: [true, false, true, false, false]) == 0.5)
    // A three-way tie block mixing both classes: positives {2, 1, 1}, negatives {1, 1, 0}.
    // Pairs: 2 beats all 3 (3); each positive 1 ties two negative 1s (2 × 1/2) and beats the 0,
    // so 2 × 2. Total 7 / 9.
    let mixed = try #require(ROC.auc(scores: [2, 1, 1, 1, 1, 0], positives: [true, true, true, false, false, false]))
    #expect(abs(mixed - 7.0 / 9.0) < 1e-15)
}

@Test func aucIsUndefinedWithOneClass() {
    #expect(ROC.auc(scores: [0.1, 0.9, 0.5], positives: [true, true, true]) == nil)
    #expect(ROC.auc(scores: [0.1, 0.9], positives: [false, false]) == nil)
    #expect(ROC.auc(scores: [], positives: []) == nil)
    #expect(ROC.curve(scores: [0.1, 0.9], positives: [false, false]) == nil)
}

@Test func aucOfSeparatedAndReversedScores() {
    let scores = (0..<20).map { Double($0) / 20 }
    let positives = scores.map { $0 >= 0.5 }
    #expect(ROC.auc(scores: scores, positives: positives) == 1)
    #expect(ROC.auc(scores: scores.map { -$0 }, positives: positives) == 0)
}

@Test func aucEqualsTrapezoidalAreaOfCurve() throws {
    var generator = SplitMix64(seed: 7)
    for _ in 0..<20 {
        // Scores rounded to one decimal, so there are many ties across classes.
        let positives = (0..<300).map { _ in generator.nextDouble() < 0.4 }
        let scores = positives.map { (($0 ? 0.15 : 0) + generator.nextDouble() * 0.9) }.map { ($0 * 10).rounded() / 10 }
        let auc = try #require(ROC.auc(scores: scores, positives: positives))
        let curve = try #require(ROC.curve(scores: scores, positives: positives))
        #expect(abs(auc - ROC.trapezoidalArea(curve)) < 1e-12)
        #expect(curve.first == ROCPoint(falsePositiveRate: 0, truePositiveRate: 0, threshold: .infinity))
        #expect(curve.last?.falsePositiveRate == 1 && curve.last?.truePositiveRate == 1)
        #expect(zip(curve, curve.dropFirst()).allSatisfy { $0.threshold > $1.threshold })
    }
}

@Test func curveOfHandComputedCase() throws {
    let curve = try #require(ROC.curve(scores: [0.1, 0.4, 0.35, 0.8], positives: [false, false, true, true]))
    #expect(curve.map(\.falsePositiveRate) == [0, 0, 0.5, 0.5, 1])
    #expect(curve.map(\.truePositiveRate) == [0, 0.5, 0.5, 1, 1])
    #expect(curve.map(\.threshold) == [.infinity, 0.8, 0.4, 0.35, 0.1])
}

@Test func oneVsRestAUCAndMacroAverage() throws {
    // Class 0 is ranked perfectly; class 2 never occurs.
    let probabilities: [[Double]] = [[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.1, 0.7]]
    let truth = [0, 0, 1, 1]
    let perClass = ROC.oneVsRestAUC(probabilities: probabilities, truth: truth)
    #expect(perClass.count == 3)
    #expect(perClass[0] == 1)
    // Class 1: positives 0.3, 0.1 against negatives 0.1, 0.2: 1 + 1 + 1/2 (tie) + 0 of 4 pairs.
    #expect(perClass[1] == 0.625)
    #expect(perClass[2] == nil)
    #expect(ROC.macroAUC(probabilities: probabilities, truth: truth) == (1 + 0.625) / 2)
}

// MARK: - Confusion matrix

@Test func confusionMatrixThreeClassHandExample() throws {
    let m = ConfusionMatrix(
        classes: ["covid", "normal", "viral-pneumonia"],
        truth: [0, 0, 0, 0, 1, 1, 1, 2, 2, 2], predicted: [0, 0, 0, 1, 1, 1, 2, 2, 2, 0])
    #expect(m.counts == [[3, 1, 0], [0, 2, 1], [1, 0, 2]])
    #expect(m.total == 10 && m.correct == 7)
    #expect(m.accuracy == 0.7)
    #expect(
        m.binary(positive: 0) == BinaryCounts(truePositives: 3, falsePositives: 1, trueNegatives: 5, falseNegatives: 1))
    #expect(m.sensitivity(of: 0) == 0.75)
    #expect(m.specificity(of: 0) == 5.0 / 6.0)
    #expect(m.precision(of: 0) == 0.75)
    #expect(m.f1(of: 0) == 0.75)
    #expect(m.sensitivity(of: 1) == 2.0 / 3.0)
    #expect(m.specificity(of: 2) == 6.0 / 7.0)
    let balanced = try #require(m.balancedAccuracy)
    #expect(abs(balanced - (0.75 + 2.0 / 3.0 + 2.0 / 3.0) / 3) < 1e-15)
}

@Test func confusionMatrixBinaryHandExample() throws {
    let m = ConfusionMatrix(
        classes: ["noncovid", "covid"], truth: [1, 1, 1, 0, 0, 0, 0], predicted: [1, 1, 0, 0, 0, 0, 1])
    let covid = m.binary(positive: 1)
    #expect(covid == BinaryCounts(truePositives: 2, falsePositives: 1, trueNegatives: 3, falseNegatives: 1))
    #expect(covid.sensitivity == 2.0 / 3.0)
    #expect(covid.specificity == 0.75)
    #expect(covid.precision == 2.0 / 3.0)
    #expect(covid.negativePredictiveValue == 0.75)
    // Swapping the positive class swaps sensitivity and specificity.
    #expect(m.binary(positive: 0).sensitivity == 0.75)
}

@Test func confusionMatrixUndefinedMetricsAreNil() {
    let m = ConfusionMatrix(classes: ["a", "b"], truth: [0, 0], predicted: [0, 0])
    #expect(m.sensitivity(of: 1) == nil)  // no true b
    #expect(m.precision(of: 1) == nil)  // never predicted b
    #expect(m.specificity(of: 0) == nil)  // no negatives for a
    #expect(ConfusionMatrix(classes: ["a"], truth: [], predicted: []).accuracy == nil)
}

@Test func confusionMatrixFromProbabilitiesPoolsAndCodes() throws {
    let classes = ["a", "b", "c"]
    let fold1 = ConfusionMatrix(
        classes: classes, truth: [0, 2], probabilities: [[0.5, 0.3, 0.2], [0.1, 0.45, 0.45]])
    #expect(fold1.counts == [[1, 0, 0], [0, 0, 0], [0, 1, 0]])  // argmax tie goes to the lower index
    let fold2 = ConfusionMatrix(classes: classes, truth: [1], predicted: [1])
    let pooled = fold1 + fold2
    #expect(pooled.total == 3 && pooled.correct == 2)
    let decoded = try JSONDecoder().decode(ConfusionMatrix.self, from: JSONEncoder().encode(pooled))
    #expect(decoded == pooled)
    let ragged = Data(#"{"classes":["a","b"],"counts":[[1,2],[3]]}"#.utf8)
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(ConfusionMatrix.self, from: ragged) }
}

// MARK: - Summaries over folds

@Test func metricSummaryMeanAndSampleStandardDeviation() throws {
    let summary = MetricSummary([0.90, 0.92, 0.94])
    #expect(abs(try #require(summary.mean) - 0.92) < 1e-15)
    #expect(abs(try #require(summary.standardDeviation) - 0.02) < 1e-15)  // divisor n − 1
    #expect(summary.formatted() == "0.920 ± 0.020")
    #expect(summary.formatted(fractionDigits: 2) == "0.92 ± 0.02")
    #expect(MetricSummary([0.9]).formatted() == "0.900")
    #expect(MetricSummary([Double]()).formatted() == "n/a")
    let partial = MetricSummary([0.8, nil, 1.0])
    #expect(partial.values == [0.8, 1.0] && partial.undefinedCount == 1)
}
