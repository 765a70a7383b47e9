/// Counts of (true class, predicted class) pairs: `counts[truth][predicted]`.
///
/// Per-class metrics are one-vs-rest and return nil when their denominator is zero (for
/// example the sensitivity of a class that never occurs), rather than a NaN that JSON
/// cannot carry and an average would silently swallow.
public struct ConfusionMatrix: Codable, Sendable, Equatable {
    /// Class names, in index order.
    public let classes: [String]
    /// `counts[t][p]`: how many samples of true class `t` were predicted as class `p`.
    public let counts: [[Int]]

    /// Tallies predicted against true class indices (both in `0..<classes.count`).
    public init(classes: [String], truth: [Int], predicted: [Int]) {
        precondition(truth.count == predicted.count, "truth has \(truth.count) entries, predicted \(predicted.count)")
        let n = classes.count
        var counts = Array(repeating: Array(repeating: 0, count: n), count: n)
        for (t, p) in zip(truth, predicted) {
            precondition((0..<n).contains(t) && (0..<n).contains(p), "class index out of range 0..<\(n): \(t), \(p)")
            counts[t][p] += 1
        }
        self.classes = classes
        self.counts = counts
    }

    /// Predicts each sample's class as the argmax of its probabilities (lowest index on ties).
    public init(classes: [String], truth: [Int], probabilities: [[Double]]) {
        self.init(classes: classes, truth: truth, predicted: probabilities.map(argmax))
    }

    /// A matrix from counts already tallied; `counts` must be square with one row per class.
    public init(classes: [String], counts: [[Int]]) {
        precondition(
            counts.count == classes.count && counts.allSatisfy { $0.count == classes.count },
            "counts must be \(classes.count)×\(classes.count)")
        precondition(counts.allSatisfy { $0.allSatisfy { $0 >= 0 } }, "counts must not be negative")
        self.classes = classes
        self.counts = counts
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let classes = try container.decode([String].self, forKey: .classes)
        let counts = try container.decode([[Int]].self, forKey: .counts)
        guard counts.count == classes.count, counts.allSatisfy({ $0.count == classes.count }),
            counts.allSatisfy({ $0.allSatisfy { $0 >= 0 } })
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .counts, in: container,
                debugDescription:
                    "a confusion matrix of \(classes.count) classes needs \(classes.count)×\(classes.count) non-negative counts"
            )
        }
        self.init(classes: classes, counts: counts)
    }

    /// Sums of `matrix + other`, for pooling folds; both must have the same classes.
    public static func + (lhs: ConfusionMatrix, rhs: ConfusionMatrix) -> ConfusionMatrix {
        precondition(lhs.classes == rhs.classes, "cannot add confusion matrices of different classes")
        return ConfusionMatrix(
            classes: lhs.classes, counts: zip(lhs.counts, rhs.counts).map { zip($0, $1).map(+) })
    }

    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    public var correct: Int { classes.indices.reduce(0) { $0 + counts[$1][$1] } }

    /// Fraction of samples on the diagonal; nil when the matrix is empty.
    public var accuracy: Double? { ratio(correct, total) }

    /// One-vs-rest counts of `positive` against all other classes.
    public func binary(positive: Int) -> BinaryCounts {
        precondition(classes.indices.contains(positive), "class index \(positive) out of range")
        let tp = counts[positive][positive]
        let fn = counts[positive].reduce(0, +) - tp
        let fp = counts.reduce(0) { $0 + $1[positive] } - tp
        return BinaryCounts(
            truePositives: tp, falsePositives: fp, trueNegatives: total - tp - fn - fp, falseNegatives: fn)
    }

    /// Recall of class `c`: TP / (TP + FN).
    public func sensitivity(of c: Int) -> Double? { binary(positive: c).sensitivity }
    /// TN / (TN + FP), treating every other class as negative.
    public func specificity(of c: Int) -> Double? { binary(positive: c).specificity }
    /// Positive predictive value of class `c`: TP / (TP + FP).
    public func precision(of c: Int) -> Double? { binary(positive: c).precision }
    /// Harmonic mean of precision and recall of class `c`.
    public func f1(of c: Int) -> Double? { binary(positive: c).f1 }

    /// Mean recall over classes with at least one true sample (balanced accuracy).
    public var balancedAccuracy: Double? { mean(classes.indices.compactMap(sensitivity(of:))) }
    /// Mean F1 over classes where it is defined.
    public var macroF1: Double? { mean(classes.indices.compactMap(f1(of:))) }
}

/// True/false positive/negative counts of one class against the rest.
public struct BinaryCounts: Codable, Sendable, Equatable {
    public var truePositives: Int
    public var falsePositives: Int
    public var trueNegatives: Int
    public var falseNegatives: Int

    public init(truePositives: Int, falsePositives: Int, trueNegatives: Int, falseNegatives: Int) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.trueNegatives = trueNegatives
        self.falseNegatives = falseNegatives
    }

    /// TP / (TP + FN), also called recall or true-positive rate.
    public var sensitivity: Double? { ratio(truePositives, truePositives + falseNegatives) }
    /// TN / (TN + FP).
    public var specificity: Double? { ratio(trueNegatives, trueNegatives + falsePositives) }
    /// TP / (TP + FP), the positive predictive value.
    public var precision: Double? { ratio(truePositives, truePositives + falsePositives) }
    /// TN / (TN + FN).
    public var negativePredictiveValue: Double? { ratio(trueNegatives, trueNegatives + falseNegatives) }
    /// 2TP / (2TP + FP + FN): equal to the harmonic mean of precision and recall, and defined
    /// (as 0) when there are true positives to miss but none were found.
    public var f1: Double? { ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }
}

func ratio(_ numerator: Int, _ denominator: Int) -> Double? {
    denominator == 0 ? nil : Double(numerator) / Double(denominator)
}

func mean(_ values: [Double]) -> Double? {
    values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
}

/// Index of the largest value, the lowest index on ties.
func argmax(_ values: [Double]) -> Int {
    precondition(!values.isEmpty, "argmax of an empty probability vector")
    var best = 0
    for i in values.indices.dropFirst() where values[i] > values[best] { best = i }
    return best
}
