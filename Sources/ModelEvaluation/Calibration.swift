import Foundation

/// One bin of a reliability table (a reliability diagram in numbers).
public struct ReliabilityBin: Codable, Sendable, Equatable {
    /// The bin covers `lower ..< upper`; the last bin also includes 1.
    public var lower: Double
    public var upper: Double
    public var count: Int
    /// Mean predicted probability of the samples in the bin; nil when the bin is empty.
    public var meanConfidence: Double?
    /// Fraction of the bin's samples whose outcome is true (the prediction was correct, or for
    /// the binary form the sample is positive); nil when the bin is empty.
    public var accuracy: Double?

    /// |accuracy − mean confidence|, 0 for an empty bin.
    public var gap: Double {
        guard let meanConfidence, let accuracy else { return 0 }
        return abs(accuracy - meanConfidence)
    }
}

/// How well predicted probabilities match observed frequencies, and two ways to fix them.
///
/// Expected calibration error (Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern
/// Neural Networks", eq. 3): samples are put in K equal-width bins of [0, 1] by their predicted
/// probability, and ECE = Σ_b (n_b / n) · |accuracy_b − confidence_b|. Bins here are
/// left-closed, `[k/K, (k+1)/K)`, with 1.0 in the last bin (Guo's code uses right-closed bins;
/// only samples exactly on a bin edge can differ).
public enum Calibration {
    /// K = 10 bins, as in Guo et al. 2017 and most papers since, so numbers are comparable.
    public static let defaultBinCount = 10

    /// The reliability table of predicted probabilities against observed outcomes.
    /// Probabilities are clamped to [0, 1] for binning (single-precision softmax can land a
    /// rounding step outside).
    public static func reliability(confidences: [Double], outcomes: [Bool], bins: Int = defaultBinCount)
        -> [ReliabilityBin]
    {
        precondition(
            confidences.count == outcomes.count, "\(confidences.count) probabilities for \(outcomes.count) outcomes")
        precondition(bins > 0, "need at least one bin")
        precondition(!confidences.contains { $0.isNaN }, "probabilities must not be NaN")
        var counts = Array(repeating: 0, count: bins)
        var confidenceSums = Array(repeating: 0.0, count: bins)
        var trueCounts = Array(repeating: 0, count: bins)
        for (p, outcome) in zip(confidences, outcomes) {
            let clamped = min(max(p, 0), 1)
            let b = min(Int((clamped * Double(bins)).rounded(.down)), bins - 1)
            counts[b] += 1
            confidenceSums[b] += clamped
            if outcome { trueCounts[b] += 1 }
        }
        return (0..<bins).map { b in
            ReliabilityBin(
                lower: Double(b) / Double(bins), upper: Double(b + 1) / Double(bins), count: counts[b],
                meanConfidence: counts[b] == 0 ? nil : confidenceSums[b] / Double(counts[b]),
                accuracy: ratio(trueCounts[b], counts[b]))
        }
    }

    /// ECE of predicted probabilities against outcomes; nil when there are no samples.
    public static func expectedCalibrationError(confidences: [Double], outcomes: [Bool], bins: Int = defaultBinCount)
        -> Double?
    {
        guard !confidences.isEmpty else { return nil }
        let table = reliability(confidences: confidences, outcomes: outcomes, bins: bins)
        return table.reduce(0) { $0 + Double($1.count) * $1.gap } / Double(confidences.count)
    }

    /// Binary ECE: bins the probability of the positive class and compares it with the fraction
    /// of positives in each bin (the classic reliability diagram). This differs from the
    /// top-label form, which would bin max(p, 1 − p).
    public static func expectedCalibrationError(
        positiveProbabilities: [Double], positives: [Bool], bins: Int = defaultBinCount
    ) -> Double? {
        expectedCalibrationError(confidences: positiveProbabilities, outcomes: positives, bins: bins)
    }

    /// Multi-class (top-label) ECE: confidence is the largest probability, and a sample is
    /// correct when that class (the lowest index on ties) is the true class.
    public static func expectedCalibrationError(probabilities: [[Double]], truth: [Int], bins: Int = defaultBinCount)
        -> Double?
    {
        let top = topLabel(probabilities: probabilities, truth: truth)
        return expectedCalibrationError(confidences: top.confidences, outcomes: top.correct, bins: bins)
    }

