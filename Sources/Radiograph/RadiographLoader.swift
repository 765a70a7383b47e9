import Foundation
import ImageCodecs
import VolumeCore

/// Reads a chest radiograph from PNG, JPEG or DICOM (CR/DX) into a `RadiographImage`.
public enum RadiographLoader {
    /// The pixel size assumed when a file records none: 1 mm, so that millimetres equal pixel
    /// counts and nothing looks calibrated that is not (the `missing-spacing` finding says so).
    public static let assumedSpacing = 1.0

    /// Pixel sizes, in mm, that a radiograph can plausibly have: from 0.02 (finer than any
    /// detector; mammography is 0.05) to 10 (a 43 cm film shrunk to 43 pixels). A recorded
    /// density outside this range is a mistake and is treated as missing.
    static let plausibleSpacing = 0.02...10.0

    /// Densities image editors write whatever the picture, in pixels per mm: 72 and 96 dpi.
    /// They describe a screen, not a detector, so they count as no spacing.
    static let screenDensities = [72.0 / 25.4, 96.0 / 25.4]
    /// Relative tolerance for matching `screenDensities`: JFIF stores whole dots per cm, so
    /// 72 dpi arrives as 28 dots/cm, 1.2 % off.
    static let screenDensityTolerance = 0.02

    /// Peak bytes per pixel while decoding a PNG or JPEG: the decoder's buffer at its widest
    /// (RGBA, 16 bits per sample: 8 bytes) plus the Float gray plane (4 bytes).
    static let codecPeakBytesPerPixel = 12

    /// Loads one radiograph, choosing the reader by content, not by file name: the PNG
    /// signature, the JPEG start-of-image marker FF D8, and otherwise DICOM (read through DCMTK,
    /// which also reads files without the Part 10 preamble).
    public static func load(path: String) throws(RadiographError) -> RadiographImage {
        switch try FileKind.sniff(path) {
        case .png: return try loadPNG(path)
        case .jpeg: return try loadJPEG(path)
        case .dicom: return try loadDICOM(path, knownDICOM: true)
        case .other: return try loadDICOM(path, knownDICOM: false)
        }
    }

