import AppSupport
import Foundation
import ModelRuntime
import StudyInput

/// Training progress on stderr: on a terminal, one line redrawn in place with the fold,
/// epoch, batch, loss, images per second and an estimated time left; otherwise (a log file,
/// a batch job) one plain line per epoch.
public final class TrainingProgress: @unchecked Sendable {
    let interactive: Bool
    let start = Date()
    /// Batches the whole run will take at most (early stopping can make it shorter).
    var totalBatches: Int
    var doneBatches = 0
    let batchSize: Int
    /// Folds report from several threads at once.
    let lock = NSLock()

    public init(totalBatches: Int, batchSize: Int, interactive: Bool = isatty(STDERR_FILENO) != 0) {
        self.totalBatches = max(1, totalBatches)
        self.batchSize = batchSize
        self.interactive = interactive
    }

    /// The line for one finished batch (nil when nothing is to be printed).
    public func batch(stage: String, epoch: Int, batch: Int, batches: Int, loss: Float) -> String? {
        lock.lock()
        defer { lock.unlock() }
        doneBatches += 1
        let elapsed = Date().timeIntervalSince(start)
        let perBatch = elapsed / Double(doneBatches)
        let left = perBatch * Double(max(0, totalBatches - doneBatches))
        let rate = Double(doneBatches * batchSize) / max(elapsed, 1e-9)
        let text = String(
            format: "%@ epoch %d batch %d/%d loss %.4f  %.0f img/s  ETA ≤ %@", stage, epoch, batch, batches, loss, rate,
            durationText(left))
        if interactive { return "\r" + text.padding(toLength: 100, withPad: " ", startingAt: 0) }
        return batch == batches ? text : nil
    }

    /// Fewer batches remain than planned (a fold stopped early).
    public func skip(_ batches: Int) { lock.withLock { totalBatches -= batches } }

}
