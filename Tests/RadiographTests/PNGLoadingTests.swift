import Foundation
import ImageCodecs
import Radiograph
import TestSupport
import Testing
import VolumeCore

typealias Code = QualityFinding.Code

@Test func grayPNGKeepsItsValuesAndAssumesOneMillimetre() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let gray = grayPicture(width: 300, height: 260)
    let path = folder + "/gray.png"
    try PNGWriter.write(path: path, width: 300, height: 260, channels: 1, pixels: gray)

    let image = try RadiographLoader.load(path: path)
    #expect(image.source == "png")
    #expect(image.bitDepth == 8)
    #expect(image.volume.voxels == gray.map { Float($0) })
    #expect(image.volume.geometry == Geometry(size: Size3(300, 260, 1), spacing: Vector3(1, 1, 1)))
    #expect(!image.pixelSpacingKnown)
    #expect(image.findings.map(\.code) == [Code.missingSpacing])
    #expect(image.window == nil)
}

@Test func rgbPNGWithGrayContentIsConvertedExactlyAndReported() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let gray = grayPicture(width: 300, height: 260)
    let path = folder + "/rgb-gray.png"
    try PNGWriter.write(path: path, width: 300, height: 260, channels: 3, pixels: rgbOfGray(gray))

    let image = try RadiographLoader.load(path: path)
    #expect(image.volume.voxels == gray.map { Float($0) })
    #expect(image.has(Code.rgbButGray))
    #expect(!image.has(Code.colourImage) && !image.has(Code.burnedInColour))
    let message = image.findings.first { $0.code == Code.rgbButGray }?.message ?? ""
    #expect(message.contains("converted"))
}

@Test func aFewStronglyColouredPixelsAreBurnedInColour() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var rgb = rgbOfGray(grayPicture(width: 300, height: 260))
    paintSquare(&rgb, width: 300, x: 20, y: 30, side: 10, colour: [255, 0, 0])
    let path = folder + "/marker.png"
    try PNGWriter.write(path: path, width: 300, height: 260, channels: 3, pixels: rgb)

    let image = try RadiographLoader.load(path: path)
    #expect(image.has(Code.burnedInColour))
    #expect(!image.has(Code.colourImage) && !image.has(Code.rgbButGray))
    // 100 of 78000 pixels.
    let message = image.findings.first { $0.code == Code.burnedInColour }?.message ?? ""
    #expect(message.contains("0.13%"))
    // Red becomes its BT.601 luma; gray pixels keep their value.
    #expect(abs(Double(image.volume[25, 35, 0]) - 0.299 * 255) < 1e-3)
    #expect(image.volume[100, 100, 0] == Float((100 + 100) % 256))
}

@Test func aColourPictureIsReportedAsColour() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var random = SplitMix64(state: 7)
    let path = folder + "/colour.png"
    try PNGWriter.write(path: path, width: 260, height: 260, channels: 3, pixels: random.bytes(260 * 260 * 3))

    let image = try RadiographLoader.load(path: path)
    #expect(image.has(Code.colourImage))
    #expect(!image.has(Code.burnedInColour) && !image.has(Code.rgbButGray))
    #expect(image.volume.voxels.allSatisfy { $0 >= 0 && $0 <= 255 })
}

@Test func rgbaAlphaIsIgnoredWithAFinding() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let gray = grayPicture(width: 300, height: 260)
    let rgba = gray.enumerated().flatMap { index, value -> [UInt8] in [value, value, value, index % 2 == 0 ? 255 : 128]
    }
    let path = folder + "/rgba.png"
    try PNGWriter.write(path: path, width: 300, height: 260, channels: 4, pixels: rgba)

    let image = try RadiographLoader.load(path: path)
    #expect(image.volume.voxels == gray.map { Float($0) })
    #expect(image.has(Code.alphaIgnored) && image.has(Code.rgbButGray))
    let message = image.findings.first { $0.code == Code.alphaIgnored }?.message ?? ""
    #expect(message.contains("50%"))
}

@Test func sixteenBitPNGKeepsItsScaleAndMetricSpacing() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (width, height) = (300, 260)
    let values = (0..<(width * height)).map { UInt16(truncatingIfNeeded: $0 * 251) }
    var rows: [[UInt8]] = (0..<height).map { (j: Int) in
        values[(j * width)..<((j + 1) * width)].flatMap { (v: UInt16) -> [UInt8] in [UInt8(v >> 8), UInt8(v & 0xFF)] }
    }
    rows[0][0...3] = [0xFF, 0xFF, 0x00, 0x00]  // 65535 and 0 at the first two pixels
    let path = folder + "/sixteen.png"
    // 5000 pixels per metre: 0.2 mm.
    try RawPNG.write(
        path: path, width: width, height: height, bitDepth: 16, colourType: .gray, rows: rows, pixelsPerMetre: 5000)

    let image = try RadiographLoader.load(path: path)
    #expect(image.bitDepth == 16)
    #expect(image.fullScale == 65535)
    #expect(image.volume[0, 0, 0] == 65535)
    #expect(image.volume[1, 0, 0] == 0)
    #expect(image.volume[17, 200, 0] == Float(values[200 * width + 17]))
    #expect(image.pixelSpacingKnown)
    #expect(abs(image.volume.geometry.spacing.x - 0.2) < 1e-9 && abs(image.volume.geometry.spacing.y - 0.2) < 1e-9)
    #expect(image.findings.isEmpty)
}

@Test func palettePNGIsExpandedAndReported() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let levels: [UInt8] = [0, 60, 130, 250]
    let palette = levels.map { [$0, $0, $0] }
    let rows: [[UInt8]] = (0..<260).map { (j: Int) in (0..<300).map { (i: Int) in UInt8((i / 10 + j / 10) % 4) } }
    let path = folder + "/palette.png"
    try RawPNG.write(
        path: path, width: 300, height: 260, bitDepth: 8, colourType: .palette, rows: rows, palette: palette)

    let image = try RadiographLoader.load(path: path)
    #expect(image.has(Code.palette))
    #expect(!image.has(Code.rgbButGray) && !image.has(Code.colourImage))
    #expect(image.volume[35, 12, 0] == Float(levels[(3 + 1) % 4]))
}

@Test func screenDefaultDensityCountsAsMissingSpacing() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let rows: [[UInt8]] = (0..<260).map { (j: Int) in (0..<300).map { (i: Int) in UInt8((i + j) % 256) } }
    let path = folder + "/72dpi.png"
    try RawPNG.write(
        path: path, width: 300, height: 260, bitDepth: 8, colourType: .gray, rows: rows, pixelsPerMetre: 2835)

    let image = try RadiographLoader.load(path: path)
    #expect(!image.pixelSpacingKnown)
    #expect(image.volume.geometry.spacing == Vector3(1, 1, 1))
    let message = image.findings.first { $0.code == Code.missingSpacing }?.message ?? ""
    #expect(message.contains("72 dots per inch"))
}

@Test func smallImageLoadsWithAFinding() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/small.png"
    try PNGWriter.write(path: path, width: 100, height: 120, channels: 1, pixels: grayPicture(width: 100, height: 120))

    let image = try RadiographLoader.load(path: path)
    #expect(image.volume.size == Size3(100, 120, 1))
    #expect(image.has(Code.smallImage))
}
