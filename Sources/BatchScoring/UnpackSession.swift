import Foundation
internal import ZIPFoundation

/// What the zip files of one batch run may unpack to, and whether the run is being stopped.
/// `Batch.run` binds one around its archive scan (`ZipUnpacker.$session`); `ZipUnpacker` asks
/// it for each zip's budget and checks the stop at every chunk it writes.
///
/// A zip file found in the archive may unpack to `capBytes`, every zip nested in it included: a
/// nested zip draws on the budget of the zip it was unpacked from, so nesting (42.zip) cannot
/// multiply the cap. What counts is what is written, chunk by chunk, not what members declare.
final class UnpackSession: @unchecked Sendable {
    let capBytes: Int64
    let stopRequested: @Sendable () -> Bool
    private let lock = NSLock()
    /// Scratch folder of each zip unpacked so far → the budget it drew on.
    private var budgets: [String: Budget] = [:]
    private var stopped = false

    init(capBytes: Int64, stopRequested: @escaping @Sendable () -> Bool = { false }) {
        self.capBytes = capBytes
        self.stopRequested = stopRequested
    }

    /// Whether an unpacking ended (or did not start) because the run was being stopped.
    var endedByStop: Bool { lock.withLock { stopped } }

    /// The failure that ends an unpacking when the run is being stopped; recorded, so that
    /// `Batch.run` tells the stop from an output error.
    func stopProblem(_ what: String) -> ZipUnpacker.Problem {
        lock.withLock { stopped = true }
        var problem = ZipUnpacker.Problem(message: "\(what): not unpacked, the run is being stopped")
        problem.ending = .stopped
        return problem
    }

    /// The budget `zip` unpacks into `folder` with: that of the zip whose scratch folder holds
    /// it, else a new one of `capBytes`.
    func budget(for zip: String, unpackingInto folder: String) -> Budget {
        lock.withLock {
            let outer = budgets.first { zip.hasPrefix($0.key + "/") }?.value
            let budget = outer ?? Budget(capBytes: capBytes)
            budgets[folder] = budget
            return budget
        }
    }

    /// The bytes one zip file (with the zips nested in it) may still write.
    final class Budget: @unchecked Sendable {
        let capBytes: Int64
        private let lock = NSLock()
        private var spent: Int64 = 0

        init(capBytes: Int64) { self.capBytes = capBytes }

        /// Counts `bytes` written; the problem that ends the zip once the cap is passed.
        func spend(_ bytes: Int64) -> ZipUnpacker.Problem? {
            let total = lock.withLock {
                spent += bytes
                return spent
            }
            return total > capBytes ? Self.overCap(capBytes, what: "unpacks to more than") : nil
        }

        /// The problem when the members' declared sizes alone pass what is left of the cap:
        /// refused before anything is written.
        func declaredProblem(_ entries: [Entry]) -> ZipUnpacker.Problem? {
            let declared = entries.reduce(Int64(0)) { sum, entry in
                let (total, overflow) = sum.addingReportingOverflow(Int64(clamping: entry.uncompressedSize))
                return overflow ? .max : total
            }
            let left = lock.withLock { capBytes - spent }
            return declared > left ? Self.overCap(capBytes, what: "declares more than") : nil
        }

        static func overCap(_ cap: Int64, what: String) -> ZipUnpacker.Problem {
            ZipUnpacker.Problem(
                message:
                    "the zip (with any zip inside it) \(what) \(DiskSpace.describe(cap)), the most one zip may unpack to (--zip-limit): a zip bomb or not a study, not unpacked"
            )
        }
    }
}
