import Foundation

/// The listener's log: one line per event, with a UTC time stamp, to stderr and to
/// FOLDER/listen.log. Text from the network appears only as the listener shows it (AE titles
/// quoted, UIDs never).
final class ListenerLog: @unchecked Sendable {
    private let lock = NSLock()
    private let file: FileHandle?
    private let stamp: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()

    init(path: String) {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        file = FileHandle(forWritingAtPath: path)
        _ = try? file?.seekToEnd()
    }

    func callAsFunction(_ event: String) {
        lock.withLock {
            let line = Data("\(stamp.string(from: Date())) listen: \(event)\n".utf8)
            FileHandle.standardError.write(line)
            try? file?.write(contentsOf: line)
        }
    }

    /// An AE title from the network as the log shows it: quoted, with anything outside
    /// printable ASCII escaped.
    static func shown(_ title: String) -> String {
        let escaped = title.unicodeScalars.map { scalar in
            (0x20...0x7E).contains(scalar.value) && scalar != "\"" && scalar != "\\"
                ? String(scalar) : String(format: "\\u{%X}", scalar.value)
        }
        return "\"" + escaped.joined() + "\""
    }
}
