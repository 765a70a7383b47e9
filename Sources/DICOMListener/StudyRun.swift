import AppSupport
import Foundation

/// One study's analysis in a process of its own: `lungct analyze FOLDER -o OUT --dicom
/// --dicom-patient`, killed at the timeout. The outcome says what the node logs and sends.
struct StudyRun {
    enum Outcome {
        /// The DICOM objects written (OUT/dicom/*.dcm) and the report's study probability.
        case analysed(objects: [String], probability: Double?, warnings: Int)
        case failed(String)
    }

    let launcher: AnalysisLauncher

    /// Runs the analysis of `input` into `output` (stderr to `output`.log); `started` receives
    /// the process so that a second signal can kill it.
    func run(_ input: String, into output: String, started: (ChildProcess) -> Void) -> Outcome {
        let logPath = output + ".log"
        let analysis: ChildProcess
        do {
            analysis = try ChildProcess(
                executable: launcher.executable,
                arguments: launcher.arguments + [input, "-o", output, "--dicom", "--dicom-patient"]
                    + launcher.extraArguments,
                logPath: logPath)
        } catch {
            return .failed("cannot start \(launcher.executable): \(error.localizedDescription)")
        }
        started(analysis)
        switch analysis.wait(timeout: launcher.timeoutSeconds) {
        case .timedOut: return .failed("killed after \(Int(launcher.timeoutSeconds)) s (--case-timeout)")
        case .signal(let number): return .failed("signal \(number): \(Self.lastLine(logPath))")
        case .exit(0): return outcome(output)
        case .exit(let status): return .failed("exit status \(status): \(Self.lastLine(logPath))")
        }
    }

    private func outcome(_ output: String) -> Outcome {
        let folder = output + "/dicom"
        let objects = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".dcm") }.sorted().map { folder + "/" + $0 }
        let report =
            (try? Data(contentsOf: URL(fileURLWithPath: output + "/report.json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        let model = report?["model"] as? [String: Any]
        let warnings = (report?["warnings"] as? [Any])?.count ?? 0
        return .analysed(objects: objects, probability: model?["probability"] as? Double, warnings: warnings)
    }

    /// The last non-empty line of a log, for a failure's one-line reason.
    static func lastLine(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map(String.init) ?? "no message"
    }
}
