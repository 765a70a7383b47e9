internal import CDICOMObjects

/// What DCMTK reads back from a Segmentation: for checking what was written.
public struct SegmentationSummary: Sendable, Equatable {
    public var segments: Int
    public var frames: Int
    /// Per frame asked for: the pixels set and the segment the frame belongs to.
    public var setPixels: Int
    public var segmentNumber: Int
}

extension DICOMObjectWriter {
    /// Reads the Segmentation at `path` through DCMTK (DcmSegmentation::loadFile) and summarises
    /// frame `frame`.
    public static func readSegmentation(_ path: String, frame: Int) throws(DICOMObjectError) -> SegmentationSummary {
        var segments = 0
        var frames = 0
        var setPixels = 0
        var number: UInt16 = 0
        var message = [CChar](repeating: 0, count: 1024)
        let status = lct_obj_read_segmentation(
            path, max(0, frame), &segments, &frames, &setPixels, &number, &message, message.count)
        try check(status, path: path, message: message)
        return SegmentationSummary(segments: segments, frames: frames, setPixels: setPixels, segmentNumber: Int(number))
    }
}
