import DICOMSeries
import Foundation
import TestSupport
import Testing

// Enhanced CT objects whose frame count or functional groups contradict their pixel data, made
// from a legacy-converted phantom with one attribute patched by DCMTK's dcmodify: each is set
// aside by the scan with a reason naming the file, and nothing is allocated from the bad value.

/// A legacy-converted enhanced CT of a 12-slice phantom (native pixel data, or through
/// `gdcmconv options`), patched by `dcmodify arguments`; returns its folder.
func patchedEnhancedCT(gdcmconv options: [String] = [], dcmodify arguments: [String]) throws -> String {
    let classic = try classicSeries()
    let work = try temporaryDirectory()
    try FileManager.default.createDirectory(atPath: work + "/native", withIntermediateDirectories: true)
    try enhancedCT(from: classic.folder, to: work + "/native/legacy.dcm", variant: .legacyConverted)
    let folder =
        options.isEmpty ? work + "/native" : try gdcmconvCopy(of: work + "/native", to: work + "/c", options: options)
    try runTool("dcmodify", ["-nb"] + arguments + [folder + "/legacy.dcm"])
    return folder
}

let multiFrameTools =
    pythonWithHighdicom != nil && hasTool("dcmodify") && hasTool("gdcmconv")

@Test(
    .enabled(if: multiFrameTools, "needs highdicom, dcmodify and gdcmconv"),
    arguments: [
        ("0", "(0028,0008) Number of Frames is 0 in a multi-frame"),
        ("-3", "(0028,0008) Number of Frames is -3 in a multi-frame"),
        ("2000000000", "× 2000000000 frames need 6400000000000 bytes but (7FE0,0010) Pixel Data holds 38400"),
        ("6", "(5200,9230) Per-Frame Functional Groups Sequence holds 12 items but (0028,0008) Number of Frames is 6"),
    ])
func anEnhancedCTWhoseNumberOfFramesIsWrongIsSetAsideByName(frames: String, reason: String) throws {
    let folder = try patchedEnhancedCT(dcmodify: ["-m", "(0028,0008)=\(frames)"])
    let why = try skipReason(folder)
    #expect(why.hasPrefix(folder + "/legacy.dcm: "))
    #expect(why.contains(reason), "\(why)")
}

@Test(.enabled(if: multiFrameTools, "needs highdicom, dcmodify and gdcmconv"))
func aJPEG2000EnhancedCTWithMoreFramesThanFragmentsIsSetAside() throws {
    let folder = try patchedEnhancedCT(gdcmconv: ["--j2k"], dcmodify: ["-m", "(0028,0008)=30"])
    let why = try skipReason(folder)
    #expect(
        why.contains(
            "(0028,0008) Number of Frames is 30 but its compressed (7FE0,0010) Pixel Data holds 12 fragment(s)"))
}

@Test(.enabled(if: multiFrameTools, "needs highdicom, dcmodify and gdcmconv"))
func anEnhancedCTFrameWithoutAPositionIsSetAsideNamingTheFrame() throws {
    let folder = try patchedEnhancedCT(dcmodify: ["-e", "(5200,9230)[3].(0020,9113)"])
    let why = try skipReason(folder)
    #expect(
        why.contains(
            "\(folder)/legacy.dcm, frame 4 of 12: no (0020,0032) Image Position (Patient) in a (0020,9113) Plane Position Sequence"
        ))
}

/// A frame count above `FrameLimits.maximumFrames` is refused from the header alone, before the
/// per-frame table is allocated or the functional groups are read.
@Test(.enabled(if: pythonWithHighdicom != nil, "needs pydicom and highdicom (make test-venv)"))
func anEnhancedCTWithMoreFramesThanTheLimitIsRefusedBeforeReadingItsGroups() throws {
    let classic = try classicSeries()
    let file = try temporaryDirectory() + "/legacy.dcm"
    try enhancedCT(from: classic.folder, to: file, variant: .legacyConverted)
    var header = try DICOMHeader.read(path: file)
    #expect(header.readsAsFrames && header.declaredNumberOfFrames == 12)
    header.declaredNumberOfFrames = FrameLimits.maximumFrames + 1
    let error = #expect(throws: DICOMError.self) { try header.frames() }
    #expect(error?.kind == .tooLarge)
    #expect(error?.message.contains("more than the \(FrameLimits.maximumFrames) frames") == true)
}
