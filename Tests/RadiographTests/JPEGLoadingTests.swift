import Foundation
import Radiograph
import TestSupport
import Testing
import VolumeCore

/// JPEG fixtures come from cjpeg (libjpeg-turbo-progs); without it these tests are skipped.
@Suite(.enabled(if: JPEGTool.cjpeg != nil, "needs cjpeg: apt-get install libjpeg-turbo-progs"))
struct JPEGLoadingTests {
    let width = 320
    let height = 300

    @Test func grayJPEGIsLossyWithoutSpacing() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let gray = grayPicture(width: width, height: height)
        let path = folder + "/gray.jpg"
        try JPEGTool.write(path: path, width: width, height: height, channels: 1, pixels: gray)

        let image = try RadiographLoader.load(path: path)
        #expect(image.source == "jpeg")
        #expect(image.bitDepth == 8)
        #expect(image.volume.size == Size3(width, height, 1))
        #expect(Set(image.findings.map(\.code)) == [Code.lossyCompression, Code.missingSpacing])
        // Quality 95 stays close to the original, away from the 255 → 0 wrap-around edges.
        var error = 0.0
        var count = 0
        for j in 0..<height {
            for i in 0..<width where (i + j) % 256 > 8 && (i + j) % 256 < 247 {
                error += abs(Double(image.volume[i, j, 0]) - Double(gray[j * width + i]))
                count += 1
            }
        }
        #expect(error / Double(count) < 2)
    }

    @Test func densityInDotsPerCentimetreGivesSpacingAndDotsPerInchDoesNot() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let gray = grayPicture(width: width, height: height)
        let metric = folder + "/metric.jpg"
        try JPEGTool.write(path: metric, width: width, height: height, channels: 1, pixels: gray)
        try JPEGTool.setDensity(path: metric, unit: 2, dots: 50)  // 50 dots/cm: 0.2 mm
        let inches = folder + "/inches.jpg"
        try JPEGTool.write(path: inches, width: width, height: height, channels: 1, pixels: gray)
        try JPEGTool.setDensity(path: inches, unit: 1, dots: 300)

        let withSpacing = try RadiographLoader.load(path: metric)
        #expect(withSpacing.pixelSpacingKnown)
        #expect(!withSpacing.has(Code.missingSpacing))
        #expect(abs(withSpacing.volume.geometry.spacing.x - 0.2) < 1e-9)
        #expect(abs(withSpacing.volume.geometry.spacing.y - 0.2) < 1e-9)

        let without = try RadiographLoader.load(path: inches)
        #expect(!without.pixelSpacingKnown)
        #expect(without.has(Code.missingSpacing))
        #expect(without.volume.geometry.spacing == Vector3(1, 1, 1))
    }

    @Test func colourJPEGOfAGrayPictureIsRGBButGray() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/rgb-gray.jpg"
        try JPEGTool.write(
            path: path, width: width, height: height, channels: 3,
            pixels: rgbOfGray(grayPicture(width: width, height: height)))

        let image = try RadiographLoader.load(path: path)
        #expect(image.has(Code.rgbButGray))
        #expect(!image.has(Code.colourImage) && !image.has(Code.burnedInColour))
    }

    @Test func colouredMarkersInAJPEGAreBurnedInColour() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var rgb = rgbOfGray(grayPicture(width: width, height: height))
        paintSquare(&rgb, width: width, x: 16, y: 16, side: 16, colour: [255, 0, 0])
        paintSquare(&rgb, width: width, x: 240, y: 200, side: 16, colour: [255, 255, 0])
        let path = folder + "/markers.jpg"
        try JPEGTool.write(path: path, width: width, height: height, channels: 3, pixels: rgb)

        let image = try RadiographLoader.load(path: path)
        #expect(image.has(Code.burnedInColour))
        #expect(!image.has(Code.colourImage) && !image.has(Code.rgbButGray))
    }

    @Test func truncatedJPEGIsRefusedOrReportedCorrupt() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/cut.jpg"
        try JPEGTool.write(
            path: path, width: width, height: height, channels: 1, pixels: grayPicture(width: width, height: height))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count * 6 / 10).write(to: URL(fileURLWithPath: path))

        do {
            let image = try RadiographLoader.load(path: path)
            #expect(image.has(Code.corruptData))
        } catch {
            #expect(error.description.contains(path))
        }
    }
}

/// A CMYK JPEG (a print file) is refused with a message that says what it is; libjpeg's own
/// words were "Unsupported color conversion request".
@Test(.enabled(if: pythonWithPillow != nil, "needs Python with Pillow (make test installs it)"))
func aCMYKJPEGIsRefusedSayingWhatItIs() throws {
    let folder = try temporaryDirectory()
    let path = folder + "/cmyk.jpg"
    _ = try runProcess(
        try #require(pythonWithPillow),
        [
            "-c", "import sys; from PIL import Image; Image.new('CMYK', (300, 300), (0, 0, 0, 128)).save(sys.argv[1])",
            path,
        ])
    #expect {
        _ = try RadiographLoader.load(path: path)
    } throws: { error in
        (error as? RadiographError)?.kind == .undecodable && "\(error)".contains("CMYK JPEG")
            && "\(error)".contains(path)
    }
}
