import AppSupport
import DICOMSeries
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput

/// A deterministic share of an archive: case K of N takes the cases whose id, read as a
/// 64-bit number, is K modulo N. A case's shard depends on its id alone, so every shard of
/// a Slurm job array (or a Kubernetes indexed job) agrees without talking to the others.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init?(index: Int, count: Int) {
        guard count >= 1, (0..<count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// "K/N" with 0 ≤ K < N (Slurm's $SLURM_ARRAY_TASK_ID with --array=0-(N-1)).
    public init?(parsing text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: k, count: n)
    }

    public func contains(_ caseID: String) -> Bool {
        guard count > 1 else { return true }
        return (UInt64(caseID.prefix(16), radix: 16) ?? 0) % UInt64(count) == UInt64(index)
    }

    public var description: String { "\(index)/\(count)" }
    var fileLabel: String { "shard-\(index)-of-\(count)" }
}

/// What `lungct batch` was asked to do.
public struct BatchOptions: Sendable {
    public var archive: String
    public var output: String
    /// Cases analysed at once (in process, one more is decoded meanwhile).
    public var jobs = 1
    public var shard: Shard?
    /// Analyse the failed cases of an earlier run again.
    public var retryFailed = false
    /// Also write each case's DICOM result objects (`analyze --dicom`).
    public var dicom = false
    /// Loaded once by the caller and shared by every case.
    public var models = AnalysisModels.none
    /// A progress bar (stderr is a terminal) or plain lines every `progressInterval` seconds.
    public var interactive = isatty(STDERR_FILENO) != 0
    public var progressInterval = 60.0
    /// Each case in a process of its own (the CLI); nil analyses in this process (library tests).
    public var isolation: WorkerLauncher?
    /// Bytes one zip file of the archive may unpack to, zips nested in it included, counted as
    /// they are written; beyond it the zip is one failed case.
    public var zipLimitBytes = defaultZipLimitBytes
    /// 32 GiB: a CT study zip holds at most a few GB (2000 slices of 512×512 at 16 bits are
    /// 1 GB; a study of several series a few times that), so no honest zip reaches it, while a
    /// zip bomb's terabytes are cut off long before they fill a disk.
    public static let defaultZipLimitBytes: Int64 = 32 << 30

    public init(archive: String, output: String) {
        self.archive = archive
        self.output = output
    }
}

/// Lets a signal handler stop a batch: no new case is started, the cases in progress finish.
public final class BatchControl: @unchecked Sendable {
    private let lock = NSLock()
    private var stop = false
    let workers = RunningWorkers()

    public init() {}

    /// Kills the worker processes of an isolated run (before the caller ends the process).
    public func killWorkers() { workers.killAll() }

    /// Returns false when a stop had been asked for already.
    @discardableResult
    public func requestStop() -> Bool {
        lock.withLock {
            defer { stop = true }
            return !stop
        }
    }

    var stopRequested: Bool { lock.withLock { stop } }
}

/// What a batch run did, and the state of its cases (this shard's, with --shard).
public struct BatchResult: Codable, Sendable {
    public var archive: String
    public var output: String
    /// The summary this run appends to.
    public var summary: String
    public var shard: String?
    public var filesScanned: Int
    public var zipFiles: Int
    /// Files that are not images (non-DICOM files, DICOMDIRs, reports...), with the reason.
    public var setAsideFiles: [FileNote]
    public var casesInArchive: Int
    /// Cases of this run (this shard's share with --shard).
    public var cases: Int
    public var ok: Int
    public var skipped: Int
    public var failed: Int
    /// Not finished: the run was interrupted.
    public var unfinished: Int
    public var alreadyDone: Int
    public var analysedThisRun: Int
    public var scanSeconds: Double
    public var seconds: Double
    public var studiesPerHour: Double?
    public var peakMemoryMB: Double
    public var interrupted: Bool
    public var failures: [CaseRow]
    public var outcome: BatchOutcome
}

/// How a batch run (or a merge) ended, as a whole; the CLI's exit-code table gives each its code.
public enum BatchOutcome: String, Codable, Sendable {
    /// Every case finished ok or skipped (a shard may have had no case at all).
    case done
    /// The archive holds no case, or only cases that were skipped (localizers...).
    case nothingToAnalyse
    /// Every case finished, some of them failed (summary.csv says why).
    case someFailed
    /// Stopped by SIGINT or SIGTERM before every case finished; a rerun finishes the rest.
    case interrupted
    /// `batch merge`: some shards have not finished (or never ran).
    case shardsUnfinished
}

