/// One operating point of a ROC curve: predicting positive when `score >= threshold`.
public struct ROCPoint: Codable, Sendable, Equatable {
    public var falsePositiveRate: Double
    public var truePositiveRate: Double
    /// `+infinity` for the first point (nothing predicted positive).
    public var threshold: Double

    public init(falsePositiveRate: Double, truePositiveRate: Double, threshold: Double) {
        self.falsePositiveRate = falsePositiveRate
        self.truePositiveRate = truePositiveRate
        self.threshold = threshold
    }
}

/// Receiver operating characteristic: area and curve, binary and one-vs-rest.
public enum ROC {
    /// The area under the ROC curve, computed exactly as the Mann–Whitney statistic
    /// U / (n₊ · n₋): the probability that a random positive scores higher than a random
    /// negative, with each tied positive–negative pair counted as 1/2 (Hanley & McNeil 1982).
    /// Ties get mid-ranks, so this equals the trapezoidal area under `curve`, and is O(n log n).
    ///
    /// - Returns: nil when there are no positives or no negatives (the AUC is undefined).
    public static func auc(scores: [Double], positives: [Bool]) -> Double? {
        precondition(scores.count == positives.count, "\(scores.count) scores for \(positives.count) labels")
        precondition(!scores.contains { $0.isNaN }, "ROC scores must not be NaN")
        let positiveCount = positives.filter { $0 }.count
        let negativeCount = positives.count - positiveCount
        guard positiveCount > 0, negativeCount > 0 else { return nil }

        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        // Ranks are 1-based; a tie block occupying positions start..<end gets the mean rank
        // (start + 1 + end) / 2, a multiple of 1/2 and so exact in Double.
        var positiveRankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && scores[order[end]] == scores[order[start]] { end += 1 }
            let midRank = Double(start + 1 + end) / 2
            for k in start..<end where positives[order[k]] { positiveRankSum += midRank }
            start = end
        }
        let n1 = Double(positiveCount)
        let u = positiveRankSum - n1 * (n1 + 1) / 2
        return u / (n1 * Double(negativeCount))
    }

    /// The ROC curve through every distinct score, from (0, 0) at threshold +∞ to (1, 1) at the
    /// lowest score. Tied scores move diagonally, which is what makes its trapezoidal area equal `auc`.
    ///
    /// - Returns: nil when there are no positives or no negatives.
    public static func curve(scores: [Double], positives: [Bool]) -> [ROCPoint]? {
        precondition(scores.count == positives.count, "\(scores.count) scores for \(positives.count) labels")
        precondition(!scores.contains { $0.isNaN }, "ROC scores must not be NaN")
        let positiveCount = positives.filter { $0 }.count
        let negativeCount = positives.count - positiveCount
        guard positiveCount > 0, negativeCount > 0 else { return nil }

        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var points = [ROCPoint(falsePositiveRate: 0, truePositiveRate: 0, threshold: .infinity)]
        var truePositives = 0
        var falsePositives = 0
        var start = 0
        while start < order.count {
            let threshold = scores[order[start]]
            var end = start
            while end < order.count && scores[order[end]] == threshold {
                if positives[order[end]] { truePositives += 1 } else { falsePositives += 1 }
                end += 1
            }
            points.append(
                ROCPoint(
                    falsePositiveRate: Double(falsePositives) / Double(negativeCount),
                    truePositiveRate: Double(truePositives) / Double(positiveCount), threshold: threshold))
            start = end
        }
        return points
    }

    /// The trapezoidal area under a curve of points ordered by false-positive rate.
    public static func trapezoidalArea(_ points: [ROCPoint]) -> Double {
        zip(points, points.dropFirst()).reduce(0) { area, pair in
            area + (pair.1.falsePositiveRate - pair.0.falsePositiveRate)
                * (pair.1.truePositiveRate + pair.0.truePositiveRate) / 2
        }
    }

    /// One-vs-rest AUC of each class: column `c` of `probabilities` scores "class c" against
    /// all others. An entry is nil when class `c` is absent from `truth` or is all of it.
    public static func oneVsRestAUC(probabilities: [[Double]], truth: [Int]) -> [Double?] {
        precondition(probabilities.count == truth.count, "\(probabilities.count) rows for \(truth.count) labels")
        guard let classCount = probabilities.first?.count else { return [] }
        precondition(probabilities.allSatisfy { $0.count == classCount }, "every row needs \(classCount) probabilities")
        return (0..<classCount).map { c in
            auc(scores: probabilities.map { $0[c] }, positives: truth.map { $0 == c })
        }
    }

    /// Unweighted mean of the defined one-vs-rest AUCs (classes absent from `truth` are left
    /// out rather than failing, unlike scikit-learn); nil when none is defined.
    public static func macroAUC(probabilities: [[Double]], truth: [Int]) -> Double? {
        mean(oneVsRestAUC(probabilities: probabilities, truth: truth).compactMap { $0 })
    }
}
