import AppSupport
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput

/// Batch progress on stderr: on a terminal, a bar redrawn in place with cases done / total,
/// failures, studies per hour and an estimated time left; otherwise (a log file, a Slurm
/// job) a plain line every `interval` seconds. Failures get a line of their own in both.
/// Every string returned is written as it is (it carries its own line ends).
public final class BatchProgress: @unchecked Sendable {
    let interactive: Bool
    let interval: Double
    let total: Int
    /// Cases finished before this run started (a rerun).
    let earlier: Int
    var done = 0
    var failed = 0
    var start = Date()
    var lastLine = Date.distantPast
    let lock = NSLock()
    static let barWidth = 24

    init(total: Int, earlier: Int, earlierFailed: Int, interactive: Bool, interval: Double) {
        self.total = total
        self.earlier = earlier
        self.failed = earlierFailed
        self.interactive = interactive
        self.interval = interval
    }

    /// Starts the clock for the rate (after the scan, when analysis begins).
    func begin() -> String? {
        lock.withLock {
            start = Date()
            lastLine = Date()
            return interactive ? redraw() : nil
        }
    }

    /// A case finished.
    func finished(_ row: CaseRow) -> String {
        lock.withLock {
            done += 1
            var text = ""
            if row.status == .failed {
                failed += 1
                let note = "failed: \(row.caseID) \(row.source): \(row.reason)"
                text += interactive ? "\r\u{1B}[2K" + note + "\n" : "batch: " + note + "\n"
            }
            if interactive {
                text += redraw()
            } else if Date().timeIntervalSince(lastLine) >= interval {
                lastLine = Date()
                text += "batch: " + line() + "\n"
            }
            return text
        }
    }

    /// Called every second or so: the bar's clock moves on a terminal; a log gets its periodic line.
    func tick() -> String? {
        lock.withLock {
            if interactive { return redraw() }
            guard Date().timeIntervalSince(lastLine) >= interval else { return nil }
            lastLine = Date()
            return "batch: " + line() + "\n"
        }
    }

    /// The last line, which ends the bar on a terminal.
    func end(note: String? = nil) -> String {
        lock.withLock {
            let text = line() + (note.map { "; " + $0 } ?? "")
            return interactive ? "\r\u{1B}[2K" + text + "\n" : "batch: " + text + "\n"
        }
    }

    /// The bar drawn over the current terminal line (the rest of the line cleared).
    func redraw() -> String { "\r" + line() + "\u{1B}[K" }

    var perHour: Double? {
        let elapsed = Date().timeIntervalSince(start)
        return done > 0 && elapsed > 0 ? Double(done) / elapsed * 3600 : nil
    }

    func line() -> String {
        let finished = earlier + done
        let elapsed = Date().timeIntervalSince(start)
        let rate = perHour.map { String(format: "%.0f studies/h", $0) } ?? "– studies/h"
        let left = total - finished
        let eta = done > 0 ? durationText(elapsed / Double(done) * Double(left)) : "–"
        var text =
            "\(finished)/\(total) done, \(failed) failed, \(rate), ETA \(eta), \(durationText(elapsed)) so far"
        if interactive {
            let filled = total > 0 ? Self.barWidth * finished / total : Self.barWidth
            text =
                "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: Self.barWidth - filled)
                + "] " + text
        }
        return text
    }
}
