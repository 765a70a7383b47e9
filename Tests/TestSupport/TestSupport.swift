import Foundation

/// A new empty folder under the system's temporary directory.
public func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "lungct-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A path in the shared real-data folder (`$LUNGCT_DATA`, else `../shared/data` beside the
/// repository), or nil when it is absent: real-data tests skip then.
public func sharedData(_ relative: String) -> String? {
    let repositoryParent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let path =
        ProcessInfo.processInfo.environment["LUNGCT_DATA"].map { $0 + "/" + relative }
        ?? repositoryParent.appendingPathComponent("shared/data/" + relative).path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// The repository's root folder (where Package.swift, Weights/ and Volumes/ are).
public func repositoryRoot() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path
}

/// A failed precondition of a test, with what was found instead.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The lungct executable built beside this test bundle (same build folder, whatever
/// --scratch-path was used).
public func lungctBinary() -> String {
    var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    // On Linux the tests run from .build/<triple>/debug/lungctPackageTests.xctest.
    if folder.lastPathComponent.hasSuffix(".xctest") { folder = folder.deletingLastPathComponent() }
    return folder.appendingPathComponent("lungct").path
}

/// Starts lungct with stdout to `log`.out and stderr to `log`.err (files, not pipes: a
/// chatty run cannot block on a full pipe).
public func startLungct(_ arguments: [String], log: String) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: lungctBinary())
    process.arguments = arguments
    for suffix in [".out", ".err"] { _ = FileManager.default.createFile(atPath: log + suffix, contents: nil) }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log + ".out"))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log + ".err"))
    try process.run()
    return process
}

/// A finished lungct run: its exit status and what it printed.
public struct Run: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs lungct to the end.
public func lungct(_ arguments: String...) throws -> Run {
    let log = try temporaryDirectory() + "/run"
    let process = try startLungct(arguments, log: log)
    process.waitUntilExit()
    return Run(
        status: process.terminationStatus, stdout: try String(contentsOfFile: log + ".out", encoding: .utf8),
        stderr: try String(contentsOfFile: log + ".err", encoding: .utf8))
}

/// Builds `output` from a DICOM text dump with DCMTK's dump2dcm (lines of any length), or
/// returns nil when dump2dcm is not installed.
public func dicomFromDump(at dump: String, to output: String) throws -> String? {
    guard
        let tool = ["/usr/bin/dump2dcm", "/usr/local/bin/dump2dcm"].first(where: FileManager.default.isExecutableFile)
    else { return nil }
    try runTool(tool, ["--write-xfer-same", "--line", "65536", dump, output])
    return output
}

/// Runs a command-line tool to the end, its stdout discarded (its stderr stays in the test
/// log); a non-zero exit is a `TestFailure` naming the tool.
public func runTool(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("\(tool) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
    }
}
