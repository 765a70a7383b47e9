import AppSupport
import ArgumentParser
import BatchScoring
import Dispatch
import Foundation

/// `lungct batch`: `run` (the default) scores an archive, `merge` joins the shards' summaries.
struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score every study in an archive (folders and zip files), resumably, with a summary.csv.",
        discussion: """
            ARCHIVE is a folder tree (or a zip file) of DICOM studies, NIfTI volumes and radiographs in \
            any nesting, zip files included. Every DICOM series (grouped by Study and Series Instance \
            UID across folders), NIfTI file and picture is one case, analysed as `lungct analyze` does \
            and written to OUT/<case id>/ (16 hex digits, a hash of the series' UIDs or of the path: \
            no patient identifiers). OUT/summary.csv gets one row per case as it finishes: case_id, \
            source, kind, series, status (ok, skipped, failed), reason, lung volumes, study \
            probability, model SHA-256, seconds. A damaged study is a failed row and the run goes on.

            Interrupted at any moment (Ctrl-C, kill -9, power loss), the same command finishes what \
            is missing: nothing finished is redone or duplicated. Ctrl-C (or SIGTERM) once: the \
            cases in progress finish, no new one starts, a zip being unpacked stops at once; twice: \
            stop at once.

            Zip files are unpacked into OUT/.work/, each at most --zip-limit GiB (zips inside it \
            included, counted as written): a larger one is that zip's failed row. An unpacked zip \
            is removed as soon as its last case has finished, the rest when the run ends (stopped \
            or not); what a killed run left is removed when the next one starts.

            Each study is analysed in a process of its own, limited to --memory-limit GiB of \
            address space and --case-timeout seconds: a crash, a hang or a memory blow-up is that \
            study's failed row (the reason names the signal or the limit), and the other studies \
            and the run go on.

            --shard K/N takes a deterministic share (0 <= K < N) into one shared OUT, writing \
            OUT/summary.shard-K-of-N.csv; `lungct batch merge OUT` then writes OUT/summary.csv.

            `lungct batch ARCHIVE -o OUT` runs `lungct batch run` (see its --help for --jobs, \
            --shard, --retry-failed, --case-timeout, --memory-limit, --zip-limit, --model, --no-model, --progress-interval, --json). Example:

              lungct batch /archive/pacs-export -o results/ --jobs 2
              lungct batch /archive -o /shared/results --shard $SLURM_ARRAY_TASK_ID/8
              lungct batch merge /shared/results

            \(ExitCode.helpText)
            """,
        subcommands: [BatchRun.self, BatchMerge.self, BatchWorkerCommand.self],
        defaultSubcommand: BatchRun.self)
}

