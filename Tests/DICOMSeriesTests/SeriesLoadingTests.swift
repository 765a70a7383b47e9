import Foundation
import Phantom
import TestSupport
import Testing
import VolumeCore

@testable import DICOMSeries

@Test func phantomSeriesLoadsToTheExactVoxelsAndGeometry() throws {
    let (phantom, options) = smallPhantom()
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let (volume, plan) = try loadOnlySeries(folder)
    guard case .int16(let loaded) = volume else { throw TestFailure("expected int16 HU") }
    #expect(loaded.voxels == phantom.ct.voxels)
    #expect(loaded.geometry.size == phantom.ct.geometry.size)
    #expect((loaded.geometry.origin - phantom.ct.geometry.origin).length < 1e-6)
    #expect((loaded.geometry.spacing - phantom.ct.geometry.spacing).length < 1e-6)
    #expect(loaded.geometry.orientationCode == "LPS")
    #expect(plan.corrections.isEmpty && plan.warnings.isEmpty)
}

@Test(arguments: [OutputTransferSyntax.implicitLittle, .rle, .jpegLossless, .jpegLS])
func compressedSyntaxesDecodeToTheSameVoxels(syntax: OutputTransferSyntax) throws {
    let (phantom, options) = smallPhantom(slices: 6)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory(), syntax: syntax)
    let header = try #require(try FolderScan.scan(folder).headers.first)
    #expect(header.transferSyntaxUID != TransferSyntax.explicitLittleEndian)
    let (volume, _) = try loadOnlySeries(folder)
    #expect(volume.asInt16.voxels == phantom.ct.voxels)
}

@Test func shuffledFeetFirstSeriesIsOrderedByPosition() throws {
    let (phantom, options) = smallPhantom()
    let folder = try writePhantom(
        phantom, options: options, to: try temporaryDirectory(), shuffle: true, feetFirst: true)
    let (volume, _) = try loadOnlySeries(folder)
    let loaded = volume.asInt16
    #expect(loaded.geometry.orientationCode == "RPI")
    let lps = try loaded.reoriented(to: "LPS")
    #expect(lps.voxels == phantom.ct.voxels)
    #expect((lps.geometry.origin - phantom.ct.geometry.origin).length < 1e-6)
}

@Test func missingSliceIsFilledByInterpolation() throws {
    let (phantom, options) = smallPhantom()
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    // Slice files are named by instance number; instance 1 is the top slice (k = 15), so
    // instance 8 is k = 8.
    try FileManager.default.removeItem(atPath: folder + "/IM00008.dcm")
    let (volume, plan) = try loadOnlySeries(folder)
    #expect(plan.sources[8] == .interpolated(lower: 7, upper: 8, weight: 0.5))
    #expect(plan.corrections.contains { $0.contains("1 missing slice") })
    let loaded = volume.asInt16
    #expect(loaded.size == phantom.ct.size)
    for index in [0, 100, 1000, 2000] {
        let below = Double(phantom.ct[index % 48, index / 48 % 48, 7])
        let above = Double(phantom.ct[index % 48, index / 48 % 48, 9])
        #expect(abs(Double(loaded[index % 48, index / 48 % 48, 8]) - (below + above) / 2) <= 0.5)
    }
    #expect(loaded[5, 5, 7] == phantom.ct[5, 5, 7])
}

@Test func largeGapsAndUnevenSpacingAreRefused() throws {
    let (phantom, options) = smallPhantom()
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    for instance in 6...8 {
        try FileManager.default.removeItem(atPath: folder + String(format: "/IM%05d.dcm", instance))
    }
    let groups = SeriesGrouping.group(try FolderScan.scan(folder).headers)
    guard case .failure(let refusal) = SliceStack.plan(groups[0].headers) else {
        Issue.record("a 3-slice hole must be refused")
        return
    }
    #expect(refusal.reason.contains("3 consecutive slices missing"))
}

