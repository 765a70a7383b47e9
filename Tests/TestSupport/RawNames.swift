import Foundation

// File names that are not valid UTF-8 (Latin-1 from old PACS exports), which a `String` cannot
// hold: tests make them with the byte-taking system calls.

/// `text` in Latin-1 (é is the one byte 0xE9); every character must be in U+0000...U+00FF.
public func latin1(_ text: String) -> [UInt8] { text.unicodeScalars.map { UInt8($0.value) } }

/// A path as bytes: `folder` (UTF-8), a slash, then `name` (any bytes).
public func rawPath(_ folder: String, _ name: [UInt8]) -> [UInt8] { Array(folder.utf8) + [UInt8(ascii: "/")] + name }

/// rename(2) from and to paths given as bytes.
public func renameRaw(_ from: [UInt8], to: [UInt8]) throws {
    guard rename(cPath(from), cPath(to)) == 0 else { throw systemFailure(errno, "rename", to) }
}

/// Moves `path` (UTF-8) to `folder`/`name` (any bytes).
public func renameRaw(_ path: String, into folder: [UInt8], name: [UInt8]) throws {
    try renameRaw(Array(path.utf8), to: folder + [UInt8(ascii: "/")] + name)
}

/// mkdir(2) of a path given as bytes.
public func mkdirRaw(_ path: [UInt8]) throws {
    guard mkdir(cPath(path), 0o755) == 0 else { throw systemFailure(errno, "mkdir", path) }
}

/// mkfifo(3) of a path given as bytes.
public func mkfifoRaw(_ path: [UInt8]) throws {
    guard mkfifo(cPath(path), 0o600) == 0 else { throw systemFailure(errno, "mkfifo", path) }
}

/// symlink(2): a link at `path` (bytes) to `target`.
public func symlinkRaw(_ target: String, at path: [UInt8]) throws {
    guard symlink(target, cPath(path)) == 0 else { throw systemFailure(errno, "symlink", path) }
}

/// Whether the temporary folder's file system takes a file name that is not valid UTF-8 (some
/// refuse them): the condition of an `.enabled(if:)` trait for tests that need one.
public let fileSystemTakesLatin1Names: Bool = {
    guard let folder = try? temporaryDirectory() else { return false }
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = cPath(rawPath(folder, latin1("café")))
    let descriptor = open(path, O_CREAT | O_WRONLY, 0o600)
    guard descriptor >= 0 else { return false }
    close(descriptor)
    return unlink(path) == 0
}()

private func cPath(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

/// `code` first, so that errno is read before anything else runs.
private func systemFailure(_ code: Int32, _ call: String, _ path: [UInt8]) -> TestFailure {
    TestFailure("\(call) \(String(decoding: path, as: UTF8.self)): \(String(cString: strerror(code)))")
}
