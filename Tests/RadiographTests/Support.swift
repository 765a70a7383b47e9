import Foundation
import Radiograph
import TestSupport

/// A smooth gray test picture with every level 0...255 present.
func grayPicture(width: Int, height: Int) -> [UInt8] {
    (0..<(width * height)).map { index in UInt8((index % width + index / width) % 256) }
}

/// The gray picture as RGB with equal channels.
func rgbOfGray(_ gray: [UInt8]) -> [UInt8] {
    gray.flatMap { [$0, $0, $0] }
}

/// Paints a `side`×`side` square of one colour into interleaved RGB pixels.
func paintSquare(_ rgb: inout [UInt8], width: Int, x: Int, y: Int, side: Int, colour: [UInt8]) {
    for j in y..<(y + side) {
        for i in x..<(x + side) {
            for c in 0..<3 { rgb[(j * width + i) * 3 + c] = colour[c] }
        }
    }
}

/// A deterministic byte generator (SplitMix64), so "random" fixtures are the same on every run.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// PNG files that `PNGWriter` does not make (16-bit, palette, pHYs), written chunk by chunk
/// with stored (uncompressed) deflate blocks, so the tests need neither Python nor ImageMagick.
enum RawPNG {
    enum ColourType: UInt8 {
        case gray = 0
        case rgb = 2
        case palette = 3
        case grayAlpha = 4
        case rgba = 6
    }

    /// Writes a PNG whose rows are given already serialised (big-endian for 16-bit samples).
    static func write(
        path: String, width: Int, height: Int, bitDepth: UInt8, colourType: ColourType, rows: [[UInt8]],
        palette: [[UInt8]] = [], pixelsPerMetre: UInt32? = nil
    ) throws {
        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        file += chunk(
            "IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [bitDepth, colourType.rawValue, 0, 0, 0])
        if let density = pixelsPerMetre {
            file += chunk("pHYs", bigEndian(density) + bigEndian(density) + [1])  // unit 1: metre
        }
        if !palette.isEmpty { file += chunk("PLTE", palette.flatMap { $0 }) }
        file += chunk("IDAT", zlibStored(rows.flatMap { [0] + $0 }))  // filter type 0 per row
        file += chunk("IEND", [])
        try Data(file).write(to: URL(fileURLWithPath: path))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    /// zlib (RFC 1950) around stored deflate blocks (RFC 1951, 3.2.4).
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var start = 0
        repeat {
            let end = min(start + 65535, data.count)
            let length = UInt16(end - start)
            out += [
                end == data.count ? 1 : 0, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF),
                UInt8(~length >> 8),
            ]
            out += data[start..<end]
            start = end
        } while start < data.count
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return out + bigEndian(b << 16 | a)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}

/// JPEG fixtures through `cjpeg` from libjpeg-turbo-progs (`apt-get install libjpeg-turbo-progs`).
/// ImageMagick is not used: on this machine `convert` is a stand-in that only prints PNGs.
enum JPEGTool {
    static let cjpeg: String? = toolPath("cjpeg")

    /// Writes a PGM (1 channel) or PPM (3 channels) and compresses it with cjpeg.
    static func write(path: String, width: Int, height: Int, channels: Int, pixels: [UInt8], quality: Int = 95) throws {
        guard let cjpeg else { throw TestFailure("cjpeg is not installed") }
        let pnm = path + (channels == 1 ? ".pgm" : ".ppm")
        let header = "\(channels == 1 ? "P5" : "P6")\n\(width) \(height)\n255\n"
        try (Data(header.utf8) + Data(pixels)).write(to: URL(fileURLWithPath: pnm))
        try runTool(cjpeg, ["-quality", "\(quality)", "-outfile", path, pnm])
    }

    /// Sets the JFIF APP0 density (unit 1 = dots per inch, 2 = dots per cm) of a cjpeg output.
    static func setDensity(path: String, unit: UInt8, dots: UInt16) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // SOI, APP0 marker, length, "JFIF\0", version, then units at 13 and densities at 14...17.
        guard bytes.count > 18, bytes[2] == 0xFF, bytes[3] == 0xE0, Array(bytes[6..<11]) == Array("JFIF\0".utf8) else {
            throw TestFailure("\(path) does not start with a JFIF APP0 segment")
        }
        bytes[13] = unit
        bytes.replaceSubrange(
            14..<18, with: [UInt8(dots >> 8), UInt8(dots & 0xFF), UInt8(dots >> 8), UInt8(dots & 0xFF)])
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