/// `lungct batch`: every case of an archive scored with `analyze`'s pipeline, in parallel,
/// resumable after any interruption. See `BatchOutput` for the output folder's layout and
/// why a crash at any moment loses and duplicates nothing.
public enum Batch {
    public static let summaryFile = "summary.csv"
    /// A case that was in progress this many times when lungct stopped (a crash on that
    /// study, or a run killed each time) is marked failed instead of being tried forever.
    static let maximumAttempts = 3
    /// Modalities analysed as radiographs (as `SeriesSelection.candidates` does).
    static let radiographModalities: Set<String> = ["CR", "DX", "DR", "RG", "DF"]

    public static func run(
        _ options: BatchOptions, control: BatchControl = BatchControl(),
        report: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(LungCTError) -> BatchResult {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: options.archive, isDirectory: &isDirectory) else {
            throw .inputFailed("\(options.archive): no such file or folder")
        }
        let out = BatchOutput(root: URL(fileURLWithPath: options.output).standardizedFileURL.path)
        try OutputFolder.prepare(out.root)
        let lock = try OutputLock(root: out.root, shard: options.shard)
        defer { withExtendedLifetime(lock) {} }

        let scratch = try prepareScratch(out, shard: options.shard)
        defer { removeScratch(scratch, root: out.root) }

        let scanStart = Date()
        report("batch: scanning \(options.archive)\n")
        guard let inventory = try scanArchive(options, scratch: scratch, out: out, control: control) else {
            report("batch: stopped while unpacking a zip file; nothing was started (rerun the same command)\n")
            return stoppedDuringScan(options, out: out, scanSeconds: Date().timeIntervalSince(scanStart))
        }
        let shard = options.shard ?? Shard(index: 0, count: 1)!
        let mine = inventory.cases.filter { shard.contains($0.id) }
        let scanSeconds = Date().timeIntervalSince(scanStart)
        report(
            "batch: \(inventory.cases.count) case(s) in \(inventory.filesScanned) file(s)"
                + (inventory.zipFiles > 0 ? " (\(inventory.zipFiles) zip file(s))" : "")
                + (options.shard.map { ", \(mine.count) in shard \($0)" } ?? "")
                + ", \(inventory.setAside.count) file(s) set aside, "
                + String(format: "scanned in %.1f s\n", scanSeconds))

        var done = try reconcile(out, cases: mine, shard: options.shard, retryFailed: options.retryFailed)
        let summaryPath = out.summaryPath(options.shard)
        try rebuildSummary(out, path: summaryPath, rows: try summaryRows(out, done: done, shard: options.shard))
        let log = try SummaryLog(path: summaryPath)

        let pending = mine.filter { done[$0.id] == nil }
        let progress = BatchProgress(
            total: mine.count, earlier: done.count, earlierFailed: done.values.filter { $0.status == .failed }.count,
            interactive: options.interactive, interval: options.progressInterval)
        if !done.isEmpty { report("batch: \(done.count) case(s) already done, \(pending.count) to do\n") }
        let run = BatchRun(
            options: options, out: out, log: log, progress: progress, control: control, report: report,
            archiveLabel: URL(fileURLWithPath: options.archive).standardizedFileURL.path,
            unpacked: inventory.unpacked,
            zipScratch: ZipScratch(folders: inventory.unpacked.keys, pending: pending, scratch: scratch))
        let runStart = Date()
        if !pending.isEmpty { run.run(pending) }
        let seconds = Date().timeIntervalSince(runStart)
        for row in run.finishedRows { done[row.caseID] = row }
        // A case another run finished meanwhile (a second shard count over the same OUT).
        for item in pending where done[item.id] == nil { done[item.id] = try out.finishedRow(item.id) }

        let rows = mine.compactMap { done[$0.id] }
        let unfinished = mine.count - rows.count
        let failed = rows.filter { $0.status == .failed }
        let ok = rows.filter { $0.status == .ok }.count
        let outcome = outcome(
            foundAny: !inventory.cases.isEmpty, unfinished: unfinished, failed: failed.count, ok: ok, cases: mine.count)
        let interrupted = unfinished > 0
        let result = BatchResult(
            archive: options.archive, output: out.root, summary: summaryPath, shard: options.shard?.description,
            filesScanned: inventory.filesScanned, zipFiles: inventory.zipFiles, setAsideFiles: inventory.setAside,
            casesInArchive: inventory.cases.count, cases: mine.count, ok: ok,
            skipped: rows.filter { $0.status == .skipped }.count, failed: failed.count, unfinished: unfinished,
            alreadyDone: mine.count - pending.count, analysedThisRun: run.finishedRows.count, scanSeconds: scanSeconds,
            seconds: seconds,
            studiesPerHour: run.finishedRows.isEmpty || seconds <= 0
                ? nil : Double(run.finishedRows.count) / seconds * 3600,
            peakMemoryMB: peakMemoryMB(), interrupted: interrupted, failures: failed, outcome: outcome)
        if !pending.isEmpty {
            report(progress.end(note: interrupted ? "interrupted: rerun the same command to finish" : nil))
        }
        if let shard = options.shard { writeShardState(result, shard: shard, out: out) }
        if let fatal = run.fatal { throw withFreeSpace(fatal, out: out.root) }
        return result
    }

