import AppSupport
import Foundation

/// The stages' wall-clock durations for report.json's `timingsSeconds`, in seconds rounded to
/// `ReportPrecision.seconds`, under each stage's report key. A `lap` times the stage that just
/// ended from the end of the one before, so the pipeline reads as stages, not clock arithmetic.
struct StageClock {
    private let start = Date()
    private var lapStart = Date()
    private var timings: [String: Double] = [:]

    /// Times the stage that just ended, from the end of the previous one.
    mutating func lap(_ name: String) {
        timings[name] = Date().timeIntervalSince(lapStart).rounded(places: ReportPrecision.seconds)
        lapStart = Date()
    }

    /// A duration measured elsewhere (a segmentation step), rounded as laps are.
    mutating func record(_ name: String, seconds: Double) {
        timings[name] = seconds.rounded(places: ReportPrecision.seconds)
    }

    /// A duration measured elsewhere that replaces a lap, kept as given (a batch's own load
    /// time, measured while the previous study was analysed).
    mutating func replace(_ name: String, seconds: Double) {
        timings[name] = seconds
    }

    /// Every timing, with "total": the time since the clock started.
    func finished() -> [String: Double] {
        var all = timings
        all["total"] = Date().timeIntervalSince(start).rounded(places: ReportPrecision.seconds)
        return all
    }
}
