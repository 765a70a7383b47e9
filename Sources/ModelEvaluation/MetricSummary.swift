import Foundation

/// One metric over the folds of a cross-validation: mean and sample standard deviation.
public struct MetricSummary: Codable, Sendable, Equatable {
    /// The defined per-fold values.
    public var values: [Double]
    /// Folds where the metric was undefined (for example an AUC of a fold with one class).
    public var undefinedCount: Int

    public init(_ values: [Double]) {
        self.values = values
        self.undefinedCount = 0
    }

    /// Keeps the defined values and counts the nil ones, so a report can say "4 of 5 folds".
    public init(_ values: [Double?]) {
        self.values = values.compactMap { $0 }
        self.undefinedCount = values.count - self.values.count
    }

    /// nil when no fold defined the metric.
    public var mean: Double? { ModelEvaluation.mean(values) }

    /// The sample standard deviation (divisor n − 1), the spread one would expect of another
    /// cross-validation run; nil for fewer than two values.
    public var standardDeviation: Double? {
        guard values.count >= 2, let mean else { return nil }
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (squares / Double(values.count - 1)).squareRoot()
    }

    /// "0.912 ± 0.031"; just "0.912" for a single value and "n/a" for none. Always a decimal
    /// point, whatever the locale.
    public func formatted(fractionDigits: Int = 3) -> String {
        guard let mean else { return "n/a" }
        let number = "%.\(fractionDigits)f"
        guard let standardDeviation else { return String(format: number, mean) }
        return String(format: "\(number) ± \(number)", mean, standardDeviation)
    }
}
