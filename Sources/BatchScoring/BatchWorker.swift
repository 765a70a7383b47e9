import AppSupport
import Foundation
import ModelRuntime

/// How a batch starts the process that analyses one case (`BatchOptions.isolation`): a crash,
/// a hang or a memory blow-up then costs that case alone, never the run or another case.
public struct WorkerLauncher: Sendable {
    /// The program to start, with the arguments before the work order's path
    /// (the CLI: its own executable, `batch worker`).
    public var executable: String
    public var arguments: [String]
    /// Wall-clock seconds a case may take before its process is killed. Essential beside the
    /// memory limit: a process whose allocation fails under RLIMIT_AS may spin instead of
    /// crashing (seen: 30 minutes at 95 % CPU).
    public var caseTimeout: Double
    /// The address space a case's process may use (RLIMIT_AS), in bytes.
    public var memoryLimitBytes: UInt64
    /// The worker's exit statuses that stop the whole run, with the kind of error each means
    /// (an output that cannot be written, a model file changed during the run). The statuses
    /// are the program's to define (the CLI's exit-code table); any other failure is the
    /// case's own.
    public var runStoppingExits: [Int32: LungCTError.Category]

    public init(
        executable: String, arguments: [String], caseTimeout: Double, memoryLimitGiB: Double,
        runStoppingExits: [Int32: LungCTError.Category]
    ) {
        self.executable = executable
        self.arguments = arguments
        self.caseTimeout = caseTimeout
        memoryLimitBytes = UInt64(max(0, memoryLimitGiB) * Double(1 << 30))
        self.runStoppingExits = runStoppingExits
    }

    /// The limit as the user gave it (to two decimals, no trailing zeros: 0.85 GiB, 8 GiB); one
    /// decimal showed --memory-limit 0.85 as "0.8 GiB".
    var memoryLimitText: String {
        var text = String(format: "%.2f", Double(memoryLimitBytes) / Double(1 << 30))
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text + " GiB"
    }
}

/// What a worker process is asked to do: one case, into one partial folder.
public struct WorkOrder: Codable, Sendable {
    /// A model the worker loads, with the SHA-256 the batch started with.
    public struct Model: Codable, Sendable {
        public enum Slot: String, Codable, Sendable {
            case ct
            case radiograph
            case lungFields
        }
        public var slot: Slot
        public var path: String
        public var sha256: String
    }

    public var item: BatchCase
    /// The batch's output folder (OUT): reports name OUT/<case id>/, where the case is published.
    public var output: String
    /// The folder the worker writes into (OUT/.partial-...), the supervisor publishes.
    public var partial: String
    public var archiveLabel: String
    public var unpacked: [String: String]
    public var models: [Model]
    /// --no-model: no model, because the user asked for none.
    public var declined: Bool
    public var memoryLimitBytes: UInt64
    /// The supervisor's process id: a worker whose parent is already another process ends.
    public var supervisor: Int32
    /// Write the case's DICOM result objects too (`--dicom`).
    public var dicom = false
}

/// `lungct batch worker ORDER.json`: the child side of an isolated batch. It analyses one
/// case as the in-process batch does and writes the case's row into the partial folder.
public enum BatchWorker {
    /// The row, as JSON, in the partial folder; the supervisor removes it before publishing.
    static let resultFile = ".worker-row.json"
    /// `PR_SET_PDEATHSIG` from <linux/prctl.h>.
    static let setParentDeathSignal: Int32 = 1

    /// Analyses the order's case and writes its row (ok, skipped or failed). Throws an output
    /// error when a file cannot be written and a model error when a model file is no longer
    /// the one the batch started with.
    public static func run(orderPath: String) throws(LungCTError) {
        let order = try readOrder(orderPath)
        isolate(order)
        let analysis = CaseAnalysis(
            out: BatchOutput(root: order.output), models: try loadModels(order), archiveLabel: order.archiveLabel,
            unpacked: order.unpacked, dicom: order.dicom)
        let start = Date()
        var row = try analysis.row(for: order.item, outcome: analysis.prepare(order.item), partial: order.partial)
        row.seconds = Date().timeIntervalSince(start).rounded(places: ReportPrecision.caseSeconds)
        try JSON.write(row, to: order.partial + "/" + resultFile)
    }

    static func readOrder(_ path: String) throws(LungCTError) -> WorkOrder {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .inputFailed("\(path): no such work order")
        }
        do {
            return try JSONDecoder().decode(WorkOrder.self, from: data)
        } catch {
            throw .inputFailed("\(path): not a work order of this lungct (\(error))")
        }
    }

    /// The supervisor decides when a case stops: SIGINT and SIGTERM are ignored (Ctrl-C
    /// reaches the whole process group), the worker dies with the supervisor, and its address
    /// space is limited. The corresponding C functions are `signal`, `prctl` and `setrlimit`.
    static func isolate(_ order: WorkOrder) {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        // prctl is variadic, which Swift does not import; on Linux (x86-64, AArch64) an integer
        // call through a fixed-argument pointer is the same call.
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        if let symbol = dlsym(dlopen(nil, RTLD_NOW), "prctl") {
            _ = unsafeBitCast(symbol, to: Prctl.self)(setParentDeathSignal, UInt(SIGKILL), 0, 0, 0)
        }
        // The supervisor ended before the line above: nobody would publish this case.
        if getppid() != order.supervisor { _exit(SIGKILL + 128) }
        if order.memoryLimitBytes > 0 {
            var limit = rlimit(rlim_cur: rlim_t(order.memoryLimitBytes), rlim_max: rlim_t(order.memoryLimitBytes))
            _ = setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        }
    }

    /// The order's models, each refused unless it still has the SHA-256 the batch started with.
    static func loadModels(_ order: WorkOrder) throws(LungCTError) -> AnalysisModels {
        var models = AnalysisModels()
        models.declined = order.declined
        for wanted in order.models {
            let loaded = try AnalysisModels.load(wanted.path, requireManifest: false)
            guard loaded.sha256 == wanted.sha256 else {
                throw .modelInvalid(
                    "\(wanted.path): its SHA-256 is now \(loaded.sha256), the batch started with \(wanted.sha256); the model file changed during the run: restore it, or rerun to use the new one"
                )
            }
            switch wanted.slot {
            case .ct: models.ct = loaded
            case .radiograph: models.radiograph = loaded
            case .lungFields: models.lungFields = loaded
            }
        }
        return models
    }
}

/// The worker processes running, so that a second Ctrl-C can end them before the supervisor.
final class RunningWorkers: @unchecked Sendable {
    private let lock = NSLock()
    private var processes: Set<Int32> = []
    private var killed = false

    /// Records a started worker; false (and the worker must be killed) when the run is being stopped.
    func add(_ pid: Int32) -> Bool {
        lock.withLock {
            guard !killed else { return false }
            processes.insert(pid)
            return true
        }
    }

    func remove(_ pid: Int32) { _ = lock.withLock { processes.remove(pid) } }

    /// Whether the run is being stopped at once: a worker killed now is not published.
    var stopped: Bool { lock.withLock { killed } }

    /// Kills every worker with SIGKILL. The corresponding C function is `kill`.
    func killAll() {
        lock.withLock {
            killed = true
            for pid in processes { kill(pid, SIGKILL) }
        }
    }
}
