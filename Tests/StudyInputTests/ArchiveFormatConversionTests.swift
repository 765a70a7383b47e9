import Foundation
import NIfTIIO
import Phantom
import StudyInput
import TestSupport
import Testing
import VolumeCore

// dcm2niix as a second opinion on the archive formats: the same JPEG 2000 and legacy-converted
// enhanced CT files converted by both, compared voxel for voxel in one orientation.

/// A classic phantom series in a new folder.
func classicPhantomSeries() throws -> String {
    let (phantom, options) = testPhantom(size: 40, slices: 12, spacing: 5, seed: 4)
    var layout = PhantomLayout()
    layout.shuffleFiles = true
    return try PhantomWriter.write(phantom, options: options, layout: layout, to: try temporaryDirectory())
        .dicomFolder
}

/// Converts `input` with dcm2niix and with lungct and expects the same volume: size, origin,
/// spacing and voxels in LPS. dcm2niix writes into a folder of its own, so runs never collide.
func expectSameConversionAsDcm2niix(_ input: String) throws {
    let work = try temporaryDirectory()
    try runTool("dcm2niix", ["-z", "n", "-f", "reference", "-o", work, input])
    _ = try Converter.convert(input: input, output: work + "/lungct.nii")
    let reference = try NIfTI.read(work + "/reference.nii").0.asInt16.reoriented(to: "LPS")
    let converted = try NIfTI.read(work + "/lungct.nii").0.asInt16.reoriented(to: "LPS")
    #expect(reference.geometry.size == converted.geometry.size)
    #expect((reference.geometry.origin - converted.geometry.origin).length < 1e-3)
    #expect((reference.geometry.spacing - converted.geometry.spacing).length < 1e-3)
    #expect(reference.voxels == converted.voxels)
}

@Test(
    .enabled(if: hasTool("dcm2niix"), "needs dcm2niix"),
    .enabled(if: hasTool("gdcmconv"), "needs GDCM's gdcmconv (libgdcm-tools)"))
func jpeg2000ConversionMatchesDcm2niix() throws {
    let classic = try classicPhantomSeries()
    let j2k = try gdcmconvCopy(of: classic, to: try temporaryDirectory() + "/j2k", options: ["--j2k"])
    try expectSameConversionAsDcm2niix(j2k)
    // And lungct's conversion of the JPEG 2000 files is that of the classic ones.
    let work = try temporaryDirectory()
    _ = try Converter.convert(input: classic, output: work + "/classic.nii")
    _ = try Converter.convert(input: j2k, output: work + "/j2k.nii")
    #expect(FileManager.default.contentsEqual(atPath: work + "/classic.nii", andPath: work + "/j2k.nii"))
}

@Test(
    .enabled(if: hasTool("dcm2niix"), "needs dcm2niix"),
    .enabled(if: pythonWithHighdicom != nil, "needs pydicom and highdicom (make test-venv)"))
func legacyConvertedEnhancedCTConversionMatchesDcm2niix() throws {
    let classic = try classicPhantomSeries()
    let folder = try temporaryDirectory()
    try enhancedCT(from: classic, to: folder + "/legacy.dcm", variant: .legacyConverted)
    try expectSameConversionAsDcm2niix(folder)
    let work = try temporaryDirectory()
    _ = try Converter.convert(input: classic, output: work + "/classic.nii")
    _ = try Converter.convert(input: folder, output: work + "/enhanced.nii")
    #expect(FileManager.default.contentsEqual(atPath: work + "/classic.nii", andPath: work + "/enhanced.nii"))
}

/// An enhanced CT object is one series in the report, with one image per frame.
@Test(.enabled(if: pythonWithHighdicom != nil, "needs pydicom and highdicom (make test-venv)"))
func anEnhancedCTIsOneSeriesWithAnImagePerFrame() throws {
    let classic = try classicPhantomSeries()
    let folder = try temporaryDirectory()
    try enhancedCT(from: classic, to: folder + "/enhanced.dcm", variant: .enhancedPerFrame)
    let report = try Inspection.inspect(folder).report
    let series = try #require(report.series.first)
    #expect(report.series.count == 1)
    #expect(series.status == .chosen)
    #expect(series.images == 12)
    #expect(series.size == [40, 40, 12])
}
