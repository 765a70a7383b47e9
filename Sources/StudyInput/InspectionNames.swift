import AppSupport
import DICOMSeries
import Foundation

/// Files read through aliases (their names are not valid UTF-8): the report names the files
/// the user has, and says how many names were not UTF-8.
extension Inspection {
    /// Shows `names` in the report: alias paths in skipped files, reasons, corrections and
    /// warnings become the paths they stand for (bytes that are not UTF-8 as `\xNN`), and each
    /// series read partly through such aliases says how many of its files were. Loading
    /// errors are shown the same way.
    public mutating func show(_ names: ShownNames) {
        guard !names.links.isEmpty else { return }
        self.names = names
        report.skippedFiles = report.skippedFiles.map {
            FileNote(path: names.shown(path: $0.path), reason: names.shown(inText: $0.reason))
        }
        let counts: [(notUTF8: Int, files: Int)]
        switch source {
        case .dicom(let candidates):
            counts = candidates.map { candidate in
                (candidate.group.headers.count(where: { names.isNotUTF8($0.path) }), candidate.group.headers.count)
            }
        case .nifti, .picture:
            // A single file, whose aliases are the only ones in `names`; its entry is named by the file.
            counts = report.series.map { _ in (names.links.values.contains { $0.notUTF8 } ? 1 : 0, 1) }
            for link in names.links.values {
                let alias = URL(fileURLWithPath: link.alias).lastPathComponent
                for index in report.series.indices where report.series[index].id == alias {
                    report.series[index].id = URL(fileURLWithPath: link.shown).lastPathComponent
                }
            }
        }
        for (index, count) in zip(report.series.indices, counts) {
            var entry = report.series[index]
            entry.reason = entry.reason.map(names.shown(inText:))
            entry.splitReason = entry.splitReason.map(names.shown(inText:))
            entry.corrections = entry.corrections.map(names.shown(inText:))
            entry.warnings = entry.warnings.map(names.shown(inText:))
            if count.notUTF8 > 0 { entry.warnings.append(Self.notUTF8Warning(count.notUTF8, of: count.files)) }
            report.series[index] = entry
        }
    }

    /// What a series read through aliases says: not a problem with its images, but worth
    /// knowing (and never silent: a name lungct could not read used to cost a series its slices).
    static func notUTF8Warning(_ count: Int, of files: Int) -> String {
        let which = files == 1 ? "the file's path is" : "\(count) of the \(files) files' paths are"
        return "\(which) not valid UTF-8 (Latin-1?), shown with \\xNN for each such byte; "
            + "lungct read \(count == 1 ? "it" : "them") through \(count == 1 ? "an alias" : "aliases")"
    }
}
