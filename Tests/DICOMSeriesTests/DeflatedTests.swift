import Foundation
import TestSupport
import Testing
import VolumeCore

@testable import DICOMSeries

// Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99, PS3.5 A.5): the data set after the
// File Meta Information is one raw deflate stream, which DCMTK inflates whole while parsing. A
// 4.2 MB file whose Pixel Data inflated to 4 GB made `lungct info` peak at 4.2 GB.

/// The offset of the data set in a Part 10 file: after the preamble, "DICM" and the (0002,xxxx)
/// elements, which are always explicit VR little endian (PS3.10 7.1; PS3.5 7.1.2 for the VRs
/// with a 4-byte length).
func datasetOffset(_ bytes: [UInt8]) -> Int {
    let longLength: Set<String> = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]
    func uint(_ at: Int, _ count: Int) -> Int { (0..<count).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    var offset = 132
    while offset + 8 <= bytes.count, uint(offset, 2) == 0x0002 {
        let vr = String(decoding: bytes[(offset + 4)..<(offset + 6)], as: UTF8.self)
        offset += longLength.contains(vr) ? 12 + uint(offset + 8, 4) : 8 + uint(offset + 6, 2)
    }
    return offset
}

/// Raw deflate (RFC 1951) written by hand, so that a test needs no zlib binding: bytes in stored
/// blocks, and a run of zeros as one literal then matches of 258 bytes at distance 1 in a
/// fixed-Huffman block, 13 bits per 258 bytes: about 160:1 (zlib's dynamic codes reach 1032:1,
/// which a bomb needs no more than a test does).
struct RawDeflate {
    private(set) var bytes: [UInt8] = []
    private var buffer: UInt64 = 0
    private var count = 0

    /// Appends the low `bits` bits of `value`, least significant first (RFC 1951 3.1.1).
    mutating func put(_ value: UInt64, bits: Int) {
        buffer |= value << count
        count += bits
        while count >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            count -= 8
        }
    }

    /// A Huffman code, which is packed most significant bit first (3.1.1).
    mutating func put(code: UInt64, length: Int) {
        put((0..<length).reduce(UInt64(0)) { $0 | ((code >> $1) & 1) << (length - 1 - $1) }, bits: length)
    }

    /// Stored blocks (BTYPE 00, 3.2.4) holding `data`; the last one final when `final`.
    mutating func stored(_ data: [UInt8], final: Bool) {
        var start = 0
        repeat {
            let chunk = min(Int(UInt16.max), data.count - start)
            put(final && start + chunk == data.count ? 1 : 0, bits: 1)
            put(0, bits: 2)
            if count > 0 { put(0, bits: 8 - count) }
            put(UInt64(chunk), bits: 16)
            put(UInt64(~UInt16(chunk)), bits: 16)
            bytes += data[start..<(start + chunk)]
            start += chunk
        } while start < data.count
    }

    /// `zeros` zero bytes in one fixed-Huffman block (BTYPE 01, 3.2.6).
    mutating func zeros(_ zeros: Int) {
        put(0, bits: 1)
        put(1, bits: 2)
        let literalZero: (code: UInt64, length: Int) = (0x30, 8)
        put(code: literalZero.code, length: literalZero.length)
        var left = zeros - 1
        // Length 258 is code 285 (8 bits 11000101, no extra bits); distance 1 is code 0 (5 bits).
        var match = RawDeflate()
        match.put(code: 0xC5, length: 8)
        match.put(code: 0, length: 5)
        let matchBits = UInt64(match.bytes[0]) | match.buffer << 8
        bytes.reserveCapacity(bytes.count + left / 258 * 13 / 8 + 64)
        while left >= 258 {
            put(matchBits, bits: 13)
            left -= 258
        }
        for _ in 0..<left { put(code: literalZero.code, length: literalZero.length) }
        put(code: 0, length: 7)  // end of block (256)
    }

    /// The stream, closed by an empty final stored block.
    mutating func finish() -> [UInt8] {
        stored([], final: true)
        return bytes
    }
}

/// A one-slice phantom written explicit VR little endian, and the same file deflated by
/// DCMTK's dcmconv (+td).
func explicitAndDeflated(in folder: String) throws -> (explicit: String, deflated: String) {
    let (phantom, options) = smallPhantom(slices: 1)
    let series = try writePhantom(phantom, options: options, to: folder + "/series")
    let explicit = series + "/" + (try FileManager.default.contentsOfDirectory(atPath: series).sorted()[0])
    try runTool("dcmconv", ["+td", explicit, folder + "/deflated.dcm"])
    return (explicit, folder + "/deflated.dcm")
}

