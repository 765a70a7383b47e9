import Foundation

extension Double {
    /// The value rounded to `places` decimal places (half away from zero), for figures a
    /// person reads in a report: 3 for millimetres and seconds, 4 for probabilities.
    public func rounded(places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}

/// The decimal places reports use, named once.
public enum ReportPrecision {
    /// Millimetres (spacing, sizes in messages, chart values): a micrometre.
    public static let millimetres = 3
    /// A slice's position along the patient's axis in mm (report.json top slices).
    public static let slicePosition = 2
    /// Stage timings in report.json: a millisecond.
    public static let seconds = 3
    /// A batch case's seconds in summary.csv.
    public static let caseSeconds = 2
    /// Volumes in mL and memory in MB in summary.csv and batch results.
    public static let summaryFigures = 1
    /// Probabilities: 1 in 10,000.
    public static let probability = 4
}