@Test func duplicateCopiesAreIgnoredAndConflictsRefused() throws {
    let (phantom, options) = smallPhantom(slices: 5)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    try FileManager.default.copyItem(atPath: folder + "/IM00002.dcm", toPath: folder + "/copy-of-IM00002.dcm")
    let (volume, plan) = try loadOnlySeries(folder)
    #expect(volume.asInt16.voxels == phantom.ct.voxels)
    #expect(plan.corrections.contains { $0.contains("1 duplicate file") })
}

@Test func gantryTiltIsCorrectedByShiftingSlices() throws {
    // Write a series whose slice k is displaced by exactly k pixels along the columns, as a
    // tilted gantry would, with the voxels shifted the same way: after correction the loaded
    // volume must equal the untilted phantom wherever the shift kept data in view.
    let (phantom, _) = smallPhantom(slices: 6)
    let folder = try temporaryDirectory()
    let g = phantom.ct.geometry
    let identity = SeriesIdentity()
    for k in 0..<g.size.z {
        var plane = [UInt16](repeating: 0, count: g.size.x * g.size.y)
        for j in 0..<g.size.y {
            for i in 0..<g.size.x {
                let source = i + k
                let hu = source < g.size.x ? Int(phantom.ct[source, j, k]) : -1024
                plane[j * g.size.x + i] = UInt16(hu + 1024)
            }
        }
        let shift = Double(k) * g.spacing.x
        let position = g.physicalPoint(i: 0, j: 0, k: Double(k)) + Vector3(shift, 0, 0)
        try DICOMWriter.writeImage(
            path: folder + "/slice\(k).dcm", pixels: plane,
            description: .init(
                sopClassUID: SOPClass.ctImage, sopInstanceUID: DICOMWriter.newUID(), identity: identity, modality: "CT",
                instanceNumber: k + 1, rows: g.size.y, columns: g.size.x, bitsStored: 16, signed: false,
                photometric: "MONOCHROME2", pixelSpacing: (g.spacing.y, g.spacing.x), sliceThickness: g.spacing.z,
                position: position, orientation: [1, 0, 0, 0, 1, 0], rescale: (1, -1024)),
            syntax: .explicitLittle)
    }
    let (volume, plan) = try loadOnlySeries(folder)
    #expect(plan.corrections.contains { $0.contains("gantry tilt") })
    let loaded = volume.asInt16
    for k in 0..<g.size.z {
        for i in stride(from: 6, to: g.size.x, by: 5) {
            #expect(loaded[i, 20, k] == phantom.ct[i, 20, k])
        }
    }
}

@Test(.enabled(if: hasTool("dump2dcm"), "needs DCMTK's dump2dcm"))
func signedBitsStoredAndPaddingFollowTheHeader() throws {
    let folder = try temporaryDirectory()
    let path = try dicomFromDump("signed12-padding", in: folder)
    let header = try DICOMHeader.read(path: path)
    #expect(header.isSigned && header.bitsStored == 12 && header.pixelPaddingValue == -2000)
    let plan = try SliceStack.plan([header]).get()
    let volume = try SeriesLoader.load(plan)
    guard case .int16(let hu) = volume else { throw TestFailure("expected int16") }
    // -2000 is padding -> air; 0x07FF = 2047; 0x0800 is -2048 in 12 bits; 0x3001 keeps 12 bits -> 1.
    let expected: [Int16] = [-1024, 1023, -3072, -1023, -1024, 0, -1025, -1023]
    #expect(Array(hu.voxels.prefix(8)) == expected)
}

@Test(.enabled(if: hasTool("dump2dcm"), "needs DCMTK's dump2dcm"))
func fractionalRescaleGivesFloatHU() throws {
    let folder = try temporaryDirectory()
    let path = try dicomFromDump("fractional-slope", in: folder)
    let plan = try SliceStack.plan([try DICOMHeader.read(path: path)]).get()
    guard case .float32(let hu) = try SeriesLoader.load(plan) else { throw TestFailure("expected float32") }
    #expect(Array(hu.voxels.prefix(8)) == [-1000, -999.5, -999, -998.5, 0, 0.5, 1000, 31767.5])
}

