import DICOMSeries
import Foundation
import TestSupport
import Testing
import VolumeCore

// The formats archives store: JPEG 2000 (decoded by OpenJPEG) and enhanced multi-frame CT (read
// through DCMTK's functional groups), each made here from a classic phantom series with real
// tools (GDCM's gdcmconv, highdicom) and loaded against the classic files it came from.

/// A classic phantom series, its volume as lungct loads it, and the load plan.
func classicSeries(slices: Int = 12) throws -> (folder: String, volume: Volume<Int16>, plan: StackPlan) {
    let (phantom, options) = smallPhantom(size: 40, slices: slices)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory(), shuffle: true)
    let (volume, plan) = try loadOnlySeries(folder)
    #expect(volume.asInt16.voxels == phantom.ct.voxels)
    return (folder, volume.asInt16, plan)
}

/// The one file of `folder` after `change` rewrote it: a hostile copy of a fixture.
func patchedCopy(of file: String, _ change: (inout [UInt8]) throws -> Void) throws -> String {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    try change(&bytes)
    let folder = try temporaryDirectory()
    try Data(bytes).write(to: URL(fileURLWithPath: folder + "/patched.dcm"))
    return folder
}

/// Why the scan set the one file of `folder` aside, after its path: "PATH: REASON".
func skipReason(_ folder: String) throws -> String {
    let scan = try FolderScan.scan(folder)
    #expect(scan.headers.isEmpty)
    #expect(scan.skipped.count == 1 && scan.skipped[0].damaged)
    return scan.skipped.map { "\($0.path): \($0.reason)" }.joined(separator: "; ")
}

// MARK: JPEG 2000

@Test(.enabled(if: hasTool("gdcmconv"), "needs GDCM's gdcmconv (libgdcm-tools)"))
func aJPEG2000LosslessSeriesLoadsVoxelForVoxelAsItsClassicOriginal() throws {
    let classic = try classicSeries()
    let j2k = try gdcmconvCopy(of: classic.folder, to: try temporaryDirectory() + "/j2k", options: ["--j2k"])
    let (volume, plan) = try loadOnlySeries(j2k)
    #expect(plan.slices.allSatisfy { $0.transferSyntaxUID == TransferSyntax.jpeg2000Lossless })
    #expect(volume.asInt16.voxels == classic.volume.voxels)
    #expect(volume.geometry == classic.volume.geometry)
    #expect(plan.warnings.isEmpty)
}

/// Lossy JPEG 2000 at gdcmconv's quality 80: the HU lungct decodes are GDCM's own decoding of the
/// same files (gdcmconv --raw) within 1 HU (the irreversible wavelet is computed in floating
/// point), and the classic originals within a mean of 10 HU and at most 100 HU (measured: a mean
/// of about 5 HU, at most about 40, on this noisy phantom); the plan warns that the HU are approximate.
@Test(.enabled(if: hasTool("gdcmconv"), "needs GDCM's gdcmconv (libgdcm-tools)"))
func aLossyJPEG2000SeriesLoadsWithinToleranceAndIsFlaggedLossy() throws {
    let classic = try classicSeries()
    let work = try temporaryDirectory()
    let lossy = try gdcmconvCopy(of: classic.folder, to: work + "/lossy", options: ["--j2k", "--lossy", "-q", "80"])
    let gdcmDecoded = try gdcmconvCopy(of: lossy, to: work + "/raw", options: ["--raw"])
    let (volume, plan) = try loadOnlySeries(lossy)
    let ours = volume.asInt16.voxels
    #expect(plan.slices.allSatisfy { $0.transferSyntaxUID == TransferSyntax.jpeg2000 })
    #expect(plan.warnings.contains { $0.contains("lossy-compressed") })
    let reference = try loadOnlySeries(gdcmDecoded).0.asInt16.voxels
    #expect(zip(ours, reference).allSatisfy { abs(Int($0) - Int($1)) <= 1 })
    let errors = zip(ours, classic.volume.voxels).map { abs(Int($0) - Int($1)) }
    #expect(Double(errors.reduce(0, +)) / Double(errors.count) <= 10)
    #expect(errors.max() ?? 0 <= 100)
    #expect(volume.geometry == classic.volume.geometry)
}

