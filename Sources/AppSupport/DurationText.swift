import Foundation

/// A duration as progress lines show it: "4m05s", or "2h17m" from an hour on. Negative and
/// non-finite values (an ETA before any rate is known) show as "–".
public func durationText(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0, seconds < Double(Int.max / 2) else { return "–" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
}