/// A deflated file whose (7FE0,0010) Pixel Data holds `zeros` zero bytes: dcmconv's meta group
/// (it says deflated), then the explicit file's data set up to its Pixel Data's length, that
/// length set to `zeros`, all deflated.
func deflateBomb(zeros: UInt32, in folder: String) throws -> String {
    let (explicitPath, deflatedPath) = try explicitAndDeflated(in: folder)
    let deflated = [UInt8](try Data(contentsOf: URL(fileURLWithPath: deflatedPath)))
    let explicit = [UInt8](try Data(contentsOf: URL(fileURLWithPath: explicitPath)))
    var dataset = Array(explicit[datasetOffset(explicit)...])
    let pixelData: [UInt8] = [0xE0, 0x7F, 0x10, 0x00, 0x4F, 0x57]  // (7FE0,0010) OW
    let at = try #require(
        (0...(dataset.count - pixelData.count)).last { Array(dataset[$0..<($0 + pixelData.count)]) == pixelData })
    dataset = Array(dataset[..<(at + 8)]) + (0..<4).map { UInt8(truncatingIfNeeded: zeros >> (8 * $0)) }
    var stream = RawDeflate()
    stream.stored(dataset, final: false)
    stream.zeros(Int(zeros))
    let bomb = folder + "/bomb.dcm"
    try Data(deflated[..<datasetOffset(deflated)] + stream.finish()).write(to: URL(fileURLWithPath: bomb))
    return bomb
}

/// Pixel Data a little over `DeflateLimits.maximumInflatedBytes`, in a file of 3.4 MB.
let bombZeros = UInt32(DeflateLimits.maximumInflatedBytes) + (8 << 20)

/// Before the fix, DCMTK inflated the 520 MB while reading the header, and the scan listed a series.
@Test(.enabled(if: hasTool("dcmconv"), "needs DCMTK's dcmconv"))
func aDeflateBombIsRefusedNamingTheFileBeforeItIsInflated() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let bomb = try deflateBomb(zeros: bombZeros, in: folder)
    let size = try #require(try FileManager.default.attributesOfItem(atPath: bomb)[.size] as? Int)
    #expect(size < Int(bombZeros) / 100, "a small file: \(size) bytes")
    let expected = "\(bomb): its deflated data set inflates to more than 512 MB"
    let error = #expect(throws: DICOMError.self) { try DICOMHeader.read(path: bomb) }
    #expect(error?.kind == .tooLarge)
    #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
    let scan = try FolderScan.scan(folder)
    let skipped = try #require(scan.skipped.first { $0.path == bomb })
    #expect(skipped.damaged && skipped.reason.contains(expected), "\(skipped.reason)")
    #expect(scan.headers.count == 2, "the explicit and the honest deflated slice are read")
}

/// `lungct info` on the bomb: before the fix it peaked above 520 MB (4.1 GB for the issue's
/// 4 GB bomb) and listed a series; now it sets the file aside and stays small.
@Test(.enabled(if: hasTool("dcmconv") && hasTool("time"), "needs DCMTK's dcmconv and GNU time"))
func infoOnADeflateBombStaysSmallInMemory() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let bomb = try deflateBomb(zeros: bombZeros, in: folder)
    let (run, peakBytes) = try runMeasuringPeakMemory(lungctBinary(), ["info", bomb])
    #expect(run.status == 2, "nothing to analyse: \(run.stderr)")
    #expect(run.stdout.contains("inflates to more than 512 MB"), "\(run.stdout)")
    // lungct info on an ordinary slice peaks near 40 MB (debug build).
    #expect(peakBytes < 200 << 20, "peak resident memory \(peakBytes >> 20) MB")
}

/// An honest deflated series decodes as its explicit original does.
@Test(.enabled(if: hasTool("dcmconv"), "needs DCMTK's dcmconv"))
func aDeflatedSeriesLoadsWithTheSameHUAsItsExplicitOriginal() throws {
    let (phantom, options) = smallPhantom(slices: 4)
    let source = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let target = try temporaryDirectory()
    for name in try FileManager.default.contentsOfDirectory(atPath: source) {
        try runTool("dcmconv", ["+td", source + "/" + name, target + "/" + name])
    }
    let (volume, plan) = try loadOnlySeries(target)
    #expect(plan.slices.allSatisfy { $0.transferSyntaxUID == TransferSyntax.deflatedExplicitLittleEndian })
    #expect(volume.asInt16.voxels == phantom.ct.voxels)
    #expect(try loadOnlySeries(source).0.asInt16.voxels == volume.asInt16.voxels)
}