/// The byte offset of a JPEG 2000 codestream's first fragment item in a DICOM file: the item tag
/// (FFFE,E000) and its length, just before the codestream's SOC and SIZ markers (FF4F FF51).
func firstCodestreamItem(_ bytes: [UInt8]) throws -> Int {
    let start: [UInt8] = [0xFF, 0x4F, 0xFF, 0x51]
    guard let soc = (8..<(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == start }),
        Array(bytes[(soc - 8)..<(soc - 4)]) == [0xFE, 0xFF, 0x00, 0xE0]
    else { throw TestFailure("no JPEG 2000 fragment found") }
    return soc - 8
}

@Test(.enabled(if: hasTool("gdcmconv"), "needs GDCM's gdcmconv (libgdcm-tools)"))
func aTruncatedJPEG2000CodestreamIsRefusedNamingTheFile() throws {
    let classic = try classicSeries(slices: 2)
    let j2k = try gdcmconvCopy(of: classic.folder, to: try temporaryDirectory() + "/j2k", options: ["--j2k"])
    let file = j2k + "/" + (try FileManager.default.contentsOfDirectory(atPath: j2k).sorted()[0])
    // The fragment keeps its first half (an even length, as items must have); the rest is cut.
    let folder = try patchedCopy(of: file) { bytes in
        let item = try firstCodestreamItem(bytes)
        let length = Int(bytes[item + 4]) | Int(bytes[item + 5]) << 8 | Int(bytes[item + 6]) << 16
        let kept = (length / 2) & ~1
        bytes.replaceSubrange((item + 8 + kept)..<(item + 8 + length), with: [])
        bytes.replaceSubrange((item + 4)..<(item + 8), with: withUnsafeBytes(of: UInt32(kept).littleEndian, Array.init))
    }
    let scan = try FolderScan.scan(folder)
    let plan = try SliceStack.plan(scan.headers).get()
    let error = #expect(throws: DICOMError.self) { try SeriesLoader.load(plan) }
    #expect(error?.kind == .undecodable)
    #expect(error?.message.contains(folder + "/patched.dcm") == true)
    #expect(error?.message.contains("JPEG 2000") == true)
}

@Test(.enabled(if: hasTool("gdcmconv") && hasTool("dcmodify"), "needs gdcmconv and DCMTK's dcmodify"))
func aJPEG2000CodestreamOfAnotherSizeThanRowsAndColumnsIsRefusedBeforeDecoding() throws {
    let classic = try classicSeries(slices: 2)
    let j2k = try gdcmconvCopy(of: classic.folder, to: try temporaryDirectory() + "/j2k", options: ["--j2k"])
    let files = try FileManager.default.contentsOfDirectory(atPath: j2k).map { j2k + "/" + $0 }
    // The header now says 20 rows; each codestream still holds 40.
    try runTool("dcmodify", ["-nb", "-m", "(0028,0010)=20"] + files)
    let plan = try SliceStack.plan(try FolderScan.scan(j2k).headers).get()
    let error = #expect(throws: DICOMError.self) { try SeriesLoader.load(plan) }
    #expect(error?.kind == .badPixelSize)
    #expect(
        error?.message.contains("codestream is 40×40 pixels but (0028,0011) Columns × (0028,0010) Rows say 40×20")
            == true)
}

@Test func highThroughputJPEG2000IsRefusedByName() throws {
    let classic = try classicSeries(slices: 2)
    var header = classic.plan.slices[0]
    header.transferSyntaxUID = "1.2.840.10008.1.2.4.201"
    #expect(TransferSyntax.whyNotDecodable(header)?.contains("High-Throughput JPEG 2000 (HTJ2K)") == true)
    header.transferSyntaxUID = TransferSyntax.jpeg2000Lossless
    #expect(TransferSyntax.whyNotDecodable(header) == nil)
}

// MARK: Enhanced multi-frame CT

