import AppSupport
import Foundation
import NIfTIIO
import StudyAnalysis
import TestSupport
import Testing

@testable import BatchScoring

/// An archive whose names are not valid UTF-8 (Latin-1 from old PACS exports), at any depth: a
/// study folder with a Latin-1 name, a study with 20 of its 24 slices Latin-1-named, a Latin-1
/// folder of Latin-1 slices, and a FIFO with a Latin-1 name. The folder used to disappear from
/// the scan without a word, and the second study was scored "ok" on its 4 UTF-8 slices.
@Test(.enabled(if: fileSystemTakesLatin1Names, "the file system refuses names that are not UTF-8"))
func latin1StudyFoldersAndSliceNamesAreScoredWhole() throws {
    let root = try temporaryDirectory() + "/archive"
    _ = try TestArchive.phantomStudy(into: root + "/site/staging", seed: 31, size: 48, slices: 16)
    try renameRaw(root + "/site/staging", into: Array((root + "/site").utf8), name: latin1("Étude-1"))
    _ = try TestArchive.phantomStudy(into: root + "/study-2", seed: 32, size: 48, slices: 24)
    for name in try FileManager.default.contentsOfDirectory(atPath: root + "/study-2").sorted().suffix(20) {
        try renameRaw(root + "/study-2/" + name, into: Array((root + "/study-2").utf8), name: latin1("é_" + name))
    }
    _ = try TestArchive.phantomStudy(into: root + "/staging", seed: 33, size: 48, slices: 12)
    for name in try FileManager.default.contentsOfDirectory(atPath: root + "/staging") {
        try renameRaw(root + "/staging/" + name, into: Array((root + "/staging").utf8), name: latin1("é_" + name))
    }
    try renameRaw(root + "/staging", into: Array(root.utf8), name: latin1("Étude-3"))
    try mkfifoRaw(rawPath(root, latin1("tube-é")))
    // A NIfTI volume, told by the end of its name, which its alias keeps.
    try NIfTI.write(testPhantom(size: 40, slices: 10, spacing: 12, seed: 34).phantom.ct, to: root + "/volume.nii.gz")
    try renameRaw(root + "/volume.nii.gz", into: Array(root.utf8), name: latin1("volumé.nii.gz"))

    let out = try temporaryDirectory() + "/out"
    let result = try Batch.run(quietOptions(root, out))
    let rows = try summaryRows(out + "/summary.csv")
    let expected = [
        "site/\\xC9tude-1": (16, 16), "study-2": (24, 20), "\\xC9tude-3": (12, 12), "volum\\xE9.nii.gz": (10, 1),
    ]
    #expect(rows.map { $0["source"] ?? "" }.sorted() == expected.keys.sorted(), "\(rows)")
    for row in rows {
        let source = row["source"] ?? ""
        #expect(row["status"] == "ok", "\(source): \(row["reason"] ?? "")")
        guard let (slices, latin1Named) = expected[source], let id = row["case_id"] else { continue }
        let report = try JSONDecoder().decode(
            AnalysisReport.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/" + id + "/report.json")))
        #expect(report.geometry.size.last == slices, "\(source)")
        #expect(report.input.input == root + "/" + source)
        let notice =
            latin1Named == 1 ? "the file's path is not valid UTF-8" : "\(latin1Named) of the \(slices) files' paths"
        #expect(report.warnings.contains { $0.hasPrefix(notice) }, "\(source): \(report.warnings)")
    }
    let volume = try #require(rows.first { $0["source"] == "volum\\xE9.nii.gz" })
    let report = try JSONDecoder().decode(
        AnalysisReport.self,
        from: Data(contentsOf: URL(fileURLWithPath: out + "/" + volume["case_id"]! + "/report.json")))
    #expect(report.input.series.first?.id == "volum\\xE9.nii.gz")
    #expect(result.setAsideFiles.map(\.path) == ["tube-\\xE9"])
    #expect(result.setAsideFiles.first?.reason == FileTree.specialReason)
    #expect(!FileManager.default.fileExists(atPath: out + "/.work"), "the aliases went with the scratch folder")
}
