import AppSupport
import Foundation
import ModelRuntime

/// An isolated run (`BatchOptions.isolation`): each of the `jobs` threads takes the next case,
/// has a worker process analyse it into a partial folder, and publishes the row the worker
/// wrote, or a failed row saying how the worker ended.
extension BatchRun {
    /// The end of a worker's stderr kept in a failed row.
    static let stderrExcerpt = 2000

    func superviseWorkers(_ launcher: WorkerLauncher) {
        while !stopping, let item = nextQueued() {
            supervise(item, launcher: launcher)
        }
    }

    private func nextQueued() -> BatchCase? {
        condition.withLock { queue.isEmpty ? nil : queue.removeFirst() }
    }

    private func supervise(_ item: BatchCase, launcher: WorkerLauncher) {
        // An attempt from here until the case is published: a supervisor that dies meanwhile
        // (kill -9; its workers die with it) leaves it counted.
        let attempts = out.attempts(item.id) + 1
        var partial: String?
        do {
            guard attempts <= Batch.maximumAttempts else {
                try process(Item(item: item, outcome: Self.givenUp(item, attempts: attempts), loadSeconds: 0))
                return
            }
            out.setAttempts(item.id, attempts)
            let folder = try out.makePartial(item.id)
            partial = folder
            guard let row = try runWorker(item, partial: folder, launcher: launcher) else {
                // Killed because the run is being stopped at once: not a result of the study.
                try? FileManager.default.removeItem(atPath: folder)
                return
            }
            try publish(row, partial: folder)
        } catch {
            if let partial { try? FileManager.default.removeItem(atPath: partial) }
            out.setAttempts(item.id, attempts - 1)
            condition.withLock { if fatalError == nil { fatalError = error } }
        }
    }

    /// Runs one worker to its end and returns the case's row; nil when the run is being
    /// stopped at once. Throws the output and model errors that stop the run.
    private func runWorker(_ item: BatchCase, partial: String, launcher: WorkerLauncher) throws(LungCTError)
        -> CaseRow?
    {
        let orderPath = partial + ".order.json"
        let logPath = partial + ".stderr.txt"
        defer {
            try? FileManager.default.removeItem(atPath: orderPath)
            try? FileManager.default.removeItem(atPath: logPath)
        }
        try JSON.write(order(item, partial: partial, launcher: launcher), to: orderPath)
        let start = Date()
        let ended = try startAndWait(launcher, orderPath: orderPath, logPath: logPath)
        guard let ended else { return nil }
        let seconds = Date().timeIntervalSince(start).rounded(places: ReportPrecision.caseSeconds)
        let stderr = Self.excerpt(logPath)
        var row: CaseRow
        var written = false
        switch ended {
        case .timedOut:
            row = failedRow(
                item,
                "the analysis took longer than \(Self.seconds(launcher.caseTimeout)) s (--case-timeout) and was stopped; the other cases are unaffected"
            )
        case .signal(let number):
            row = failedRow(
                item,
                "the analysis process ended with signal \(number) (\(Self.signalName(number))): a crash, or more memory than its limit of \(launcher.memoryLimitText) (--memory-limit); the other cases are unaffected"
            )
        case .exit(0):
            let resultPath = partial + "/" + BatchWorker.resultFile
            defer { try? FileManager.default.removeItem(atPath: resultPath) }
            guard let data = FileManager.default.contents(atPath: resultPath),
                let result = try? JSONDecoder().decode(CaseRow.self, from: data)
            else {
                row = failedRow(item, "the analysis process ended without a result: \(stderr)")
                break
            }
            row = result
            written = true
        case .exit(let status) where launcher.runStoppingExits[status] == .outputFailed:
            throw .outputFailed(stderr.isEmpty ? "\(partial): the analysis process could not write its files" : stderr)
        case .exit(let status) where launcher.runStoppingExits[status] == .modelInvalid:
            throw .modelInvalid(stderr)
        case .exit(let status):
            row = failedRow(item, "the analysis process failed (exit \(status)): \(stderr)")
        }
        if !written {
            // Whatever a crashed or stopped analysis wrote is not kept: the folder holds case.json alone.
            try CaseAnalysis.empty(partial)
        }
        row.seconds = seconds
        return row
    }

    private func order(_ item: BatchCase, partial: String, launcher: WorkerLauncher) -> WorkOrder {
        let models = options.models
        let wanted =
            [(WorkOrder.Model.Slot.ct, models.ct), (.radiograph, models.radiograph), (.lungFields, models.lungFields)]
            .compactMap { slot, model in
                model.map { WorkOrder.Model(slot: slot, path: $0.path, sha256: $0.sha256) }
            }
        return WorkOrder(
            item: item, output: out.root, partial: partial, archiveLabel: analysis.archiveLabel,
            unpacked: analysis.unpacked, models: wanted, declined: models.declined,
            memoryLimitBytes: launcher.memoryLimitBytes, supervisor: getpid(), dicom: options.dicom)
    }

    /// Starts a worker and waits for it, killing it at the case timeout; nil when the run is
    /// being stopped at once (the worker was killed for that).
    private func startAndWait(_ launcher: WorkerLauncher, orderPath: String, logPath: String) throws(LungCTError)
        -> ChildProcess.End?
    {
        // glibc gives each thread that allocates its own 64 MiB arena of address space; under
        // the worker's address-space limit that reserve, not memory in use, would fail a case.
        var environment = ProcessInfo.processInfo.environment
        environment["MALLOC_ARENA_MAX"] = environment["MALLOC_ARENA_MAX"] ?? "2"
        let worker: ChildProcess
        do {
            worker = try ChildProcess(
                executable: launcher.executable, arguments: launcher.arguments + [orderPath], environment: environment,
                logPath: logPath)
        } catch {
            throw .internalFailure("cannot start the analysis process \(launcher.executable): \(error)")
        }
        let pid = worker.pid
        guard control.workers.add(pid) else {
            kill(pid, SIGKILL)
            _ = worker.wait(timeout: nil)
            return nil
        }
        defer { control.workers.remove(pid) }
        let end = worker.wait(timeout: launcher.caseTimeout)
        if control.workers.stopped { return nil }
        return end
    }

    private func failedRow(_ item: BatchCase, _ reason: String) -> CaseRow {
        CaseRow(
            caseID: item.id, source: item.source, kind: item.kind.rawValue, series: "", status: .failed,
            reason: analysis.readable(reason), rightLungML: nil, leftLungML: nil, totalLungML: nil,
            studyProbability: nil, modelSHA256: nil, seconds: 0)
    }

    /// The end of a worker's stderr, on one line.
    static func excerpt(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        return line.count > stderrExcerpt ? "…" + String(line.suffix(stderrExcerpt)) : line
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// A signal's name and what it usually means. The corresponding C function is `strsignal`.
    static func signalName(_ number: Int32) -> String {
        let names: [Int32: String] = [
            SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT",
            SIGFPE: "SIGFPE", SIGKILL: "SIGKILL",
        ]
        let description = strsignal(number).map { String(cString: $0) } ?? ""
        return [names[number], description.isEmpty ? nil : description].compactMap { $0 }.joined(separator: ", ")
    }
}
