import AppSupport
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput

/// What became of one case.
public enum CaseStatus: String, Codable, Sendable {
    /// Analysed; every output is in OUT/<case id>/.
    case ok
    /// Nothing lungct analyses (a localizer, a secondary capture, a modality other than CT
    /// or radiography); not an error.
    case skipped
    /// Could not be read or analysed (corrupt, truncated, unsupported, refused geometry...).
    case failed
}

/// One row of summary.csv, also kept as OUT/<case id>/case.json: the row can always be
/// rebuilt from the case's own folder.
public struct CaseRow: Codable, Sendable, Equatable {
    public var caseID: String
    /// Relative to the archive; members of a zip as `a.zip!/member`.
    public var source: String
    /// "CT", "radiograph", or what the case was when it could not be analysed.
    public var kind: String
    /// The analysed series' shortened Series Instance UID (as `lungct info` shows it).
    public var series: String
    public var status: CaseStatus
    public var reason: String
    public var rightLungML: Double?
    public var leftLungML: Double?
    public var totalLungML: Double?
    /// report.json's `model.probability`, when a model ran: for a CT the lesion network's
    /// uncalibrated COVID-19 pattern score, for a radiograph the covid class's calibrated
    /// probability.
    public var studyProbability: Double?
    public var modelSHA256: String?
    /// Loading and analysis, wall clock.
    public var seconds: Double
}

/// summary.csv: one header line, then one line per case. Fields follow RFC 4180; reasons are
/// kept on one line so that every row is exactly one line (a reader can drop a torn last line).
enum SummaryCSV {
    static let header =
        "case_id,source,kind,series,status,reason,right_lung_ml,left_lung_ml,total_lung_ml,study_probability,model_sha256,seconds"

    static func line(_ row: CaseRow) -> String {
        let volume = { (value: Double?) in value.map { String(format: "%.1f", $0) } ?? "" }
        return [
            row.caseID, field(row.source), field(row.kind), field(row.series), row.status.rawValue, field(row.reason),
            volume(row.rightLungML), volume(row.leftLungML), volume(row.totalLungML),
            row.studyProbability.map { "\($0)" } ?? "", row.modelSHA256 ?? "", String(format: "%.2f", row.seconds),
        ].joined(separator: ",")
    }

    /// First characters that make a spreadsheet read a cell as a formula (CSV injection, OWASP):
    /// a field starting with one gets a leading apostrophe, which spreadsheets show as text.
    static let formulaStarts: Set<Character> = ["=", "+", "-", "@", "\t"]

    /// A field quoted when it holds a comma or a quote; line breaks become spaces; a leading
    /// formula character is neutralised (a folder named "=HYPERLINK(...)" stays text).
    static func field(_ text: String) -> String {
        var flat = text.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "\r", with: " ")
        if let first = flat.first, formulaStarts.contains(first) { flat = "'" + flat }
        guard flat.contains(",") || flat.contains("\"") else { return flat }
        return "\"" + flat.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The case ids of the complete rows of a summary file, in file order (a torn last line,
    /// left by a crash in the middle of a write, is not a row).
    static func caseIDs(in path: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a torn line
        return lines.dropFirst().compactMap { line in line.split(separator: ",", maxSplits: 1).first.map(String.init) }
    }

    /// Writes a whole summary atomically (temporary name, fsync, rename).
    static func write(_ rows: [CaseRow], to path: String) throws(LungCTError) {
        let text = ([header] + rows.map(line)).joined(separator: "\n") + "\n"
        // Left alone when it already says exactly this: a rerun with nothing to do changes nothing.
        if FileManager.default.contents(atPath: path) == Data(text.utf8) { return }
        try AtomicFile.write(to: path) { partial in
            try Data(text.utf8).write(to: URL(fileURLWithPath: partial))
            try Durable.sync(partial)
        }
        try? Durable.sync(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }
}

/// A summary file open for appending: each row is one write(2) followed by fsync(2), so a
/// row is either on disk whole or (after a crash mid-write) a torn last line that the next
/// run drops.
final class SummaryLog: @unchecked Sendable {
    let path: String
    private let descriptor: Int32
    private let lock = NSLock()

    /// Opens `path` for appending; it must already hold the header (`SummaryCSV.write`).
    init(path: String) throws(LungCTError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .outputFailed("\(path): cannot open the summary for appending: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    func append(_ row: CaseRow) throws(LungCTError) {
        let bytes = Array((SummaryCSV.line(row) + "\n").utf8)
        let failure: String? = lock.withLock {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written != bytes.count { return written < 0 ? String(cString: strerror(errno)) : "short write" }
            return fsync(descriptor) == 0 ? nil : String(cString: strerror(errno))
        }
        if let failure { throw .outputFailed("\(path): cannot append a row: \(failure)") }
    }
}

/// fsync for files and folders, so that what a rename published survives a power loss.
enum Durable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Flushes a file or a folder (its entries) to disk. The corresponding C function is `fsync`.
    static func sync(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(description: "\(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw Failure(description: "\(path): fsync: \(String(cString: strerror(errno)))")
        }
    }

    /// Flushes every file in a folder (not recursive: case folders are flat), then the folder.
    static func syncFolder(_ folder: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) { try sync(folder + "/" + name) }
        try sync(folder)
    }
}