struct BatchRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Score an archive (the default: `lungct batch ARCHIVE -o OUT` runs this).")

    @Argument(help: "A folder of studies (searched recursively, zip files unpacked) or a zip file.")
    var archive: String

    @Option(name: .shortAndLong, help: "Output folder (created if missing; shared by the shards).")
    var output: String

    @Option(help: "Cases analysed at once, each in a process of its own.")
    var jobs = 1

    @Option(help: "K/N: take share K (0-based) of N, e.g. $SLURM_ARRAY_TASK_ID/8.")
    var shard: Shard?

    @Flag(name: .customLong("retry-failed"), help: "Analyse the cases that failed in an earlier run again.")
    var retryFailed = false

    @Option(name: .customLong("case-timeout"), help: "Seconds a study may take before its process is stopped (failed).")
    var caseTimeout = 900.0

    @Option(
        name: .customLong("memory-limit"),
        help: "GiB of address space a study's process may use (fractions allowed); more is that study's failure.")
    var memoryLimit = 8.0

    @Option(
        name: .customLong("zip-limit"),
        help: """
            GiB one zip file may unpack to, zips inside it included (counted as written; more is \
            that zip's failure). 32 is far beyond any CT study zip (2000 slices are 1 GB) and far \
            below what a zip bomb asks for.
            """)
    var zipLimit = Double(BatchOptions.defaultZipLimitBytes >> 30)

    @Flag(
        help: """
            Also write DICOM result objects into OUT/<case id>/dicom/ (Segmentation, Parametric Map, TID 1500 \
            SR, Secondary Capture) in the source study; DICOM CT inputs only.
            """)
    var dicom = false

    @OptionGroup var models: ModelOptions

    @Option(
        name: .customLong("progress-interval"), help: "Seconds between progress lines when stderr is not a terminal.")
    var progressInterval = 60.0

    @OptionGroup var json: JSONOption

    /// The most cases a run analyses at once: far more than a machine's memory allows anyway.
    static let maximumJobs = 64

    func validate() throws {
        guard (1...Self.maximumJobs).contains(jobs) else {
            throw ValidationError("--jobs must be between 1 and \(Self.maximumJobs)")
        }
        guard progressInterval > 0 else { throw ValidationError("--progress-interval must be positive") }
        guard caseTimeout > 0 else { throw ValidationError("--case-timeout must be positive") }
        guard memoryLimit > 0 else { throw ValidationError("--memory-limit must be positive") }
        guard zipLimit > 0 else { throw ValidationError("--zip-limit must be positive") }
    }

    func run() throws {
        var options = BatchOptions(archive: archive, output: output)
        options.jobs = jobs
        options.shard = shard
        options.retryFailed = retryFailed
        options.dicom = dicom
        options.progressInterval = progressInterval
        options.zipLimitBytes = Int64(min(zipLimit, Double(Int64.max >> 30)) * Double(1 << 30))
        options.models = try models.load()
        options.isolation = WorkerLauncher(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            arguments: ["batch", BatchWorkerCommand.configuration.commandName ?? "worker"],
            caseTimeout: caseTimeout, memoryLimitGiB: memoryLimit,
            runStoppingExits: [
                ExitCode.outputFailed.rawValue: .outputFailed, ExitCode.modelInvalid.rawValue: .modelInvalid,
            ])
        let control = BatchControl()
        let signals = Self.stopOnSignals(control)
        let result = try BatchScoring.Batch.run(options, control: control) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
        withExtendedLifetime(signals) {}
        try json.print(result, text: TextRenderer.batch)
        let code = ExitCode(result.outcome)
        if code != .success { throw ArgumentParser.ExitCode(code.rawValue) }
    }

    /// SIGINT and SIGTERM (Slurm's at the time limit): the first stops new cases, the second
    /// kills the workers and ends the process at once (safe: finished cases are on disk, a
    /// rerun resumes).
    static func stopOnSignals(_ control: BatchControl) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if control.requestStop() {
                    FileHandle.standardError.write(
                        Data(
                            "\nbatch: stopping after the cases in progress (again to stop now; a rerun finishes the rest)\n"
                                .utf8))
                } else {
                    control.killWorkers()
                    _exit(ExitCode.interrupted.rawValue)
                }
            }
            source.resume()
            return source
        }
    }
}

struct BatchMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Write OUT/summary.csv from every finished case (after a sharded run) and report unfinished shards.",
        discussion: """
            Example:

              lungct batch merge /shared/results
            """)

    @Argument(help: "The output folder the shards wrote into.")
    var output: String

    @OptionGroup var json: JSONOption

    func run() throws {
        let result = try BatchScoring.Batch.merge(output)
        try json.print(result, text: TextRenderer.merge)
        let code = ExitCode(result.outcome)
        if code != .success { throw ArgumentParser.ExitCode(code.rawValue) }
    }
}

/// `lungct batch worker ORDER.json`: one case of `batch run`, in a process of its own. Hidden:
/// only `batch run` starts it.
struct BatchWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Analyse one case of a batch run (started by `lungct batch run`).",
        shouldDisplay: false)

    @Argument(help: "The work order (JSON) written by `lungct batch run`.")
    var order: String

    func run() throws {
        try BatchWorker.run(orderPath: order)
    }
}
