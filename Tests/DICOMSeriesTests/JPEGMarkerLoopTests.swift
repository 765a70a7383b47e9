import Dispatch
import Foundation
import TestSupport
import Testing

@testable import DICOMSeries

// Found by the dicom fuzz target: a JPEG-compressed slice whose stream holds a TEM marker (FF01)
// where DCMTK 3.6.7's scan for the bit depth walks made `lungct info --stats` spin forever
// (DJCodecDecoder::scanJpegDataForBitDepth does not step past FF01). The file is built here
// from a JPEG Lossless phantom slice with its start-of-image marker turned into FF01.

/// What a load on another thread came to; nil while it has not returned.
private final class Outcome: @unchecked Sendable {
    var error: (any Error)?
}

@Test func aJPEGStreamWithATEMMarkerIsRefusedInsteadOfHangingDCMTK() throws {
    let (phantom, options) = smallPhantom(size: 32, slices: 2)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory(), syntax: .jpegLossless)
    let file = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).sorted().first)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file)))
    // The stream's SOI, FF D8, is followed by its first marker segment (FF xx): DCMTK's walk
    // starts on SOI, which becomes FF 01.
    let soi = try #require(bytes.indices.first { bytes[$0...].starts(with: [0xFF, 0xD8, 0xFF]) })
    bytes[soi + 1] = 0x01
    try Data(bytes).write(to: URL(fileURLWithPath: folder + "/" + file))

    // On another thread, so that the old code's endless loop fails this test instead of hanging it.
    let outcome = Outcome()
    let finished = DispatchSemaphore(value: 0)
    Thread {
        do {
            _ = try loadOnlySeries(folder)
        } catch {
            outcome.error = error
        }
        finished.signal()
    }.start()
    guard finished.wait(timeout: .now() + 60) == .success else {
        Issue.record("loading the series did not return within 60 s (DCMTK looping on FF01)")
        return
    }
    let message = try #require(outcome.error.map { String(describing: $0) }, "the damaged slice loaded")
    #expect(message.contains("TEM marker (FF01)"))
    #expect(message.contains(file))
}
