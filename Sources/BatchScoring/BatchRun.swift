import AppSupport
import DICOMSeries
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput

/// The pipeline of one batch run: a loader thread inspects and decodes the next case while
/// `jobs` worker threads analyse and write. A semaphore of jobs + 1 slots bounds the cases
/// held in memory (jobs being analysed, one decoded or being decoded), so peak memory
/// depends on the largest study and on --jobs, never on the archive's size.
final class BatchRun: @unchecked Sendable {
    /// A case after the loader: ready to analyse, or already known to be skipped or failed.
    enum Outcome {
        case ready(PreparedInput)
        case skipped(kind: String, reason: String)
        case failed(kind: String, reason: String)
    }

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
    /// The archive as an absolute path: inputs are named `<archive>/<source>` in reports.
    let archiveLabel: String
    /// Scratch folders of unpacked zip files → their archive paths, for readable messages.
    let unpacked: [String: String]

    private let condition = NSCondition()
    private var ready: [Item] = []
    private var loading = true
    private let slots: DispatchSemaphore
    private var rows: [CaseRow] = []
    private var fatalError: LungCTError?

    init(
        options: BatchOptions, out: BatchOutput, log: SummaryLog, progress: BatchProgress, control: BatchControl,
        report: @escaping @Sendable (String) -> Void, archiveLabel: String, unpacked: [String: String]
    ) {
        self.options = options
        jobs = max(1, options.jobs)
        self.out = out
        self.log = log
        self.progress = progress
        self.control = control
        self.report = report
        self.archiveLabel = archiveLabel
        self.unpacked = unpacked
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
        start { [self] in load(pending) }
        for _ in 0..<jobs { start { [self] in work() } }
        group.wait()
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
                attempts > Batch.maximumAttempts
                ? .failed(
                    kind: item.kind.rawValue,
                    reason:
                        "lungct stopped while this case was in progress in \(attempts - 1) runs (a crash on this study, or the run was killed each time); --retry-failed tries it again"
                )
                : prepare(item)
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

    /// Inspects and loads a case (headers, then pixels), or says why it cannot be analysed.
    func prepare(_ item: BatchCase) -> Outcome {
        let label = archiveLabel + "/" + item.source
        let start = Date()
        var inspection: Inspection
        do {
            switch item.kind {
            case .damagedFiles, .damagedZip:
                return .failed(kind: item.kind.rawValue, reason: item.problem ?? "damaged")
            case .nifti:
                inspection = try Inspection.inspectNIfTI(item.files[0])
            case .picture:
                inspection = try Inspection.inspectPicture(item.files[0])
            case .dicomSeries:
                let scan = FolderScan.scan(files: item.files)
                inspection = Inspection.inspect(scan, input: label)
                if case .dicom(let candidates) = inspection.source, !candidates.contains(where: \.isChosen) {
                    return notAnalysable(scan: scan, candidates: candidates)
                }
            }
            inspection.report.input = label
            let image = try inspection.load()
            return .ready(
                PreparedInput(inspection: inspection, image: image, loadSeconds: Date().timeIntervalSince(start)))
        } catch .nothingToAnalyse(let input, let details) {
            // A NIfTI mask or segmentation beside the CTs: nothing lungct analyses, not a failure.
            return .skipped(kind: item.kind.rawValue, reason: "\(input): \(details)")
        } catch {
            return .failed(kind: item.kind.rawValue, reason: error.description)
        }
    }

    /// A DICOM case with no series to analyse: skipped when it holds nothing lungct analyses
    /// (localizers, secondary captures, other modalities), failed otherwise.
    func notAnalysable(scan: FolderScan, candidates: [SeriesCandidate]) -> Outcome {
        guard !candidates.isEmpty else {
            let reason = scan.skipped.first.map { "\($0.path): \($0.reason)" } ?? "no image"
            return .failed(kind: "DICOM", reason: "the series' files can no longer be read: \(reason)")
        }
        let reasons = candidates.map { "\($0.group.label): \($0.rejection ?? "not chosen")" }.joined(separator: "; ")
        let modality = candidates[0].group.first.modality
        let notAnImage = candidates.allSatisfy { candidate in
            let header = candidate.group.first
            return header.isLocalizer || header.sopClassUID.hasPrefix(SOPClass.secondaryCapturePrefix)
                || (header.modality != "CT" && !Batch.radiographModalities.contains(header.modality))
        }
        let kind = modality.isEmpty ? "DICOM" : modality
        return notAnImage ? .skipped(kind: kind, reason: reasons) : .failed(kind: kind, reason: reasons)
    }

    /// Analyses a prepared case into a partial folder, publishes it and appends its row.
    /// Throws only output errors, which stop the run (a full disk must not turn every
    /// remaining case into a failure).
    func process(_ next: Item) throws(LungCTError) {
        let start = Date()
        let id = next.item.id
        let partial = try out.makePartial(id)
        var row = CaseRow(
            caseID: id, source: next.item.source, kind: next.item.kind.rawValue, series: "", status: .failed,
            reason: "",
            rightLungML: nil, leftLungML: nil, totalLungML: nil, studyProbability: nil, modelSHA256: nil, seconds: 0)
        switch next.outcome {
        case .skipped(let kind, let reason):
            row.kind = kind
            row.status = .skipped
            row.reason = readable(reason)
        case .failed(let kind, let reason):
            row.kind = kind
            row.reason = readable(reason)
        case .ready(let prepared):
            var analysis = AnalysisOptions(input: prepared.inspection.report.input, output: partial)
            analysis.prepared = prepared
            analysis.models = options.models
            do {
                var analysed = try Analyzer.analyze(analysis)
                // The report names the folder the case is published as, not the partial one.
                analysed.outputs = analysed.outputs.mapValues {
                    out.caseFolder(id) + "/" + URL(fileURLWithPath: $0).lastPathComponent
                }
                try Analyzer.writeReport(analysed, folder: partial)
                row = okRow(analysed, item: next.item)
            } catch {
                if case .outputFailed = error {
                    try? FileManager.default.removeItem(atPath: partial)
                    throw error
                }
                // Whatever the failed analysis wrote is not kept: the folder holds case.json alone.
                try? FileManager.default.removeItem(atPath: partial)
                do {
                    try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: false)
                } catch {
                    throw .outputFailed("\(partial): cannot create a case folder: \(error.localizedDescription)")
                }
                row.kind = prepared.inspection.report.format
                row.reason = readable(error.description)
            }
        }
        row.seconds = (next.loadSeconds + Date().timeIntervalSince(start)).rounded(places: ReportPrecision.caseSeconds)
        let published: Bool
        do {
            published = try out.publish(partial, row: row)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        out.setAttempts(id, 0)
        guard published else { return }
        try log.append(row)
        condition.withLock { rows.append(row) }
        report(progress.finished(row))
    }

    func okRow(_ report: AnalysisReport, item: BatchCase) -> CaseRow {
        let round1 = { (value: Double) in value.rounded(places: ReportPrecision.summaryFigures) }
        let notes = report.warnings.isEmpty ? "" : "\(report.warnings.count) warning(s) in report.json"
        return CaseRow(
            caseID: item.id, source: item.source, kind: report.kind, series: report.study.seriesUID ?? "", status: .ok,
            reason: notes, rightLungML: report.lungPanel.map { round1($0.right.volumeML) },
            leftLungML: report.lungPanel.map { round1($0.left.volumeML) },
            totalLungML: report.lungPanel.map { round1($0.total.volumeML) }, studyProbability: report.model.probability,
            modelSHA256: report.model.ran ? report.model.sha256 : nil, seconds: 0)
    }

    /// Scratch paths of unpacked zip files shown as the archive paths they came from.
    func readable(_ reason: String) -> String {
        unpacked.reduce(reason) { text, pair in text.replacingOccurrences(of: pair.key, with: pair.value) }
    }
}