    /// How a run ended, for this shard's cases.
    static func outcome(foundAny: Bool, unfinished: Int, failed: Int, ok: Int, cases: Int) -> BatchOutcome {
        if !foundAny { return .nothingToAnalyse }
        if unfinished > 0 { return .interrupted }
        if failed > 0 { return .someFailed }
        // Only skipped cases (localizers...): nothing was analysable. A shard may have no case at all.
        if ok == 0 && cases > 0 { return .nothingToAnalyse }
        return .done
    }

    // MARK: Resuming

    /// Repairs what an interrupted run left and returns the finished cases among `cases`:
    /// stale partial folders are removed, a case folder without a readable case.json is
    /// removed (its case is done again), and with `retryFailed` failed cases are removed too.
    static func reconcile(
        _ out: BatchOutput, cases: [BatchCase], shard: Shard?, retryFailed: Bool
    ) throws(LungCTError) -> [String: CaseRow] {
        out.removeStalePartials(for: shard == nil ? nil : Set(cases.map(\.id)))
        var done: [String: CaseRow] = [:]
        for item in cases where FileManager.default.fileExists(atPath: out.caseFolder(item.id)) {
            guard let row = try out.finishedRow(item.id) else {
                out.discard(item.id)
                continue
            }
            if retryFailed && row.status == .failed {
                out.discard(item.id)
                out.setAttempts(item.id, 0)
                continue
            }
            done[item.id] = row
        }
        return done
    }

    /// The rows a summary must hold: this shard's finished cases, or for an unsharded run
    /// every finished case folder in OUT (what `--merge` would write).
    static func summaryRows(_ out: BatchOutput, done: [String: CaseRow], shard: Shard?) throws(LungCTError) -> [CaseRow]
    {
        guard shard == nil else { return Array(done.values) }
        return try out.finishedRows(known: done)
    }

    /// Rewrites a summary atomically with exactly `rows`, in the order of the rows it held
    /// already (a torn last line and duplicates dropped), then the others by case id.
    static func rebuildSummary(_ out: BatchOutput, path: String, rows: [CaseRow]) throws(LungCTError) {
        let byID = Dictionary(rows.map { ($0.caseID, $0) }, uniquingKeysWith: { a, _ in a })
        var seen = Set<String>()
        var ordered: [CaseRow] = []
        for id in SummaryCSV.caseIDs(in: path) where !seen.contains(id) {
            if let row = byID[id] {
                ordered.append(row)
                seen.insert(id)
            }
        }
        ordered += rows.filter { !seen.contains($0.caseID) }.sorted { $0.caseID < $1.caseID }
        try SummaryCSV.write(ordered, to: path)
    }

    // MARK: Merging shards

    /// What `lungct batch --merge` found.
    public struct MergeResult: Codable, Sendable {
        public var output: String
        public var summary: String
        public var cases: Int
        public var ok: Int
        public var skipped: Int
        public var failed: Int
        /// Shards that wrote a state file, with how far they got.
        public var shards: [ShardState]
        /// "K/N" of shards that have not finished (or have not run) for each N seen.
        public var unfinishedShards: [String]
        public var outcome: BatchOutcome
    }