    /// Confidence (max probability) and correctness (argmax == truth) of each sample, the input
    /// of the multi-class reliability table.
    public static func topLabel(probabilities: [[Double]], truth: [Int]) -> (confidences: [Double], correct: [Bool]) {
        precondition(probabilities.count == truth.count, "\(probabilities.count) rows for \(truth.count) labels")
        return (probabilities.map { $0[argmax($0)] }, zip(probabilities, truth).map { argmax($0) == $1 })
    }

    /// Numerically stable softmax (the maximum is subtracted before exponentiating).
    public static func softmax(_ logits: [Double]) -> [Double] {
        guard let top = logits.max() else { return [] }
        let e = logits.map { exp($0 - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }
}

/// Platt scaling of a binary classifier: p' = σ(a · logit(p) + b). The identity is a = 1, b = 0.
///
/// Fitted as Platt (1999) describes, with the refinements of Lin, Lin & Weng (2007, "A note on
/// Platt's probabilistic outputs for support vector machines"): targets smoothed to
/// (n₊ + 1)/(n₊ + 2) and 1/(n₋ + 2) so separable data cannot drive a to infinity, and Newton's
/// method with a backtracking line search, which converges on this convex problem from any start.
/// The iteration count is bounded and there is no randomness, so a fit is deterministic.
public struct PlattScaling: Codable, Sendable, Equatable {
    public var a: Double
    public var b: Double

    public init(a: Double = 1, b: Double = 0) {
        self.a = a
        self.b = b
    }

    /// Probabilities closer than this to 0 or 1 are moved to it before taking the logit, so a
    /// saturated softmax gives logit ±27.6 rather than ±∞.
    public static let probabilityFloor = 1e-12

    /// The calibrated probability of the positive class.
    public func callAsFunction(_ probability: Double) -> Double { calibrated(logit: logit(probability)) }

    /// The calibrated probability for a raw score (a logit or any real-valued decision value).
    public func calibrated(logit x: Double) -> Double { sigmoid(a * x + b) }

    /// Fits a and b on held-out probabilities of the positive class; nil when one class is absent.
    public static func fit(probabilities: [Double], positives: [Bool], maximumIterations: Int = 100) -> PlattScaling? {
        fit(logits: probabilities.map(logit), positives: positives, maximumIterations: maximumIterations)
    }

    /// Fits a and b on raw scores (logits); nil when one class is absent.
    public static func fit(logits x: [Double], positives: [Bool], maximumIterations: Int = 100) -> PlattScaling? {
        precondition(x.count == positives.count, "\(x.count) scores for \(positives.count) labels")
        precondition(x.allSatisfy(\.isFinite), "Platt scaling needs finite scores")
        let positiveCount = Double(positives.filter { $0 }.count)
        let negativeCount = Double(positives.count) - positiveCount
        guard positiveCount > 0, negativeCount > 0 else { return nil }
        let high = (positiveCount + 1) / (positiveCount + 2)
        let low = 1 / (negativeCount + 2)
        let t = positives.map { $0 ? high : low }

        // Negative log-likelihood with f = a·x + b: Σ (1 − t)·f + log(1 + e^(−f)).
        func objective(_ a: Double, _ b: Double) -> Double {
            zip(x, t).reduce(0) { sum, pair in
                let f = a * pair.0 + b
                return sum + (1 - pair.1) * f + softplus(-f)
            }
        }
        // Start from the prior: a = 0, b = logit of the smoothed positive rate.
        var a = 0.0
        var b = log((positiveCount + 1) / (negativeCount + 1))
        var value = objective(a, b)
        let ridge = 1e-12  // keeps the Hessian invertible when all scores are equal (LLW 2007)
        let gradientTolerance = 1e-9 * Double(x.count)
        for _ in 0..<maximumIterations {
            var ga = 0.0  // gradient
            var gb = 0.0
            var haa = ridge  // Hessian
            var hab = 0.0
            var hbb = ridge
            for (xi, ti) in zip(x, t) {
                let q = sigmoid(a * xi + b)
                let w = q * (1 - q)
                ga += (q - ti) * xi
                gb += q - ti
                haa += w * xi * xi
                hab += w * xi
                hbb += w
            }
            if abs(ga) < gradientTolerance && abs(gb) < gradientTolerance { break }
            let determinant = haa * hbb - hab * hab
            let da = -(hbb * ga - hab * gb) / determinant
            let db = -(haa * gb - hab * ga) / determinant
            let slope = ga * da + gb * db
            var step = 1.0
            while step >= 1e-10 {
                let candidate = objective(a + step * da, b + step * db)
                if candidate < value + 1e-4 * step * slope {
                    a += step * da
                    b += step * db
                    value = candidate
                    break
                }
                step /= 2
            }
            if step < 1e-10 { break }  // no further decrease is representable
        }
        return PlattScaling(a: a, b: b)
    }
}

/// Temperature scaling of a multi-class classifier (Guo et al. 2017, section 4.2):
/// p' = softmax(z / T) for logits z. T > 1 softens over-confident predictions; the argmax,
/// and so accuracy, is unchanged.
public struct TemperatureScaling: Codable, Sendable, Equatable {
    public var temperature: Double

    public init(temperature: Double = 1) {
        precondition(temperature > 0, "temperature must be positive")
        self.temperature = temperature
    }

    /// T is searched in this range; a fit at an end means the data wanted something more extreme.
    public static let searchRange: ClosedRange<Double> = 0.01...100

    /// Calibrated probabilities for one sample's logits.
    public func callAsFunction(_ logits: [Double]) -> [Double] {
        Calibration.softmax(logits.map { $0 / temperature })
    }

    /// Mean negative log-likelihood of `truth` under softmax(z / T).
    public static func negativeLogLikelihood(logits: [[Double]], truth: [Int], temperature: Double) -> Double {
        precondition(logits.count == truth.count, "\(logits.count) rows for \(truth.count) labels")
        var sum = 0.0
        for (z, y) in zip(logits, truth) {
            let scaled = z.map { $0 / temperature }
            let top = scaled.max()!
            sum += top + log(scaled.reduce(0) { $0 + exp($1 - top) }) - scaled[y]
        }
        return sum / Double(logits.count)
    }

    /// Fits T by minimising the NLL with a golden-section search on log T over `searchRange`.
    /// The NLL is convex in 1/T, hence unimodal in log T, so the search finds the minimum; 100
    /// iterations shrink the interval by 0.618¹⁰⁰, far below Double resolution. nil when empty.
    public static func fit(logits: [[Double]], truth: [Int]) -> TemperatureScaling? {
        precondition(logits.count == truth.count, "\(logits.count) rows for \(truth.count) labels")
        guard !logits.isEmpty else { return nil }
        precondition(logits.allSatisfy { $0.allSatisfy(\.isFinite) }, "temperature scaling needs finite logits")
        precondition(zip(logits, truth).allSatisfy { $0.indices.contains($1) }, "a true class is out of range")
        func nll(_ u: Double) -> Double { negativeLogLikelihood(logits: logits, truth: truth, temperature: exp(u)) }
        let ratio = (sqrt(5.0) - 1) / 2
        var lower = log(searchRange.lowerBound)
        var upper = log(searchRange.upperBound)
        var left = upper - ratio * (upper - lower)
        var right = lower + ratio * (upper - lower)
        var leftValue = nll(left)
        var rightValue = nll(right)
        for _ in 0..<100 {
            if leftValue <= rightValue {
                upper = right
                right = left
                rightValue = leftValue
                left = upper - ratio * (upper - lower)
                leftValue = nll(left)
            } else {
                lower = left
                left = right
                leftValue = rightValue
                right = lower + ratio * (upper - lower)
                rightValue = nll(right)
            }
        }
        return TemperatureScaling(temperature: exp((lower + upper) / 2))
    }
}

func sigmoid(_ f: Double) -> Double { f >= 0 ? 1 / (1 + exp(-f)) : exp(f) / (1 + exp(f)) }

/// log(1 + e^f) without overflow.
func softplus(_ f: Double) -> Double { f > 0 ? f + log1p(exp(-f)) : log1p(exp(f)) }

func logit(_ p: Double) -> Double {
    let clamped = min(max(p, PlattScaling.probabilityFloor), 1 - PlattScaling.probabilityFloor)
    return log(clamped / (1 - clamped))
}
