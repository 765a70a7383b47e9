import AppSupport
import DICOMSeries
import Foundation
import NIfTIIO
import Phantom
import StudyInput
import TestSupport
import Testing
import VolumeCore

/// A folder like a real PACS export: two CT series of one study (thin and thick), a localizer,
/// a non-DICOM file, a truncated DICOM file and a series with a missing slice.
func mixedFolder() throws -> (folder: String, thin: SeriesIdentity, thick: SeriesIdentity, gappy: SeriesIdentity) {
    let root = try temporaryDirectory()
    var thin = SeriesIdentity()
    thin.seriesNumber = 2
    thin.seriesDescription = "thin lung"
    var thick = SeriesIdentity()
    thick.studyInstanceUID = thin.studyInstanceUID
    thick.seriesNumber = 3
    thick.seriesDescription = "thick soft tissue"
    thick.convolutionKernel = "STANDARD"
    var gappy = SeriesIdentity()
    gappy.seriesNumber = 4
    gappy.seriesDescription = "gappy"

    let (p1, o1) = testPhantom(size: 40, slices: 24, spacing: 5, seed: 1)
    var layout = PhantomLayout()
    layout.identity = thin
    _ = try PhantomWriter.write(p1, options: o1, layout: layout, to: root + "/a/thin")
    let (p2, o2) = testPhantom(size: 40, slices: 12, spacing: 10, seed: 2)
    layout.identity = thick
    _ = try PhantomWriter.write(p2, options: o2, layout: layout, to: root + "/b/deeper/thick")
    let (p3, o3) = testPhantom(size: 40, slices: 16, spacing: 6, seed: 3)
    layout.identity = gappy
    _ = try PhantomWriter.write(p3, options: o3, layout: layout, to: root + "/c")
    try FileManager.default.removeItem(atPath: root + "/c/dicom/IM00008.dcm")

    // A coronal localizer in its own series.
    var scout = SeriesIdentity()
    scout.studyInstanceUID = thin.studyInstanceUID
    scout.seriesNumber = 1
    scout.imageType = "ORIGINAL\\PRIMARY\\LOCALIZER"
    scout.seriesDescription = "topogram"
    try DICOMWriter.writeImage(
        path: root + "/a/scout.dcm", pixels: [UInt16](repeating: 1000, count: 32 * 64),
        description: .init(
            sopClassUID: SOPClass.ctImage, sopInstanceUID: DICOMWriter.newUID(), identity: scout, modality: "CT",
            instanceNumber: 1, rows: 32, columns: 64, bitsStored: 12, signed: false, photometric: "MONOCHROME2",
            pixelSpacing: (2, 2), position: Vector3(-64, 0, 100), orientation: [1, 0, 0, 0, 0, -1], rescale: (1, -1024)),
        syntax: .explicitLittle)

    try "patient list, not an image".write(toFile: root + "/README.txt", atomically: true, encoding: .utf8)
    let slice = try Data(contentsOf: URL(fileURLWithPath: root + "/a/thin/dicom/IM00003.dcm"))
    try slice.prefix(200).write(to: URL(fileURLWithPath: root + "/a/broken.dcm"))
    return (root, thin, thick, gappy)
}

@Test func mixedFolderNamesEverySeriesAndSaysWhatWasDone() throws {
    let (folder, thin, thick, gappy) = try mixedFolder()
    let report = try Inspection.inspect(folder).report
    func entry(_ identity: SeriesIdentity) -> SeriesEntry? {
        report.series.first { $0.seriesUID == shortUID(identity.seriesInstanceUID) }
    }
    #expect(report.series.count == 4)
    let chosen = try #require(entry(thin))
    #expect(chosen.status == .chosen)
    #expect(chosen.size == [40, 40, 24])
    #expect(report.chosen == chosen.id)

    let thickEntry = try #require(entry(thick))
    #expect(thickEntry.status == .notChosen)
    #expect(thickEntry.reason?.contains("fewer slices") == true)

    let gappyEntry = try #require(entry(gappy))
    #expect(gappyEntry.corrections.contains { $0.contains("missing slice") })
    #expect(gappyEntry.size[2] == 16)
    #expect(gappyEntry.images == 15)

    let localizer = try #require(report.series.first { $0.description == "topogram" })
    #expect(localizer.status == .rejected)
    #expect(localizer.reason?.contains("localizer") == true)

    #expect(report.skippedFiles.contains { $0.path.hasSuffix("README.txt") && $0.reason == "not a DICOM file" })
    #expect(report.skippedFiles.contains { $0.path.hasSuffix("broken.dcm") })
    // The phantom's truth masks and description are not DICOM either.
    #expect(report.skippedFiles.contains { $0.path.hasSuffix("phantom.json") })
}