    /// How far one shard got (OUT/summary.shard-K-of-N.json).
    public struct ShardState: Codable, Sendable {
        public var shard: String
        public var cases: Int
        public var ok: Int
        public var skipped: Int
        public var failed: Int
        public var unfinished: Int
        public var finishedAt: String
    }

    /// Writes OUT/summary.csv from every finished case folder in OUT (sorted by case id) and
    /// reports which shards have not finished.
    public static func merge(_ output: String) throws(LungCTError) -> MergeResult {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .inputFailed("\(output): no such output folder")
        }
        let out = BatchOutput(root: URL(fileURLWithPath: output).standardizedFileURL.path)
        let lock = try OutputLock(sharedOn: out.root)
        defer { withExtendedLifetime(lock) {} }
        let rows = try out.finishedRows()
        let summary = out.summaryPath(nil)
        try SummaryCSV.write(rows, to: summary)

        var states: [ShardState] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: out.root)) ?? []).sorted()
        where name.hasPrefix("summary.shard-") && name.hasSuffix(".json") {
            if let data = FileManager.default.contents(atPath: out.root + "/" + name),
                let state = try? JSONDecoder().decode(ShardState.self, from: data)
            {
                states.append(state)
            }
        }
        var unfinished: [String] = []
        let counts = Set(states.compactMap { Shard(parsing: $0.shard)?.count })
        for n in counts.sorted() {
            for k in 0..<n {
                let state = states.first { $0.shard == "\(k)/\(n)" }
                if state == nil || state!.unfinished > 0 { unfinished.append("\(k)/\(n)") }
            }
        }
        let failed = rows.filter { $0.status == .failed }.count
        let ok = rows.filter { $0.status == .ok }.count
        let outcome =
            unfinished.isEmpty
            ? outcome(foundAny: !rows.isEmpty, unfinished: 0, failed: failed, ok: ok, cases: rows.count)
            : .shardsUnfinished
        return MergeResult(
            output: out.root, summary: summary, cases: rows.count, ok: ok,
            skipped: rows.filter { $0.status == .skipped }.count,
            failed: failed, shards: states, unfinishedShards: unfinished, outcome: outcome)
    }

    static func writeShardState(_ result: BatchResult, shard: Shard, out: BatchOutput) {
        let state = ShardState(
            shard: shard.description, cases: result.cases, ok: result.ok, skipped: result.skipped,
            failed: result.failed,
            unfinished: result.unfinished, finishedAt: ISO8601DateFormatter().string(from: Date()))
        try? JSON.write(state, to: out.shardStatePath(shard))
    }

    // MARK: Helpers

    static func removeScratch(_ scratch: String, root: String) {
        try? FileManager.default.removeItem(atPath: scratch)
        // The parents go too once empty; a shard creating its folder in them at this moment
        // creates them again (`BatchOutput.createFolder`, `setAttempts`).
        _ = rmdir(root + "/" + BatchOutput.workFolder)
        _ = rmdir(root + "/" + BatchOutput.attemptsFolder)
    }

    /// An output error with the free space beside it: a full disk is the usual cause.
    static func withFreeSpace(_ error: LungCTError, out: String) -> LungCTError {
        guard case .outputFailed(let message) = error else { return error }
        let free = DiskSpace.freeBytes(out).map { "; \(DiskSpace.describe($0)) free on the output's file system" } ?? ""
        return .outputFailed(
            "\(message)\(free). Finished cases are kept: make room (or fix the folder's permissions) and rerun the same command"
        )
    }

    /// Peak resident memory of this process or of its largest worker process. The
    /// corresponding C function is `getrusage`.
    static func peakMemoryMB() -> Double {
        let peaks = [RUSAGE_SELF.rawValue, RUSAGE_CHILDREN.rawValue].map { who in
            var usage = rusage()
            getrusage(__rusage_who_t(who), &usage)
            return usage.ru_maxrss
        }
        return (Double(peaks.max() ?? 0) / 1024).rounded(places: ReportPrecision.summaryFigures)
    }
}
