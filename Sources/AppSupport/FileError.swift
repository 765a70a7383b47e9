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
