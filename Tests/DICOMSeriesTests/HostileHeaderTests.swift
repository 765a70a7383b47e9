import Foundation
import TestSupport
import Testing
import VolumeCore

@testable import DICOMSeries

// Hostile numbers in a CT header: each used to trap (a Double → integer conversion of inf, NaN
// or 1e30) or to load a volume computed from a value lungct should have refused. Each file is
// built here from a phantom series and one tag patched with DCMTK's dcmodify.

/// A 4-slice phantom series; returns its folder and its files, top slice (instance 1) first.
func hostileSeries() throws -> (folder: String, files: [String]) {
    let (phantom, options) = smallPhantom(slices: 4)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { folder + "/" + $0 }
    return (folder, files)
}

/// Writes `value` into `tag` ("(gggg,eeee)") of each of `files` with dcmodify.
func patch(_ tag: String, to value: String, in files: [String]) throws {
    try runTool("dcmodify", ["-nb", "-m", "\(tag)=\(value)"] + files)
}

/// Scans, groups and judges the series in `folder`, and loads every series that was not
/// refused, as `lungct analyse` would: on the old code that load is where several values trapped.
func verdicts(_ folder: String) throws -> [SeriesCandidate] {
    let candidates = SeriesSelection.candidates(from: SeriesGrouping.group(try FolderScan.scan(folder).headers))
    for candidate in candidates {
        if let plan = candidate.plan { _ = try SeriesLoader.load(plan) }
    }
    return candidates
}

/// Expects every series in `folder` refused, the reason naming `expected`.
func expectRefused(_ folder: String, naming expected: String, sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    let candidates = try verdicts(folder)
    #expect(!candidates.isEmpty, sourceLocation: sourceLocation)
    for candidate in candidates {
        let rejection = candidate.rejection ?? "(not refused)"
        #expect(rejection.contains(expected), "\(rejection)", sourceLocation: sourceLocation)
    }
}

/// Rescale values a CT cannot have, in one slice of four. Before the fix: inf, 1e308 and -1e38
/// trapped in `Int32(_:)` in the int16 loader (the test process crashed); nan loaded a volume of
/// NaN HU (32767 once rounded) and 0 a constant volume, with no refusal.
@Test(
    .enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"),
    arguments: [
        ("(0028,1053)", "inf", "(0028,1053) Rescale Slope is inf"),
        ("(0028,1053)", "1e308", "(0028,1053) Rescale Slope is 1e+308"),
        ("(0028,1052)", "-1e38", "(0028,1052) Rescale Intercept is -1e+38"),
        ("(0028,1053)", "nan", "(0028,1053) Rescale Slope is nan"),
        ("(0028,1053)", "0", "(0028,1053) Rescale Slope is 0"),
        ("(0028,1052)", "-inf", "(0028,1052) Rescale Intercept is -inf"),
    ])
func absurdRescaleRefusesTheSeriesNamingTagAndValue(tag: String, value: String, expected: String) throws {
    let (folder, files) = try hostileSeries()
    try patch(tag, to: value, in: [files[1]])
    try expectRefused(folder, naming: expected + " (must be")
}

/// Positions no scanner writes. Before the fix each trapped in `Int64(_:)` while grouping
/// (`splitRepeatedAcquisitions` keys slices by position / 0.01 mm).
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func aNaNImagePositionRefusesTheSeries() throws {
    let (folder, files) = try hostileSeries()
    try patch("(0020,0032)", to: "-190\\nan\\0", in: [files[2]])
    try expectRefused(folder, naming: "(0020,0032) Image Position (Patient) is -190\\nan\\0 ")
}

/// Slices 1e30 mm apart: before the fix grouping trapped in `Int64(_:)` (1e30 / 0.01 mm).
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func slicePositionsSteppingBy1e30RefuseTheSeries() throws {
    let (folder, files) = try hostileSeries()
    for (index, file) in files.enumerated() {
        try patch("(0020,0032)", to: "-190\\-190\\\(index)e30", in: [file])
    }
    try expectRefused(folder, naming: "(0020,0032) Image Position (Patient) is -190\\-190\\1e+30 ")
}

/// The same positions handed straight to slice ordering (no grouping first): before the fix the
/// plan succeeded with a slice spacing of 1e30 mm (which the issue reports trapping later, where
/// segmentation converts millimetres to voxels).
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func slicePlanningRefusesPositionsOutOfRangeWithoutGrouping() throws {
    let (_, files) = try hostileSeries()
    var headers = try files.map { try DICOMHeader.read(path: $0) }
    for index in headers.indices {
        headers[index].imagePosition = Vector3(0, 0, Double(index) * 1e30)
    }
    guard case .failure(let refusal) = SliceStack.plan(headers) else {
        Issue.record("positions 1e30 mm apart must be refused")
        return
    }
    #expect(refusal.reason.contains("(0020,0032) Image Position (Patient) is 0\\0\\1e+30 "))
}

/// A NaN direction cosine: before the fix the slice normal was NaN and grouping trapped in
/// `Int64(_:)`.
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func aNaNImageOrientationRefusesTheSeries() throws {
    let (folder, files) = try hostileSeries()
    try patch("(0020,0037)", to: "1\\0\\0\\0\\nan\\0", in: files)
    try expectRefused(folder, naming: "(0020,0037) Image Orientation (Patient) is 1\\0\\0\\0\\nan\\0 ")
}

