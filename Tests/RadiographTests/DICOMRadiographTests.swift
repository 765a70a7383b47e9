import DICOMSeries
import Foundation
import Radiograph
import TestSupport
import Testing
import VolumeCore

/// Writes a single-frame DX file with DICOMWriter (no position: a projection image).
func writeDX<Sample: FixedWidthInteger>(
    path: String, pixels: [Sample], rows: Int, columns: Int, bitsStored: Int, photometric: String,
    spacing: (row: Double, column: Double), modality: String = "DX",
    sopClass: String = SOPClass.digitalXRayPresentation, syntax: OutputTransferSyntax = .explicitLittle
) throws {
    var identity = SeriesIdentity()
    identity.imageType = "ORIGINAL\\PRIMARY"
    identity.seriesDescription = "lungct radiograph fixture"
    try DICOMWriter.writeImage(
        path: path, pixels: pixels,
        description: DICOMWriter.ImageDescription(
            sopClassUID: sopClass, sopInstanceUID: DICOMWriter.newUID(), identity: identity, modality: modality,
            instanceNumber: 1, rows: rows, columns: columns, bitsStored: bitsStored, signed: false,
            photometric: photometric, pixelSpacing: spacing),
        syntax: syntax)
}

@Test func monochrome1DXIsInvertedAndKeepsItsSpacing() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (columns, rows) = (300, 280)
    // A 12-bit gradient; the maximum, 4095, sits at one known pixel.
    var stored = (0..<(rows * columns)).map { UInt16(($0 % columns * 7 + $0 / columns * 3) % 4000) }
    stored[40 * columns + 25] = 4095
    let path = folder + "/dx.dcm"
    try writeDX(
        path: path, pixels: stored, rows: rows, columns: columns, bitsStored: 12, photometric: "MONOCHROME1",
        spacing: (row: 0.15, column: 0.14))

    let image = try RadiographLoader.load(path: path)
    #expect(image.source == "dicom")
    #expect(image.bitDepth == 12)
    #expect(image.volume.size == Size3(columns, rows, 1))
    // Inverted over the 12-bit range: the brightest stored value becomes the darkest.
    #expect(image.volume[25, 40, 0] == 0)
    #expect(image.volume.voxels.min() == 0)
    #expect(image.volume.voxels == stored.map { Float(4095 - Int($0)) })
    #expect(image.has(QualityFinding.Code.monochrome1Inverted))
    #expect(!image.has(QualityFinding.Code.lossyCompression) && !image.has(QualityFinding.Code.missingSpacing))
    // Spacing is (column, row, 1); a radiograph has no position in patient space.
    #expect(image.pixelSpacingKnown)
    #expect(image.volume.geometry.spacing == Vector3(0.14, 0.15, 1))
    #expect(image.volume.geometry.origin == .zero)
    #expect(image.volume.geometry.direction == .identity)
}

@Test func monochrome2EightBitJPEGLosslessKeepsStoredValues() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (columns, rows) = (270, 260)
    let stored = grayPicture(width: columns, height: rows)
    let path = folder + "/cr.dcm"
    try writeDX(
        path: path, pixels: stored, rows: rows, columns: columns, bitsStored: 8, photometric: "MONOCHROME2",
        spacing: (row: 0.2, column: 0.2), modality: "CR", sopClass: SOPClass.computedRadiography,
        syntax: .jpegLossless)

    let image = try RadiographLoader.load(path: path)
    #expect(image.bitDepth == 8)
    #expect(image.volume.voxels == stored.map { Float($0) })
    #expect(image.findings.isEmpty)
}

@Test func ctSliceIsNotARadiograph() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/ct.dcm"
    try writeDX(
        path: path, pixels: [UInt16](repeating: 1000, count: 64 * 64), rows: 64, columns: 64, bitsStored: 12,
        photometric: "MONOCHROME2", spacing: (row: 0.7, column: 0.7), modality: "CT", sopClass: SOPClass.ctImage)

    let error = loadError(path)
    #expect(error?.kind == .unsupported)
    #expect(error?.description.contains("Modality is CT") == true)
}

