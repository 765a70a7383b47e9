import Foundation

// The one place tests start a process (`startProcess`); everything else runs through it.

/// A finished process: its exit status and what it printed.
public struct Run: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Starts `executable` with stdout to `log`.out and stderr to `log`.err (files, not pipes: a
/// chatty process cannot block on a full pipe).
public func startProcess(_ executable: String, _ arguments: [String], log: String) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    for suffix in [".out", ".err"] { _ = FileManager.default.createFile(atPath: log + suffix, contents: nil) }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log + ".out"))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log + ".err"))
    try process.run()
    return process
}

/// Runs `executable` to the end and returns its status and output.
public func runProcess(_ executable: String, _ arguments: [String]) throws -> Run {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let process = try startProcess(executable, arguments, log: folder + "/run")
    process.waitUntilExit()
    return Run(
        status: process.terminationStatus,
        stdout: try String(contentsOfFile: folder + "/run.out", encoding: .utf8),
        stderr: try String(contentsOfFile: folder + "/run.err", encoding: .utf8))
}

/// The path of the command-line tool `name` (on PATH, else in the usual system folders), or
/// nil when it is not installed.
public func toolPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let folders =
        path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/sbin"]
    return folders.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Whether the command-line tool `name` is installed: the condition of an `.enabled(if:)`
/// trait for a test that needs it.
public func hasTool(_ name: String) -> Bool { toolPath(name) != nil }

/// Runs a command-line tool (a name looked up with `toolPath`, or a path) to the end and
/// returns what it printed; a missing tool or a non-zero exit is a `TestFailure` naming the
/// tool, with its stderr.
@discardableResult
public func runTool(_ tool: String, _ arguments: [String]) throws -> Run {
    guard let path = tool.contains("/") ? tool : toolPath(tool) else { throw TestFailure("\(tool) is not installed") }
    let run = try runProcess(path, arguments)
    guard run.status == 0 else {
        throw TestFailure("\(tool) \(arguments.joined(separator: " ")) exited with \(run.status): \(run.stderr)")
    }
    return run
}

// MARK: lungct

/// The lungct executable built beside this test bundle (same build folder, whatever
/// --scratch-path was used).
public func lungctBinary() -> String {
    var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    // On Linux the tests run from .build/<triple>/debug/lungctPackageTests.xctest.
    if folder.lastPathComponent.hasSuffix(".xctest") { folder = folder.deletingLastPathComponent() }
    return folder.appendingPathComponent("lungct").path
}

/// Starts lungct with stdout to `log`.out and stderr to `log`.err.
public func startLungct(_ arguments: [String], log: String) throws -> Process {
    try startProcess(lungctBinary(), arguments, log: log)
}

/// Runs lungct to the end.
public func lungct(_ arguments: String...) throws -> Run {
    try runProcess(lungctBinary(), arguments)
}

// MARK: What the machine offers

/// A Python with h5py and numpy: $LUNGCT_PYTHON (the Makefile's test virtualenv), else
/// python3 on PATH if it has both; nil otherwise.
public let pythonWithH5py: String? = {
    let candidates = [ProcessInfo.processInfo.environment["LUNGCT_PYTHON"], toolPath("python3")].compactMap { $0 }
    return candidates.first { python in (try? runProcess(python, ["-c", "import h5py, numpy"]))?.status == 0 }
}()

/// A Python with Pillow (`make test` installs it in its virtualenv), to write pictures lungct's
/// own writers do not make (CMYK JPEG); nil when there is none.
public let pythonWithPillow: String? = {
    let candidates = [ProcessInfo.processInfo.environment["LUNGCT_PYTHON"], toolPath("python3")].compactMap { $0 }
    return candidates.first { python in (try? runProcess(python, ["-c", "import PIL"]))?.status == 0 }
}()

/// A Python with pydicom, highdicom and numpy ($LUNGCT_PYTHON, the Makefile's test virtualenv,
/// else python3 on PATH), to read lungct's DICOM result objects back and to make enhanced CT
/// objects; nil when there is none.
public let pythonWithHighdicom: String? = {
    let candidates = [ProcessInfo.processInfo.environment["LUNGCT_PYTHON"], toolPath("python3")].compactMap { $0 }
    return candidates.first { python in
        (try? runProcess(python, ["-c", "import pydicom, highdicom, numpy"]))?.status == 0
    }
}()

/// Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN), found by mounting a
/// tiny one on a scratch folder once.
public let canMountTmpfs: Bool = {
    guard getuid() == 0, let folder = try? temporaryDirectory() else { return false }
    defer { try? FileManager.default.removeItem(atPath: folder) }
    guard (try? runTool("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", folder])) != nil else { return false }
    return (try? runTool("umount", [folder])) != nil
}()
