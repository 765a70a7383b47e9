import Foundation

/// A process that analyses one case in isolation (batch's workers, listen's studies): no
/// input, its stdout thrown away, its stderr in a log file, killed if it outlives its time. A
/// crash, a hang or a memory blow-up then costs that case alone.
public final class ChildProcess: @unchecked Sendable {
    /// How it ended.
    public enum End: Equatable, Sendable {
        case exit(Int32)
        case signal(Int32)
        case timedOut
    }

    private let process = Process()
    private let ended = DispatchSemaphore(value: 0)

    /// Starts `executable`; throws Foundation's error when it cannot be started.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil, logPath: String)
        throws
    {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.terminationHandler = { [ended] _ in ended.signal() }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Waits for the end, killing the process (SIGKILL) once `seconds` have passed; nil: no limit.
    public func wait(timeout seconds: Double?) -> End {
        if let seconds, ended.wait(timeout: .now() + seconds) == .timedOut {
            kill(pid, SIGKILL)
            ended.wait()
            return .timedOut
        }
        if seconds == nil { ended.wait() }
        return process.terminationReason == .uncaughtSignal
            ? .signal(process.terminationStatus) : .exit(process.terminationStatus)
    }
}