    /// A PNG through libpng (`ImageDecoder`: the header's size first, then the pixels). 16-bit
    /// files keep their 0...65535 scale; palette, RGB and RGBA images are converted to gray.
    static func loadPNG(_ path: String) throws(RadiographError) -> RadiographImage {
        let image = try decode(path, format: .png)
        let fullScale = image.bitDepth == 16 ? 65535.0 : 255.0
        let (gray, analysis) = try grayPlane(image, fullScale: fullScale, path: path)

        var findings: [QualityFinding] = []
        if image.isPalette {
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.palette,
                    message:
                        "The PNG stores its pixels through a palette (indexed colour, at most 256 distinct values); lungct expanded it and converted it to gray. Fine gray levels may have been lost when the picture was made; use the original image if there is one."
                ))
        }
        let storage: ColourStorage = image.isPalette ? .palette : image.channels == 4 ? .rgba : .rgb
        findings += GrayConversion.findings(analysis, storage: storage, fullScale: fullScale)
        let spacing = densitySpacing(
            pixelsPerMM: image.pixelsPerMM,
            missing: "The PNG records no pixel size (no pHYs chunk in metres)", container: "pHYs chunk")
        return assemble(
            gray: gray, width: image.width, height: image.height, bitDepth: image.bitDepth, source: "png",
            spacing: spacing, findings: findings)
    }

    /// A JPEG through libjpeg (`ImageDecoder`: the header's size first, then the pixels).
    /// Always 8-bit; colour JPEGs are decoded to RGB and converted to gray.
    static func loadJPEG(_ path: String) throws(RadiographError) -> RadiographImage {
        let image = try decode(path, format: .jpeg)
        let (gray, analysis) = try grayPlane(image, fullScale: 255, path: path)

        var findings = [
            QualityFinding(
                code: QualityFinding.Code.lossyCompression,
                message:
                    "JPEG compression is lossy: faint opacities and fine texture can be smoothed or blocky, so the score may differ from one on the original radiograph. Use the original DICOM where there is one."
            )
        ]
        if image.decoderWarnings > 0 {
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.corruptData,
                    message:
                        "libjpeg reported \(image.decoderWarnings) corrupt-data warning(s), for example a truncated file; the part it could not decode is filled with flat gray. Check the file against its source."
                ))
        }
        findings += GrayConversion.findings(analysis, storage: .rgb, fullScale: 255)
        let spacing = densitySpacing(
            pixelsPerMM: image.pixelsPerMM,
            missing:
                "The JPEG records no pixel size (no JFIF density in dots per cm; a density in dots per inch or an aspect ratio describes printing, not the detector)",
            container: "JFIF density")
        return assemble(
            gray: gray, width: image.width, height: image.height, bitDepth: 8, source: "jpeg", spacing: spacing,
            findings: findings)
    }

    /// The file decoded, after its header's size passed `checkSize` (so nothing absurd is
    /// allocated); a decoder failure is `.undecodable` with the library's message.
    static func decode(_ path: String, format: ImageDecoder.Format) throws(RadiographError) -> DecodedImage {
        do {
            let (width, height) = try ImageDecoder.size(of: path, format: format)
            try checkSize(width: width, height: height, bytesPerPixel: codecPeakBytesPerPixel, path: path)
            return try ImageDecoder.decode(path, format: format)
        } catch let error as ImageCodecError {
            throw RadiographError(.undecodable, path: path, message: error.message)
        } catch let error as RadiographError {
            throw error
        } catch {
            throw RadiographError(.undecodable, path: path, message: "\(error)")
        }
    }

    /// The gray plane of a decoded PNG or JPEG, after checking that the decoder returned
    /// samples it can convert.
    static func grayPlane(
        _ image: DecodedImage, fullScale: Double, path: String
    ) throws(RadiographError) -> (gray: [Float], analysis: ColourAnalysis) {
        let converted: (gray: [Float], analysis: ColourAnalysis)? =
            (1...4).contains(image.channels)
            ? image.bitDepth == 16
                ? image.withSamples(of: UInt16.self) { samples in
                    samples.map { GrayConversion.convert($0, channels: image.channels, fullScale: fullScale) }
                }
                : image.withSamples(of: UInt8.self) { samples in
                    samples.map { GrayConversion.convert($0, channels: image.channels, fullScale: fullScale) }
                }
            : nil
        guard let converted else {
            throw RadiographError(
                .undecodable, path: path,
                message:
                    "the decoder returned \(image.channels) channels of \(image.bitDepth) bits, which lungct cannot convert to gray"
            )
        }
        return converted
    }

    /// Spacing from a PNG pHYs chunk or JFIF density, already converted to pixels per mm by the
    /// C layer (0 when absent or not metric). Screen defaults and implausible values count as missing.
    static func densitySpacing(pixelsPerMM: (x: Double, y: Double), missing: String, container: String) -> Spacing {
        let (x, y) = pixelsPerMM
        guard x > 0, y > 0, x.isFinite, y.isFinite else { return .assumed(because: missing) }
        let isScreenDefault = { (density: Double) in
            screenDensities.contains { abs(density - $0) <= screenDensityTolerance * $0 }
        }
        if isScreenDefault(x) && isScreenDefault(y) {
            let dpi = Int((x * 25.4).rounded())
            return .assumed(
                because:
                    "The \(container) says \(dpi) dots per inch, the default image editors write, not the detector's pixel size"
            )
        }
        let spacing = (x: 1 / x, y: 1 / y)
        guard plausibleSpacing.contains(spacing.x), plausibleSpacing.contains(spacing.y) else {
            return .assumed(
                because:
                    "The \(container) gives \(spacing.x)×\(spacing.y) mm per pixel, outside the \(plausibleSpacing.lowerBound)–\(plausibleSpacing.upperBound) mm a radiograph can have"
            )
        }
        return Spacing(column: spacing.x, row: spacing.y, known: true, finding: nil)
    }

    /// The image with its single-slice geometry (see `RadiographImage`) and the size finding.
    static func assemble(
        gray: [Float], width: Int, height: Int, bitDepth: Int, source: String, spacing: Spacing,
        findings: [QualityFinding], window: (center: Double, width: Double)? = nil
    ) -> RadiographImage {
        var findings = findings
        if let finding = spacing.finding { findings.append(finding) }
        if min(width, height) < RadiographLimits.smallSide {
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.smallImage,
                    message:
                        "The image is only \(width)×\(height) pixels; below \(RadiographLimits.smallSide) pixels on the shorter side it must be upsampled for the model, and fine texture such as ground-glass opacity is already lost."
                ))
        }
        let geometry = Geometry(
            size: Size3(width, height, 1), spacing: Vector3(spacing.column, spacing.row, 1), origin: .zero,
            direction: .identity)
        return RadiographImage(
            volume: Volume(geometry: geometry, voxels: gray), bitDepth: bitDepth, source: source,
            pixelSpacingKnown: spacing.known, findings: findings, window: window)
    }
}

/// A pixel size in mm and, when it was assumed, the finding that says so.
struct Spacing {
    var column: Double
    var row: Double
    var known: Bool
    var finding: QualityFinding?

    static func assumed(because reason: String) -> Spacing {
        Spacing(
            column: RadiographLoader.assumedSpacing, row: RadiographLoader.assumedSpacing, known: false,
            finding: QualityFinding(
                code: QualityFinding.Code.missingSpacing,
                message:
                    "\(reason); lungct assumed \(RadiographLoader.assumedSpacing.formatted(.number)) mm per pixel, so lengths and areas in millimetres are not real for this image."
            ))
    }
}

/// What a file's first bytes say it is.
enum FileKind {
    case png, jpeg, dicom, other

    /// The 8-byte PNG signature (PNG spec, section 5.2).
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The JPEG start-of-image marker (ITU-T T.81, B.1.1.3).
    static let jpegStart: [UInt8] = [0xFF, 0xD8]
    /// "DICM" after the 128-byte preamble of a DICOM Part 10 file (PS3.10 section 7.1).
    static let dicomMagic = Array("DICM".utf8)
    static let dicomMagicOffset = 128

    static func sniff(_ path: String) throws(RadiographError) -> FileKind {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RadiographError(.unreadable, path: path, message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw RadiographError(.unreadable, path: path, message: "is a folder, not an image file")
        }
        let head: [UInt8]
        do {
            guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoPermission) }
            defer { try? handle.close() }
            head = [UInt8](try handle.read(upToCount: dicomMagicOffset + dicomMagic.count) ?? Data())
        } catch {
            throw RadiographError(
                .unreadable, path: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        guard !head.isEmpty else { throw RadiographError(.tooSmall, path: path, message: "the file is empty") }
        if head.starts(with: pngSignature) { return .png }
        if head.starts(with: jpegStart) { return .jpeg }
        if head.dropFirst(dicomMagicOffset).starts(with: dicomMagic) { return .dicom }
        return .other
    }
}