@Test func headerScanOfNonDICOMAndTruncatedFilesReportsThem() throws {
    let (phantom, options) = smallPhantom(slices: 4)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    try "not an image".write(toFile: folder + "/notes.txt", atomically: true, encoding: .utf8)
    let full = try Data(contentsOf: URL(fileURLWithPath: folder + "/IM00001.dcm"))
    try full.prefix(300).write(to: URL(fileURLWithPath: folder + "/truncated.dcm"))
    let scan = try FolderScan.scan(folder)
    #expect(scan.headers.count == 4)
    #expect(scan.skipped.contains { $0.path.hasSuffix("notes.txt") && $0.reason == "not a DICOM file" })
    #expect(scan.skipped.contains { $0.path.hasSuffix("truncated.dcm") })
}

@Test func truncatedSliceIsNamedAndItsGapFilled() throws {
    let (phantom, options) = smallPhantom(slices: 5)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let path = folder + "/IM00003.dcm"
    let full = try Data(contentsOf: URL(fileURLWithPath: path))
    try full.prefix(full.count - 1000).write(to: URL(fileURLWithPath: path))
    let scan = try FolderScan.scan(folder)
    let skipped = try #require(scan.skipped.first { $0.path == path })
    #expect(skipped.reason.contains("truncated"))
    let plan = try SliceStack.plan(SeriesGrouping.group(scan.headers)[0].headers).get()
    #expect(plan.corrections.contains { $0.contains("1 missing slice") })
}

@Test(.enabled(if: hasTool("dump2dcm"), "needs DCMTK's dump2dcm"))
func nonImageObjectsAndCorruptHeadersAreSetAsideWithReasons() throws {
    let folder = try temporaryDirectory()
    let absurd = try dicomFromDump("absurd-size", in: folder)
    let report = try dicomFromDump("structured-report", in: folder)
    let directory = try dicomFromDump("dicomdir", in: folder)
    let scan = try FolderScan.scan(folder)
    #expect(scan.headers.isEmpty)
    func reason(_ path: String) -> String { scan.skipped.first { $0.path == path }?.reason ?? "" }
    // Refused from the header alone: no 7 GB buffer is ever allocated.
    #expect(reason(absurd).contains("corrupt header") && reason(absurd).contains("60000"))
    #expect(reason(report).contains("non-image object") && reason(report).contains("SR"))
    #expect(reason(directory).contains("DICOMDIR"))
}

