import AppSupport
import DICOMSeries
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput

/// The pipeline of one batch run. Isolated (`BatchOptions.isolation`, the CLI): `jobs` threads
/// each have a worker process analyse the next case (`BatchSupervisor.swift`). In process (the
/// library's tests): a loader thread inspects and decodes the next case while `jobs` worker
/// threads analyse and write; a semaphore of jobs + 1 slots bounds the cases held in memory
/// (jobs being analysed, one decoded or being decoded). Either way peak memory depends on the
/// largest study and on --jobs, never on the archive's size.
final class BatchRun: @unchecked Sendable {
    typealias Outcome = CaseAnalysis.Outcome

    struct Item {
        var item: BatchCase
        var outcome: Outcome
        var loadSeconds: Double
    }

    let options: BatchOptions
    let jobs: Int
    let out: BatchOutput
    let log: SummaryLog
    let progress: BatchProgress
    let control: BatchControl
    let report: @Sendable (String) -> Void
    let analysis: CaseAnalysis
    /// The unpacked zip folders, each removed when its last case has finished.
    let zipScratch: ZipScratch?

    let condition = NSCondition()
    private var ready: [Item] = []
    private var loading = true
    private let slots: DispatchSemaphore
    var rows: [CaseRow] = []
    var fatalError: LungCTError?
    /// Cases not yet taken by an isolated worker thread (`runIsolated`).
    var queue: [BatchCase] = []

    init(
        options: BatchOptions, out: BatchOutput, log: SummaryLog, progress: BatchProgress, control: BatchControl,
        report: @escaping @Sendable (String) -> Void, archiveLabel: String, unpacked: [String: String],
        zipScratch: ZipScratch? = nil
    ) {
        self.options = options
        jobs = max(1, options.jobs)
        self.out = out
        self.log = log
        self.progress = progress
        self.control = control
        self.report = report
        analysis = CaseAnalysis(
            out: out, models: options.models, archiveLabel: archiveLabel, unpacked: unpacked, dicom: options.dicom)
        self.zipScratch = zipScratch
        slots = DispatchSemaphore(value: jobs + 1)
    }

    /// Rows of the cases finished by this run, in the order they finished.
    var finishedRows: [CaseRow] { condition.withLock { rows } }
    /// The output error that stopped the run, if one did.
    var fatal: LungCTError? { condition.withLock { fatalError } }

    /// Stop starting cases: asked for by a signal, or forced by an output error.
    var stopping: Bool { control.stopRequested || fatal != nil }

    func run(_ pending: [BatchCase]) {
        if let line = progress.begin() { report(line) }
        let ticker = DispatchSource.makeTimerSource(queue: .global())
        ticker.schedule(deadline: .now() + 1, repeating: options.interactive ? 1 : min(options.progressInterval, 10))
        ticker.setEventHandler { [self] in if let line = progress.tick() { report(line) } }
        ticker.resume()
        defer { ticker.cancel() }

        let group = DispatchGroup()
        // Threads of their own rather than Dispatch's pool, which the stages below block and
        // which the decoder and the segmentation use for their own parallel loops.
        func start(_ body: @escaping @Sendable () -> Void) {
            group.enter()
            let thread = Thread {
                body()
                group.leave()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        if let launcher = options.isolation {
            // Each case in a process of its own: the child inspects and decodes it too.
            queue = pending
            for _ in 0..<jobs { start { [self] in superviseWorkers(launcher) } }
        } else {
            start { [self] in load(pending) }
            for _ in 0..<jobs { start { [self] in work() } }
        }
        group.wait()
    }

    /// The outcome of a case that was in progress in too many runs that stopped.
    static func givenUp(_ item: BatchCase, attempts: Int) -> Outcome {
        .failed(
            kind: item.kind.rawValue,
            reason:
                "lungct stopped while this case was in progress in \(attempts - 1) runs (a crash on this study, or the run was killed each time); --retry-failed tries it again"
        )
    }

    // MARK: Stages

    private func load(_ pending: [BatchCase]) {
        for item in pending {
            slots.wait()
            if stopping {
                slots.signal()
                break
            }
            let attempts = out.attempts(item.id) + 1
            out.setAttempts(item.id, attempts)
            let start = Date()
            let outcome =
                attempts > Batch.maximumAttempts ? Self.givenUp(item, attempts: attempts) : analysis.prepare(item)
            // Decoding survived: waiting in the queue is not an attempt (`work` counts the analysis).
            out.setAttempts(item.id, attempts - 1)
            condition.withLock {
                ready.append(Item(item: item, outcome: outcome, loadSeconds: Date().timeIntervalSince(start)))
                condition.signal()
            }
        }
        condition.withLock {
            loading = false
            condition.broadcast()
        }
    }

    private func work() {
        while true {
            // The decoded study is released at the end of this scope, before its slot is given
            // back: never more than jobs + 1 studies in memory.
            do {
                guard let next = nextReady() else { return }
                if !stopping { analyse(next) }
            }
            slots.signal()
        }
    }

    /// The next decoded case, waiting for one; nil when the loader has finished.
    private func nextReady() -> Item? {
        condition.withLock {
            while ready.isEmpty && loading { condition.wait() }
            return ready.isEmpty ? nil : ready.removeFirst()
        }
    }

    private func analyse(_ next: Item) {
        let id = next.item.id
        // An attempt from here until the case is published: a run that dies meanwhile (a
        // crash on this study, or kill -9) leaves it counted.
        let attempts = out.attempts(id) + 1
        out.setAttempts(id, attempts)
        do {
            try process(next)
        } catch {
            // An output error (disk full) stops the run; it says nothing about the study.
            out.setAttempts(id, attempts - 1)
            condition.withLock { if fatalError == nil { fatalError = error } }
        }
    }

    // MARK: One case

    /// Analyses a prepared case into a partial folder, publishes it and appends its row.
    /// Throws only output errors, which stop the run (a full disk must not turn every
    /// remaining case into a failure).
    func process(_ next: Item) throws(LungCTError) {
        let start = Date()
        let partial = try out.makePartial(next.item.id)
        var row = try analysis.row(for: next.item, outcome: next.outcome, partial: partial)
        row.seconds = (next.loadSeconds + Date().timeIntervalSince(start)).rounded(places: ReportPrecision.caseSeconds)
        try publish(row, partial: partial)
    }

    /// Publishes a case's partial folder with its row, appends the row to the summary and
    /// reports it. Throws only output errors.
    func publish(_ row: CaseRow, partial: String) throws(LungCTError) {
        let published: Bool
        do {
            published = try out.publish(partial, row: row)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        out.setAttempts(row.caseID, 0)
        zipScratch?.finished(row.caseID)
        guard published else { return }
        try log.append(row)
        condition.withLock { rows.append(row) }
        report(progress.finished(row))
    }
}