@Test func reportsCarryNoPatientIdentifiers() throws {
    let (folder, _, _, _) = try mixedFolder()
    let report = try Inspection.inspect(folder).report
    let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
    #expect(!json.contains("PHANTOM^LUNGCT"))
    #expect(!json.contains("\"PHANTOM\""))
}

@Test func convertWritesHUThatOverlaysTheSeries() throws {
    let (folder, thin, _, _) = try mixedFolder()
    let output = try temporaryDirectory() + "/ct.nii.gz"
    let result = try Converter.convert(input: folder, output: output)
    #expect(result.type == "int16")
    let (volume, header) = try NIfTI.read(output)
    let original = testPhantom(size: 40, slices: 24, spacing: 5, seed: 1).phantom.ct
    #expect(volume.asInt16.voxels == original.voxels)
    #expect((header.geometry.origin - original.geometry.origin).length < 1e-3)
    // Another series by UID.
    let other = try temporaryDirectory() + "/thin.nii"
    _ = try Converter.convert(input: folder, output: other, series: thin.seriesInstanceUID)
    #expect(FileManager.default.fileExists(atPath: other))
    #expect(throws: LungCTError.self) { try Converter.convert(input: folder, output: other, series: "1.2.3.4") }
}

@Test func nothingToAnalyseAndUnreadableInputsHaveTheirExitCodes() throws {
    let empty = try temporaryDirectory()
    try "hello".write(toFile: empty + "/a.txt", atomically: true, encoding: .utf8)
    #expect {
        var inspection = try Inspection.inspect(empty)
        _ = try inspection.load()
    } throws: { ($0 as? LungCTError)?.category == .nothingToAnalyse }
    #expect { try Inspection.inspect(empty + "/missing") } throws: { ($0 as? LungCTError)?.category == .inputFailed }
}

@Test func nifitInputsAreInspectedAndLoaded() throws {
    let folder = try temporaryDirectory()
    let (p, _) = testPhantom(size: 32, slices: 8, spacing: 5, seed: 4)
    try NIfTI.write(p.ct, to: folder + "/ct.nii.gz")
    var inspection = try Inspection.inspect(folder + "/ct.nii.gz")
    #expect(inspection.report.series.first?.size == [32, 32, 8])
    guard case .ct(let volume) = try inspection.load() else {
        Issue.record("expected a CT volume")
        return
    }
    #expect(volume.asInt16.voxels == p.ct.voxels)
}

@Test(.enabled(if: hasSharedData("ct/popi-00"), "needs ../shared/data"))
func popiSeriesInfo() throws {
    let report = try Inspection.inspect(sharedData("ct/popi-00")!).report
    #expect(report.series.count == 1)
    let series = try #require(report.series.first)
    #expect(series.status == .chosen)
    #expect(series.images == 141)
    #expect(series.size == [512, 512, 141])
    #expect(abs(series.spacingMM[0] - 0.977) < 0.001 && abs(series.spacingMM[1] - 0.977) < 0.001)
    #expect(abs(series.spacingMM[2] - 2.0) < 0.001)
    #expect(series.corrections.isEmpty)
}

@Test(
    .enabled(if: hasSharedData("ct/popi-00"), "needs ../shared/data"),
    .enabled(if: hasTool("dcm2niix"), "needs dcm2niix"))
func popiConversionMatchesDcm2niix() throws {
    let popi = sharedData("ct/popi-00")!
    let work = try temporaryDirectory()
    try runTool("dcm2niix", ["-z", "n", "-f", "reference", "-o", work, popi])
    let ours = work + "/lungct.nii"
    _ = try Converter.convert(input: popi, output: ours)
    let (reference, referenceHeader) = try NIfTI.read(work + "/reference.nii")
    let (converted, convertedHeader) = try NIfTI.read(ours)
    // dcm2niix may store rows in another order; compare in one orientation, in patient space.
    let a = try reference.asInt16.reoriented(to: "LPS")
    let b = try converted.asInt16.reoriented(to: "LPS")
    #expect(a.geometry.size == b.geometry.size)
    #expect((a.geometry.origin - b.geometry.origin).length < 1e-3)
    #expect((a.geometry.spacing - b.geometry.spacing).length < 1e-3)
    #expect(a.voxels == b.voxels)
    // And when both keep DICOM's row order, the affines themselves agree.
    if referenceHeader.geometry.orientationCode == convertedHeader.geometry.orientationCode {
        for (rowA, rowB) in zip(referenceHeader.geometry.affineRAS, convertedHeader.geometry.affineRAS) {
            for (x, y) in zip(rowA, rowB) { #expect(abs(x - y) < 1e-3) }
        }
    }
}
