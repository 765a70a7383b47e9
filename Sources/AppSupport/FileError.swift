import Foundation

/// An error about one file: the file and what went wrong with it, in words a user can act on.
/// The description names the file once: the message alone when the library's message already
/// starts with the path (DCMTK's, libpng's and libjpeg's usually do), else "path: message".
public protocol FileError: Error, CustomStringConvertible {
    /// The file (or folder) the problem is about.
    var path: String { get }
    /// What went wrong.
    var message: String { get }
}

extension FileError {
    public var description: String { message.hasPrefix(path) ? message : "\(path): \(message)" }
}

/// A `FileError` with a kind a caller can switch on: `DICOMError` and `RadiographError` are
/// this, each with its own `Kind`.
public struct KindedFileError<Kind: Sendable & Equatable>: FileError, Sendable {
    public var kind: Kind
    /// The file (or folder) the problem is about.
    public var path: String
    /// What went wrong, in words a user can act on; it names the file when the library's
    /// message already did.
    public var message: String

    public init(_ kind: Kind, path: String, message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }
}

/// Whether `path` is a regular file, following symbolic links (stat(2)): not a folder, FIFO,
/// socket or device, whose reads can block forever or never end.
public func isRegularFile(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
}
