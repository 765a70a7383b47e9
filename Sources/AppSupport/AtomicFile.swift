import Foundation

/// Files that appear whole or not at all: written under a hidden temporary name in the same
/// folder, then renamed (rename(2) is atomic within a file system).
public enum AtomicFile {
    /// The temporary name for `path`.
    public static func partialPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().path + "/.partial-" + url.lastPathComponent
    }

    /// Runs `body` with the temporary name, then moves the result to `path`; on any failure the
    /// temporary file is removed and the error names `path`.
    public static func write(to path: String, _ body: (String) throws -> Void) throws(LungCTError) {
        let partial = partialPath(for: path)
        do {
            try body(partial)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw .outputFailed("\(path): \(error)")
        }
        try commit(partial, to: path)
    }

    /// Moves a finished temporary file into place.
    public static func commit(_ partial: String, to path: String) throws(LungCTError) {
        if rename(partial, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: partial)
            throw .outputFailed("\(path): cannot move the finished file into place: \(reason)")
        }
    }
}
