import Foundation

/// Files and folders whose names are not valid UTF-8 (Latin-1 names from old PACS exports are
/// common). Foundation's folder enumeration passes over them without a word, and a Swift
/// `String` cannot name them, so lungct cannot open them; this lists them so that they are
/// reported instead of silently missing.
public enum NonUTF8Names {
    /// The names under `root` (searched recursively through folders whose own names are valid,
    /// hidden entries skipped), each as a path relative to `root` with the bad bytes shown as
    /// `\xNN`. Uses opendir(3)/readdir(3), which hand out names as bytes.
    public static func under(_ root: String) -> [String] {
        var found: [String] = []
        walk(root, relative: "", into: &found)
        return found.sorted()
    }

    /// How lungct names a file it cannot open: what to do about it.
    public static let reason =
        "the file name is not valid UTF-8, so lungct cannot open it; rename the files to UTF-8 "
        + "(for example `convmv -f latin1 -t utf8 -r --notest FOLDER`)"

    /// Whether a directory entry is a folder (not a link to one), from readdir's d_type; only a
    /// file system that does not fill it in costs an lstat(2), so a large archive is not
    /// stat'ed a second time after the folder scan.
    private static func isFolder(_ path: String, type: UInt8) -> Bool {
        if type != UInt8(DT_UNKNOWN) { return type == UInt8(DT_DIR) }
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    private static func walk(_ folder: String, relative: String, into found: inout [String]) {
        guard let directory = opendir(folder) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            guard let first = bytes.first, first != UInt8(ascii: ".") else { continue }
            guard let name = String(validating: bytes, as: UTF8.self) else {
                let shown = bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }
                found.append(relative + shown.joined())
                continue
            }
            let path = folder + "/" + name
            if isFolder(path, type: entry.pointee.d_type) { walk(path, relative: relative + name + "/", into: &found) }
        }
    }
}