@Test(.enabled(if: pythonWithHighdicom != nil, "needs pydicom and highdicom (make test-venv)"))
func aLegacyConvertedEnhancedCTLoadsAsItsClassicOriginal() throws {
    let classic = try classicSeries()
    let folder = try temporaryDirectory()
    try enhancedCT(from: classic.folder, to: folder + "/legacy.dcm", variant: .legacyConverted)
    let (volume, plan) = try loadOnlySeries(folder)
    #expect(plan.slices.count == 12)
    #expect(plan.slices.allSatisfy { $0.sopClassUID == SOPClass.legacyConvertedEnhancedCTImage })
    #expect(Set(plan.slices.compactMap(\.frameIndex)) == Set(0..<12))
    #expect(volume.asInt16.voxels == classic.volume.voxels)
    #expect(volume.geometry == classic.volume.geometry)
    #expect(plan.warnings.isEmpty)
}

/// Every group per frame, frames stored in reverse order, a rescale that differs frame by frame:
/// the same HU and geometry as the classic files.
@Test(.enabled(if: pythonWithHighdicom != nil, "needs pydicom and highdicom (make test-venv)"))
func anEnhancedCTWithPerFrameGroupsAndRescalesLoadsAsItsClassicOriginal() throws {
    let classic = try classicSeries()
    let folder = try temporaryDirectory()
    try enhancedCT(from: classic.folder, to: folder + "/enhanced.dcm", variant: .enhancedPerFrame)
    let (volume, plan) = try loadOnlySeries(folder)
    #expect(plan.slices.allSatisfy { $0.sopClassUID == SOPClass.enhancedCTImage })
    #expect(Set(plan.slices.compactMap(\.rescaleIntercept)).count == 12)
    #expect(volume.asInt16.voxels == classic.volume.voxels)
    #expect(volume.geometry == classic.volume.geometry)
}

/// The same frames compressed, one fragment per frame: JPEG 2000 through OpenJPEG, JPEG-LS
/// through DCMTK frame by frame.
@Test(
    .enabled(if: pythonWithHighdicom != nil, "needs pydicom and highdicom (make test-venv)"),
    .enabled(if: hasTool("gdcmconv"), "needs GDCM's gdcmconv (libgdcm-tools)"),
    arguments: [["--j2k"], ["--jpegls"]])
func aCompressedEnhancedCTLoadsAsItsClassicOriginal(options: [String]) throws {
    let classic = try classicSeries()
    let work = try temporaryDirectory()
    try FileManager.default.createDirectory(atPath: work + "/native", withIntermediateDirectories: true)
    try enhancedCT(from: classic.folder, to: work + "/native/legacy.dcm", variant: .legacyConverted)
    let compressed = try gdcmconvCopy(of: work + "/native", to: work + "/compressed", options: options)
    let (volume, plan) = try loadOnlySeries(compressed)
    #expect(plan.slices.allSatisfy { $0.pixelDataLength == nil && $0.fragmentCount >= 12 })
    #expect(volume.asInt16.voxels == classic.volume.voxels)
    #expect(volume.geometry == classic.volume.geometry)
}

/// Mixed in one series, the classic files and the enhanced object are two volumes (split with a
/// reason), not one with every position twice.
@Test(.enabled(if: pythonWithHighdicom != nil, "needs pydicom and highdicom (make test-venv)"))
func classicFilesAndAnEnhancedObjectInOneSeriesAreSeparateVolumes() throws {
    let classic = try classicSeries()
    try enhancedCT(from: classic.folder, to: classic.folder + "/legacy.dcm", variant: .legacyConvertedSameSeries)
    let groups = SeriesGrouping.group(try FolderScan.scan(classic.folder).headers)
    #expect(groups.count == 2)
    #expect(groups.allSatisfy { $0.splitReason?.contains("frames of a multi-frame object") == true })
    for group in groups {
        let volume = try SeriesLoader.load(try SliceStack.plan(group.headers).get())
        #expect(volume.asInt16.voxels == classic.volume.voxels)
    }
}
