import Foundation

/// Free space, for clear "disk full" messages.
enum DiskSpace {
    /// Bytes available to this user on the file system holding `path`. The corresponding C
    /// function is `statvfs`.
    static func freeBytes(_ path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        let (bytes, overflow) = Int64(clamping: info.f_bavail).multipliedReportingOverflow(
            by: Int64(clamping: info.f_frsize))
        return overflow ? .max : bytes
    }

    /// Binary units, as `df -h` counts them.
    static let bytesPerMB = 1_048_576.0
    static let mbPerGB = 1024.0

    /// A size for a message: "3.2 MB", "512 MB", "1.5 GB".
    static func describe(_ bytes: Int64) -> String {
        let mb = Double(bytes) / bytesPerMB
        return mb >= mbPerGB
            ? String(format: "%.1f GB", mb / mbPerGB) : String(format: mb < 10 ? "%.1f MB" : "%.0f MB", mb)
    }
}
