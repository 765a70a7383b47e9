import Foundation
import Phantom
import TestSupport
import Testing
import VolumeCore

@testable import DICOMSeries

// The pixel load reads native pixel data with one pread at the offset the header scan noted,
// instead of parsing each file a second time (NativePixelData); anything else, and any file
// that is no longer the one scanned, goes through DCMTK.

@Test(arguments: [OutputTransferSyntax.explicitLittle, .implicitLittle])
func nativePixelDataIsReadFromWhereTheScanFoundItAsDCMTKReadsIt(syntax: OutputTransferSyntax) throws {
    let (phantom, options) = smallPhantom(slices: 4)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory(), syntax: syntax)
    let headers = try FolderScan.scan(folder).headers
    #expect(headers.count == 4)
    for header in headers {
        let place = try #require(header.nativePixelData, "\(header.path): no native place noted")
        #expect(place.offset > 132)
        let bytes = header.rows * header.columns * 2
        let native = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 8)
        let dcmtk = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 8)
        defer {
            native.deallocate()
            dcmtk.deallocate()
        }
        _ = try PixelFile(for: header).read(header, into: native)
        _ = try PixelFile(path: header.path).read(header, into: dcmtk)
        #expect(native.elementsEqual(dcmtk), "\(header.path)")
    }
}

@Test func compressedPixelDataHasNoNativePlaceAndStillLoads() throws {
    let (phantom, options) = smallPhantom(slices: 3)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory(), syntax: .rle)
    #expect(try FolderScan.scan(folder).headers.allSatisfy { $0.nativePixelData == nil })
    guard case .int16(let loaded) = try loadOnlySeries(folder).0 else { throw TestFailure("expected int16 HU") }
    #expect(loaded.voxels == phantom.ct.voxels)
}

/// A file replaced between the scan and the load by one whose pixel data starts elsewhere (an
/// implicit-VR copy of another phantom): the stale offset would read header bytes and shifted
/// samples; the load must see the file as it is now.
@Test func aFileReplacedAfterTheScanIsReadAsItIsNow() throws {
    let (first, options) = smallPhantom(slices: 4, seed: 3)
    let (second, _) = smallPhantom(slices: 4, seed: 11)
    #expect(first.ct.voxels != second.ct.voxels)
    let folder = try writePhantom(first, options: options, to: try temporaryDirectory())
    let other = try writePhantom(second, options: options, to: try temporaryDirectory(), syntax: .implicitLittle)
    let scan = try FolderScan.scan(folder)
    let plan = try SliceStack.plan(SeriesGrouping.group(scan.headers)[0].headers).get()
    let replaced = plan.slices[2]
    let original = try #require(replaced.nativePixelData)
    let name = URL(fileURLWithPath: replaced.path).lastPathComponent
    try FileManager.default.removeItem(atPath: replaced.path)
    try FileManager.default.copyItem(atPath: other + "/" + name, toPath: replaced.path)
    let now = try #require(try DICOMHeader.read(path: replaced.path).nativePixelData)
    #expect(now.offset != original.offset)

    guard case .int16(let loaded) = try SeriesLoader.load(plan) else { throw TestFailure("expected int16 HU") }
    let planeSize = options.size * options.size
    // The replaced file holds the second phantom's plane at the same place.
    let plane = (0..<plan.sources.count).first {
        if case .slice(let input) = plan.sources[$0] { return input == 2 }
        return false
    }
    let index = try #require(plane)
    let range = (index * planeSize)..<((index + 1) * planeSize)
    #expect(Array(loaded.voxels[range]) == Array(second.ct.voxels[range]))
    #expect(Array(loaded.voxels[range]) != Array(first.ct.voxels[range]))
}

@Test func aFileTruncatedAfterTheScanIsNamedWhenLoaded() throws {
    let (phantom, options) = smallPhantom(slices: 4)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let scan = try FolderScan.scan(folder)
    let plan = try SliceStack.plan(SeriesGrouping.group(scan.headers)[0].headers).get()
    let path = plan.slices[1].path
    let full = try Data(contentsOf: URL(fileURLWithPath: path))
    try full.prefix(full.count - 1000).write(to: URL(fileURLWithPath: path))
    let error = #expect(throws: DICOMError.self) { try SeriesLoader.load(plan) }
    #expect(error?.path == path)
    #expect(error?.message.contains(path) == true)
}

/// The 16-bit-lane rescale for a slope of 1 gives, value for value and for the range, what the
/// 32-bit formula gives: unsigned and signed samples, Bits Stored below 16 (masked, sign-extended),
/// intercepts that keep the results in int16 and ones that do not.
@Test(arguments: [(12, false, -1024), (16, false, -32768), (12, true, 0), (16, true, -1024), (16, false, 1000)])
func rescaleWithSlopeOneMatchesTheGeneralFormula(bitsStored: Int, signed: Bool, intercept: Int32) {
    let samples = SampleDecoder(bitsAllocated: 16, bitsStored: bitsStored, signed: signed)
    var generator = SystemRandomNumberGenerator()
    let raw = (0..<4099).map { _ in Int16(truncatingIfNeeded: generator.next() as UInt64) }
    var fast = raw
    let range = fast.withUnsafeMutableBufferPointer {
        SeriesLoader.rescaleInPlace($0.baseAddress!, count: $0.count, samples: samples, slope: 1, intercept: intercept)
    }
    let expected = raw.withUnsafeBytes { bytes in
        (0..<raw.count).map { samples.value(bytes.baseAddress!, $0) + intercept }
    }
    #expect(fast == expected.map { Int16(truncatingIfNeeded: $0) })
    #expect(range.low == expected.min() && range.high == expected.max())
}
