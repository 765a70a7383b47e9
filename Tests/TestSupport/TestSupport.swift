import Foundation

/// The folder that holds this test process's temporary folders, removed when the process
/// exits normally (a suite of hundreds of tests left gigabytes in /tmp at every run).
private func testProcessRoot() -> String { NSTemporaryDirectory() + "lungct-tests-\(getpid())" }

/// `testProcessRoot()`, once its removal at exit is registered. `rm -rf`, because the hostile
/// names tests leave (non-UTF-8, deeper than PATH_MAX) are more than FileManager can remove.
private let testRoot: String = {
    atexit { _ = system("rm -rf '\(testProcessRoot())'") }
    return testProcessRoot()
}()

/// A new empty folder under the system's temporary directory, inside this process's root.
public func temporaryDirectory() throws -> String {
    let path = testRoot + "/" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A path in the shared real-data folder (`$LUNGCT_DATA`, else `../shared/data` beside the
/// repository), or nil when it is absent.
public func sharedData(_ relative: String) -> String? {
    let repositoryParent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let path =
        ProcessInfo.processInfo.environment["LUNGCT_DATA"].map { $0 + "/" + relative }
        ?? repositoryParent.appendingPathComponent("shared/data/" + relative).path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// Whether every one of `relatives` is in the shared real-data folder: the condition of a
/// real-data test's `.enabled(if:)` trait, so a missing folder shows as a skip.
public func hasSharedData(_ relatives: String...) -> Bool {
    relatives.allSatisfy { sharedData($0) != nil }
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

/// Builds `output` from a DICOM text dump with DCMTK's dump2dcm (lines of any length). Tests
/// that call it are gated on `hasTool("dump2dcm")`; without it this throws.
@discardableResult
public func dicomFromDump(at dump: String, to output: String) throws -> String {
    try runTool("dump2dcm", ["--write-xfer-same", "--line", "65536", dump, output])
    return output
}