/// Pixel spacing far outside any CT: before the fix the series loaded with 1e-30 or 1e30 mm
/// voxels (which the issue reports trapping later, in segmentation and the overview), and a NaN
/// or zero spacing was refused as "no (0028,0030) Pixel Spacing", its value unnamed.
@Test(
    .enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"),
    arguments: [
        ("1e-30\\1e-30", "1e-30\\1e-30"), ("1e30\\1e30", "1e+30\\1e+30"), ("0.7\\nan", "0.7\\nan"),
        ("0\\0.7", "0\\0.7"),
    ])
func absurdPixelSpacingRefusesTheSeries(value: String, shown: String) throws {
    let (folder, files) = try hostileSeries()
    try patch("(0028,0030)", to: value, in: files)
    try expectRefused(folder, naming: "(0028,0030) Pixel Spacing is \(shown) (must be 0.01 to 100 mm)")
}

/// A single slice takes its thickness as the slice spacing: before the fix 1e-30 mm was used.
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func aSingleSliceWithAbsurdThicknessIsRefused() throws {
    let (folder, files) = try hostileSeries()
    for file in files.dropFirst() { try FileManager.default.removeItem(atPath: file) }
    try patch("(0018,0050)", to: "1e-30", in: [files[0]])
    try expectRefused(folder, naming: "(0018,0050) Slice Thickness is 1e-30 (must be 0.01 to 100 mm)")
}

/// The loader checks the rescale it decodes with, not only the one planned with: a file
/// rewritten between planning and loading used to trap in `Int32(_:)` the same way.
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func aRescaleChangedAfterPlanningIsRefusedByTheLoader() throws {
    let (folder, files) = try hostileSeries()
    let plan = try #require(try verdicts(folder).first?.plan)
    try patch("(0028,1053)", to: "inf", in: [files[3]])
    #expect {
        _ = try SeriesLoader.load(plan)
    } throws: { error in
        (error as? DICOMError)?.message.contains("(0028,1053) Rescale Slope is inf") == true
    }
}

/// A file replaced between planning and loading by one of another size is refused by the
/// loader, naming it: before, the planned slice's buffer was filled from the first bytes of the
/// other image without a word.
@Test func aSliceReplacedByOneOfAnotherSizeAfterPlanningIsRefusedByTheLoader() throws {
    let (folder, files) = try hostileSeries()
    let plan = try #require(try verdicts(folder).first?.plan)
    let (larger, options) = smallPhantom(size: 64, slices: 4)
    let other = try writePhantom(larger, options: options, to: try temporaryDirectory())
    let replacement = try #require(try FileManager.default.contentsOfDirectory(atPath: other).sorted().first)
    try FileManager.default.removeItem(atPath: files[2])
    try FileManager.default.copyItem(atPath: other + "/" + replacement, toPath: files[2])
    #expect {
        _ = try SeriesLoader.load(plan)
    } throws: { error in
        let message = (error as? DICOMError)?.message ?? ""
        return message.contains(files[2]) && message.contains("pixel layout changed") && message.contains("64×64")
    }
}

/// Normal files load exactly as before: the phantom's own series to the same int16 voxels with
/// no warning, a legal integral rescale (slope 2) through int16, and the largest slope accepted
/// through float32, every value exact, as HU beyond int16 always were.
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func normalAndUnusualButLegalRescalesLoadAsBefore() throws {
    let (phantom, options) = smallPhantom(slices: 4)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { folder + "/" + $0 }
    let normal = try #require(try verdicts(folder).first)
    #expect(normal.rejection == nil)
    let plan = try #require(normal.plan)
    #expect(plan.warnings.isEmpty && plan.corrections.isEmpty)
    #expect(try SeriesLoader.load(plan).asInt16.voxels == phantom.ct.voxels)

    // Stored = HU + 1024; with slope 2 and intercept -2048 the HU double.
    try patch("(0028,1053)", to: "2", in: files)
    try patch("(0028,1052)", to: "-2048", in: files)
    guard case .int16(let doubled) = try loadOnlySeries(folder).0 else { throw TestFailure("expected int16 HU") }
    #expect(doubled.voxels == phantom.ct.voxels.map { 2 * $0 })

    let slope = RescaleLimits.maximumSlope
    try patch("(0028,1053)", to: "\(slope)", in: files)
    try patch("(0028,1052)", to: "0", in: files)
    guard case .float32(let wide) = try loadOnlySeries(folder).0 else { throw TestFailure("expected float32 HU") }
    #expect(wide.voxels == phantom.ct.voxels.map { Float(slope * (Double($0) + 1024)) })
}

/// Rows and Columns of 65535 with 2^31 − 1 frames: the bytes the header claims overflowed Int
/// and the scan trapped before it could compare them with the pixel data it holds.
@Test(.enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"))
func aFrameCountOverflowingTheByteCountIsSetAsideAsCorrupt() throws {
    let (folder, files) = try hostileSeries()
    try runTool(
        "dcmodify",
        ["-nb", "-i", "(0028,0008)=2147483647", "-m", "(0028,0010)=65535", "-m", "(0028,0011)=65535", files[0]])
    let scan = try FolderScan.scan(folder)
    #expect(scan.headers.count == files.count - 1)
    let skipped = try #require(scan.skipped.first { $0.path == files[0] })
    #expect(skipped.damaged && skipped.reason.contains("2147483647 frames need more than"))
}