@Test func secondaryCaptureAndDerivedAndNonAxialSeriesRankBelowTheAxialOriginal() throws {
    let folder = try temporaryDirectory()
    let (phantom, options) = smallPhantom(slices: 8)
    var layout = PhantomLayout()
    layout.identity.seriesDescription = "axial original"
    _ = try PhantomWriter.write(phantom, options: options, layout: layout, to: folder + "/axial")
    // The same anatomy as a DERIVED series with more slices: still ranked lower.
    let (more, moreOptions) = smallPhantom(slices: 12)
    layout.identity = SeriesIdentity()
    layout.identity.imageType = "DERIVED\\SECONDARY\\AXIAL"
    layout.identity.seriesDescription = "derived"
    _ = try PhantomWriter.write(more, options: moreOptions, layout: layout, to: folder + "/derived")
    // A sagittal reformat: rows along y, columns along -z.
    layout.identity = SeriesIdentity()
    layout.identity.seriesDescription = "sagittal"
    let sagittal = try more.ct.reoriented(to: "PIL")
    _ = try DICOMWriter.writeCTSeries(
        sagittal, to: folder + "/sagittal", identity: layout.identity, syntax: .explicitLittle,
        fileNames: (0..<sagittal.size.z).map { "S\($0).dcm" }, instanceNumbers: Array(1...sagittal.size.z))
    // A secondary capture (a screenshot).
    var capture = SeriesIdentity()
    capture.seriesDescription = "screenshot"
    try DICOMWriter.writeImage(
        path: folder + "/capture.dcm", pixels: [UInt8](repeating: 128, count: 64 * 64),
        description: .init(
            sopClassUID: SOPClass.secondaryCapturePrefix, sopInstanceUID: DICOMWriter.newUID(), identity: capture,
            modality: "OT", instanceNumber: 1, rows: 64, columns: 64, bitsStored: 8, signed: false,
            photometric: "MONOCHROME2", pixelSpacing: (1, 1)),
        syntax: .explicitLittle)

    var candidates = SeriesSelection.candidates(from: SeriesGrouping.group(try FolderScan.scan(folder).headers))
    SeriesSelection.choose(&candidates)
    func candidate(_ description: String) -> SeriesCandidate? {
        candidates.first { $0.group.first.seriesDescription == description }
    }
    #expect(candidate("axial original")?.isChosen == true)
    #expect(candidate("derived")?.notChosenBecause?.contains("DERIVED") == true)
    #expect(candidate("sagittal")?.notChosenBecause?.contains("not axial") == true)
    // Written with slices along L, but DICOM's slice normal (row × column) is P × I = R, so the
    // loaded grid runs along R; in patient space it is the same image.
    let sagittalPlan = try #require(candidate("sagittal")?.plan)
    #expect(sagittalPlan.geometry.orientationCode == "PIR")
    #expect(try SeriesLoader.load(sagittalPlan).asInt16.reoriented(to: "LPS").voxels == more.ct.voxels)
    #expect(candidate("screenshot")?.rejection?.contains("secondary capture") == true)
}

/// DCMTK's own command-line encoders, when installed: an independent path to the same
/// compressed syntaxes the phantom writer produces.
@Test(
    .enabled(
        if: ["dcmcrle", "dcmcjpeg", "dcmcjpls"].allSatisfy(hasTool), "needs DCMTK's dcmcrle, dcmcjpeg and dcmcjpls"),
    arguments: [
        ("dcmcrle", [String]()), ("dcmcjpeg", ["+e1"]), ("dcmcjpeg", ["+el"]), ("dcmcjpls", ["+el"]),
    ])
func seriesCompressedByDCMTKToolsDecodesToTheSameVoxels(tool: String, options: [String]) throws {
    let (phantom, phantomOptions) = smallPhantom(slices: 4)
    let source = try writePhantom(phantom, options: phantomOptions, to: try temporaryDirectory())
    let target = try temporaryDirectory()
    for name in try FileManager.default.contentsOfDirectory(atPath: source) {
        try runTool(tool, options + [source + "/" + name, target + "/" + name])
    }
    let (volume, _) = try loadOnlySeries(target)
    #expect(volume.asInt16.voxels == phantom.ct.voxels)
}

/// A CT series whose files lack (0008,0060) Modality but say CT Image Storage in (0008,0016)
/// is CT (dcm2niix and viewers read it), with a warning that says what was assumed; it used
/// to be refused as "modality missing is neither CT nor a radiograph".
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func aMissingModalityIsTakenFromTheSOPClassWithAWarning() throws {
    let (phantom, options) = smallPhantom(slices: 4)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { folder + "/" + $0 }
    _ = try runTool("dcmodify", ["-nb", "-ea", "(0008,0060)"] + files)
    let scan = try FolderScan.scan(folder)
    #expect(scan.headers.count == 4 && scan.headers.allSatisfy { $0.modality == "CT" && $0.modalityInferred })
    var candidates = SeriesSelection.candidates(from: SeriesGrouping.group(scan.headers))
    SeriesSelection.choose(&candidates)
    let chosen = try #require(candidates.first { $0.isChosen })
    #expect(chosen.rejection == nil)
    #expect(chosen.plan?.warnings.contains { $0.contains("(0008,0060) Modality is missing") } == true)
}