/// The 32×32 DX fixtures with a VOI LUT Sequence (Fixtures/dx-voi-lut*.dump), made with dump2dcm.
func voiLUTFixture(_ name: String, in folder: String) throws -> String {
    let dump = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures/\(name).dump"
    ).path
    return try dicomFromDump(at: dump, to: folder + "/\(name).dcm")
}

/// The fixtures' LUT (8 entries from stored value 100) applied as PS3.3 C.11.2.1.1 says, and
/// their 16 repeating stored values.
let fixtureLUT: [Float] = [0, 1000, 3000, 9000, 20000, 40000, 60000, 65535]
let fixtureStored = [0, 50, 100, 101, 102, 103, 104, 105, 106, 107, 108, 200, 1000, 2000, 4000, 4095]
func throughFixtureLUT(_ stored: Int) -> Float { fixtureLUT[min(7, max(0, stored - 100))] }

@Test(.enabled(if: hasTool("dump2dcm"), "needs DCMTK's dump2dcm"))
func aVOILUTWithoutAWindowIsHowTheRadiographIsShownAndScored() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = try voiLUTFixture("dx-voi-lut", in: folder)
    let image = try RadiographLoader.load(path: path)
    #expect(image.voiLUTApplied && image.bitDepth == 16)
    #expect(image.has(QualityFinding.Code.voiLUTApplied))
    let expected = (0..<(32 * 32)).map { throughFixtureLUT(fixtureStored[$0 % 16]) }
    #expect(image.volume.voxels == expected, "the LUT as PS3.3 C.11.2.1.1 applies it")
    // The LUT's output range is the display range.
    let normalized = RadiographNormalization.normalize(image)
    #expect(normalized.method == "voi-lut")
    #expect(normalized.volume.voxels[2] == 0 && normalized.volume.voxels[9] == 1)
    #expect(abs(normalized.volume.voxels[5] - 9000 / 65535) < 1e-6)

    // MONOCHROME1: the same LUT, then shown inverted (PS3.3 C.7.6.3.1.2).
    let inverted = try RadiographLoader.load(
        path: try voiLUTFixture("dx-voi-lut-monochrome1", in: folder))
    #expect(inverted.voiLUTApplied && inverted.has(QualityFinding.Code.voiLUTApplied))
    // DCMTK's inversion rounds in floating point: within one step of 65535.
    let largest = zip(inverted.volume.voxels, expected).map { abs($0 - (65535 - $1)) }.max() ?? .infinity
    #expect(largest <= 1, "largest difference \(largest)")
    #expect(inverted.volume.voxels[2] == 65535, "the LUT's darkest entry is shown white")
}

/// A DICOM radiograph with a corrupt (0028,1053) Rescale Slope is refused naming the tag: its
/// window is undone through the rescale, so every gray value would have become nan.
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func aRadiographWithACorruptRescaleSlopeIsRefusedNamingTheTag() throws {
    let folder = try temporaryDirectory()
    let path = folder + "/dx.dcm"
    let pixels = (0..<(64 * 64)).map { UInt16($0 % 4000) }
    try writeDX(
        path: path, pixels: pixels, rows: 64, columns: 64, bitsStored: 12, photometric: "MONOCHROME2",
        spacing: (row: 0.15, column: 0.15))
    _ = try runTool(
        "dcmodify", ["-nb", "-i", "(0028,1053)=nan", "-i", "(0028,1050)=2000", "-i", "(0028,1051)=4000", path])
    #expect {
        _ = try RadiographLoader.load(path: path)
    } throws: { error in
        (error as? RadiographError)?.kind == .unsupported && "\(error)".contains("(0028,1053) Rescale Slope is nan")
    }
}
