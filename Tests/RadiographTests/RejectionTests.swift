import Foundation
import ImageCodecs
import Radiograph
import TestSupport
import Testing

/// Loads `path` expecting a `RadiographError`; returns it, or nil (and records an issue) when
/// loading succeeded or threw something else.
func loadError(_ path: String) -> RadiographError? {
    do {
        _ = try RadiographLoader.load(path: path)
        Issue.record("\(path) loaded, but should have been refused")
        return nil
    } catch {
        return error
    }
}

@Test func absurdPNGSizeIsRefusedBeforeDecoding() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    // Signature and the start of an IHDR claiming 60000×60000, nothing else: had the loader
    // gone on to decode, libpng would have failed with "undecodable" on the missing data.
    let header: [UInt8] =
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        + RawPNG.bigEndian(60000) + RawPNG.bigEndian(60000)
    #expect(header.count == 24)
    let path = folder + "/huge.png"
    try Data(header).write(to: URL(fileURLWithPath: path))

    let error = loadError(path)
    #expect(error?.kind == .tooLarge)
    #expect(error?.description.contains(path) == true)
    #expect(error?.description.contains("60000×60000") == true)
}

/// 16000×16000 fits the memory limit for volumes (8 GiB) but is no radiograph: a 249 KB PNG
/// claiming it made analyze peak at 4.3 GB. It is refused from its header.
@Test func aPNGClaimingSixteenThousandPixelsASideIsRefusedBeforeDecoding() throws {
    let folder = try temporaryDirectory()
    let header: [UInt8] =
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        + RawPNG.bigEndian(16000) + RawPNG.bigEndian(16000)
    let path = folder + "/wide.png"
    try Data(header).write(to: URL(fileURLWithPath: path))
    let error = loadError(path)
    #expect(error?.kind == .tooLarge)
    #expect(error?.description.contains("16000×16000") == true && error?.description.contains(path) == true)
}

@Test func randomBytesAreRefusedNamingTheFile() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var random = SplitMix64(state: 42)
    var bytes = random.bytes(4096)
    bytes[0] = 0x42  // neither the PNG signature's 0x89 nor JPEG's 0xFF
    let path = folder + "/noise.bin"
    try Data(bytes).write(to: URL(fileURLWithPath: path))

    let error = loadError(path)
    #expect(error?.kind == .unknownFormat)
    #expect(error?.description.hasPrefix(path) == true)
}

@Test func tinyEmptyAndMissingFilesAreRefused() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let tiny = folder + "/tiny.png"
    try PNGWriter.write(path: tiny, width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: 9, count: 64))
    let tinyError = loadError(tiny)
    #expect(tinyError?.kind == .tooSmall)
    #expect(tinyError?.description.contains(tiny) == true)

    let empty = folder + "/empty.jpg"
    #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
    #expect(loadError(empty)?.kind == .tooSmall)

    let missing = folder + "/missing.png"
    let missingError = loadError(missing)
    #expect(missingError?.kind == .unreadable)
    #expect(missingError?.description.contains(missing) == true)

    #expect(loadError(folder)?.kind == .unreadable)
}

@Test func truncatedPNGIsRefusedNamingTheFile() throws {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/cut.png"
    var random = SplitMix64(state: 3)
    try PNGWriter.write(path: path, width: 300, height: 300, channels: 1, pixels: random.bytes(300 * 300))
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))

    let error = loadError(path)
    #expect(error?.kind == .undecodable)
    #expect(error?.description.hasPrefix(path) == true)
}
