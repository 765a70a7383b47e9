import Foundation

// The formats archives store, made from a classic phantom series with real tools: JPEG 2000
// with GDCM's gdcmconv, (legacy-converted) enhanced multi-frame CT with highdicom.

/// Copies every file of `folder` into a new folder `output` through GDCM's gdcmconv: JPEG 2000
/// (`gdcmconv --j2k`: lossless, 1.2.840.10008.1.2.4.90), or lossy (`--lossy -q QUALITY`: .91);
/// any other gdcmconv options with `options`. Tests that call it are gated on
/// `hasTool("gdcmconv")`.
@discardableResult
public func gdcmconvCopy(of folder: String, to output: String, options: [String]) throws -> String {
    try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
    for name in try FileManager.default.contentsOfDirectory(atPath: folder).sorted() {
        try runTool("gdcmconv", options + [folder + "/" + name, output + "/" + name])
    }
    return output
}

/// How `enhancedCT(from:to:variant:)` builds its object.
public enum EnhancedCTVariant: String, Sendable {
    /// highdicom's LegacyConvertedEnhancedCTImage as it makes it (orientation, pixel measures
    /// and rescale shared, positions per frame), in a new series.
    case legacyConverted = "legacy"
    /// The same, under the classic files' own Series Instance UID.
    case legacyConvertedSameSeries = "legacy-same-series"
    /// The legacy-converted object relabelled Enhanced CT Image Storage (1.2.840.10008.5.1.4.1.1.2.1)
    /// with every group per frame, the frames stored in reverse order, and a rescale intercept
    /// that differs frame by frame (the stored values shifted to keep the HU): the same volume
    /// through every path the reader has. Not a complete Enhanced CT IOD (highdicom writes none).
    case enhancedPerFrame = "enhanced"
}

/// Converts the classic CT series in `folder` into one multi-frame object at `output` with
/// highdicom (`pythonWithHighdicom`; tests that call it are gated on it).
@discardableResult
public func enhancedCT(from folder: String, to output: String, variant: EnhancedCTVariant) throws -> String {
    guard let python = pythonWithHighdicom else { throw TestFailure("no Python with highdicom") }
    let script = try temporaryDirectory() + "/enhanced.py"
    try enhancedCTScript.write(toFile: script, atomically: true, encoding: .utf8)
    try runTool(python, [script, folder, output, variant.rawValue])
    return output
}

private let enhancedCTScript = """
    import copy, glob, sys
    import highdicom, numpy, pydicom
    from highdicom.legacy import LegacyConvertedEnhancedCTImage

    source, output, variant = sys.argv[1:4]
    slices = [pydicom.dcmread(path) for path in sorted(glob.glob(source + "/*.dcm"))]
    series = slices[0].SeriesInstanceUID if variant == "legacy-same-series" else highdicom.UID()
    image = LegacyConvertedEnhancedCTImage(
        slices, series_instance_uid=series, series_number=99, sop_instance_uid=highdicom.UID(), instance_number=1)
    if variant == "enhanced":
        image.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
        image.file_meta.MediaStorageSOPClassUID = image.SOPClassUID
        shared = image.SharedFunctionalGroupsSequence[0]
        moved = [key for key in ("PlaneOrientationSequence", "PixelMeasuresSequence", "PixelValueTransformationSequence") if key in shared]
        frames = image.pixel_array.astype(numpy.int32)
        items = list(image.PerFrameFunctionalGroupsSequence)
        for k, item in enumerate(items):
            for key in moved:
                setattr(item, key, copy.deepcopy(shared[key].value))
            transform = item.PixelValueTransformationSequence[0]
            transform.RescaleIntercept = str(int(float(transform.RescaleIntercept)) - k)
            frames[k] += k
        for key in moved:
            delattr(shared, key)
        order = list(reversed(range(len(items))))
        image.PerFrameFunctionalGroupsSequence = [items[k] for k in order]
        image.PixelData = frames[order].astype(numpy.uint16).tobytes()
    image.save_as(output)
    """
