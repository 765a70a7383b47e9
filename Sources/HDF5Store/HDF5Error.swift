internal import CHDF5

/// An HDF5 operation that failed, with the file, the object inside it and HDF5's own
/// error stack, so a message in a batch summary is enough to act on.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What lungct was doing, as a verb phrase: "create the file", "write dataset".
    public var operation: String
    /// The HDF5 file on disk.
    public var file: String
    /// The object inside the file ("/image/hu", "/image attribute spacing_mm"), if any.
    public var object: String?
    /// HDF5's error stack, outermost call first, or lungct's own explanation.
    public var message: String
    /// What the user can do about it, when lungct knows.
    public var hint: String?

    public init(operation: String, file: String, object: String? = nil, message: String, hint: String? = nil) {
        self.operation = operation
        self.file = file
        self.object = object
        self.message = message
        self.hint = hint
    }

    public var description: String {
        let place = object.map { "\(file) (\($0))" } ?? file
        let advice = hint.map { "; \($0)" } ?? ""
        return "\(place): cannot \(operation): \(message)\(advice)"
    }
}

/// The one funnel every HDF5 status passes through: a negative value (herr_t, hid_t, htri_t
/// or ssize_t) becomes an `HDF5Error` carrying HDF5's error stack for this thread.
@discardableResult
func check<Status: BinaryInteger>(
    _ status: Status, _ operation: @autoclosure () -> String, file: String, object: String?, hint: String? = nil
) throws(HDF5Error) -> Status {
    guard status < 0 else { return status }
    throw HDF5Error(operation: operation(), file: file, object: object, message: errorStackText(), hint: hint)
}

/// Turns off HDF5's habit of printing its error stack to stderr on every failure: lungct
/// reports the stack through `HDF5Error` instead. The thread-safe build Debian ships keeps
/// this setting per thread, and Swift may run a caller on any thread, so every entry point
/// calls this before its first HDF5 call. The corresponding C function is `H5Eset_auto2`.
func silenceAutomaticErrorPrinting() {
    _ = noExitHandler
    H5Eset_auto2(hid_t(H5E_DEFAULT), nil, nil)
}

/// HDF5 installs an atexit handler that closes whatever is still open. After a close that
/// failed (a full disk) that handler crashes the process on its way out, so a clear "disk
/// full" error would end in a segfault instead of its exit code. lungct closes every file
/// itself, so the handler is not needed. It must be turned off before the library starts,
/// hence here, before each entry point's first HDF5 call (a global is initialised once).
/// The corresponding C function is `H5dont_atexit`.
private let noExitHandler: Void = { _ = H5dont_atexit() }()

/// HDF5's current error stack on this thread as one line, outermost call first: the
/// innermost entries name the real cause ("errno = 13, error message = 'Permission denied'").
/// The corresponding C function is `H5Ewalk2`.
private func errorStackText() -> String {
    var lines: [String] = []
    let walker: H5E_walk2_t = { _, entry, client in
        guard let entry, let client else { return 0 }
        let lines = client.assumingMemoryBound(to: [String].self)
        let function = entry.pointee.func_name.map { String(cString: $0) } ?? "?"
        var text = entry.pointee.desc.map { String(cString: $0) } ?? ""
        if text.isEmpty {
            // No description: fall back to the minor error message ("Unable to open file").
            var buffer = [CChar](repeating: 0, count: 256)
            if H5Eget_msg(entry.pointee.min_num, nil, &buffer, buffer.count) > 0 {
                text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        // Some descriptions embed ctime()'s trailing newline; a message stays on one line.
        text = text.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces() }.joined(separator: " ")
        lines.pointee.append("\(function)(): \(text)")
        return 0
    }
    _ = withUnsafeMutablePointer(to: &lines) { H5Ewalk2(hid_t(H5E_DEFAULT), H5E_WALK_DOWNWARD, walker, $0) }
    return lines.isEmpty ? "HDF5 gave no details" : lines.joined(separator: "; ")
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
