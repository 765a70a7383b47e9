internal import CDCMTK
import Foundation
import VolumeCore

/// Bounds on a multi-frame object's frames, checked against its header before anything is
/// allocated for them.
public enum FrameLimits {
    /// The most frames one enhanced CT object may hold: 16384. At 512×512 int16 that is the
    /// 8 GiB a volume may take (`VolumeLimits.maximumBytes`); the thinnest clinical CT, 0.25 mm
    /// slices over 2 m, is 8000 frames.
    public static let maximumFrames = 16384
}

extension SOPClass {
    /// The multi-frame SOP classes whose frames lungct reads as the slices of one CT volume
    /// (PS3.4 B.5): Enhanced CT Image Storage and Legacy Converted Enhanced CT Image Storage.
    public static let multiFrameCT: Set<String> = [enhancedCTImage, legacyConvertedEnhancedCTImage]
}

extension DICOMHeader {
    /// Whether this file's frames are read as slices: an enhanced (or legacy-converted enhanced)
    /// CT object with functional groups to place them.
    public var readsAsFrames: Bool { SOPClass.multiFrameCT.contains(sopClassUID) && hasFunctionalGroups }

    /// The image this header stands for: its SOP Instance UID, and the frame for a frame of a
    /// multi-frame object. Two headers with one key are copies of the same image.
    public var imageKey: String { frameIndex.map { "\(sopInstanceUID)#\($0)" } ?? sopInstanceUID }

    /// The file and, for a frame, which one, as messages name them.
    public var imageName: String {
        guard let frameIndex else { return path }
        return "\(path), frame \(frameIndex + 1) of \(numberOfFrames)"
    }

    /// The images of one file: its header, or for an enhanced CT object (`readsAsFrames`) one
    /// header per frame, each with the frame's position, orientation, pixel measures and rescale
    /// from its functional groups (`frames()`).
    public static func readImages(path: String) throws(DICOMError) -> [DICOMHeader] {
        let header = try read(path: path)
        return header.readsAsFrames ? try header.frames() : [header]
    }

    /// One header per frame of this enhanced CT object, read through DCMTK's functional groups
    /// (dcmfg): (0020,9113) Plane Position, (0020,9116) Plane Orientation, (0028,9110) Pixel
    /// Measures and (0028,9145) Pixel Value Transformation, per frame where the frame has its
    /// own, else shared (PS3.3 C.7.6.16). Refuses, naming the file: a (0028,0008) Number of
    /// Frames that is missing, below 1 or above `FrameLimits.maximumFrames`; encapsulated pixel
    /// data with fewer fragments than frames; a per-frame sequence that does not hold one item
    /// per frame; a frame without a position or orientation.
    public func frames() throws(DICOMError) -> [DICOMHeader] {
        let count = try checkedFrameCount()
        var values = [lct_frame_values](repeating: lct_frame_values(), count: count)
        var message = [CChar](repeating: 0, count: 1024)
        let status = lct_dcm_read_frame_values(
            path, DeflateLimits.maximumInflatedBytes, &values, count, &message, message.count)
        try check(status, path: path, message: message)
        return try values.enumerated().map { (index, frame) throws(DICOMError) in
            try self.frame(index, values: frame)
        }
    }

    /// (0028,0008) Number of Frames, once it is plausible for this object.
    func checkedFrameCount() throws(DICOMError) -> Int {
        guard let declared = declaredNumberOfFrames, declared >= 1 else {
            let value = declaredNumberOfFrames.map { "is \($0)" } ?? "is missing"
            throw DICOMError(
                .badPixelSize, path: path,
                message: "\(path): (0028,0008) Number of Frames \(value) in a multi-frame \(sopClassName) object")
        }
        guard declared <= FrameLimits.maximumFrames else {
            throw DICOMError(
                .tooLarge, path: path,
                message:
                    "\(path): (0028,0008) Number of Frames is \(declared), more than the \(FrameLimits.maximumFrames) frames lungct reads from one object"
            )
        }
        return declared
    }

    /// The header of frame `index`, with the values its functional groups give.
    func frame(_ index: Int, values v: lct_frame_values) throws(DICOMError) -> DICOMHeader {
        var frame = self
        frame.frameIndex = index
        guard v.has_image_position != 0, v.has_image_orientation != 0 else {
            let missing =
                v.has_image_position == 0
                ? "(0020,0032) Image Position (Patient) in a (0020,9113) Plane Position Sequence"
                : "(0020,0037) Image Orientation (Patient) in a (0020,9116) Plane Orientation Sequence"
            throw DICOMError(
                .unreadable, path: path,
                message:
                    "\(frame.imageName): no \(missing), per-frame or shared: the frame cannot be placed; not read")
        }
        frame.imagePosition = Vector3(v.image_position.0, v.image_position.1, v.image_position.2)
        let o = v.image_orientation
        frame.rowDirection = Vector3(o.0, o.1, o.2)
        frame.columnDirection = Vector3(o.3, o.4, o.5)
        if v.has_pixel_spacing != 0 { frame.pixelSpacing = (v.pixel_spacing.0, v.pixel_spacing.1) }
        if v.has_slice_thickness != 0 { frame.sliceThickness = v.slice_thickness }
        if v.has_rescale_slope != 0 { frame.rescaleSlope = v.rescale_slope }
        if v.has_rescale_intercept != 0 { frame.rescaleIntercept = v.rescale_intercept }
        return frame
    }

    /// This header as its pixels were decoded (`decoded`: the pixel layout, refreshed by the
    /// decoder) with this frame's place and rescale, which only the functional groups hold.
    func keepingFrameValues(in decoded: DICOMHeader) -> DICOMHeader {
        guard let frameIndex else { return decoded }
        var merged = decoded
        merged.frameIndex = frameIndex
        merged.imagePosition = imagePosition
        merged.rowDirection = rowDirection
        merged.columnDirection = columnDirection
        merged.pixelSpacing = pixelSpacing
        merged.sliceThickness = sliceThickness
        merged.rescaleSlope = rescaleSlope
        merged.rescaleIntercept = rescaleIntercept
        return merged
    }
}

/// An open DICOM file whose frames are read one at a time: native pixel data whose place the
/// scan noted (`NativePixelData`) with `pread` from an open descriptor, everything else through
/// DCMTK (`lct_dcm_open_pixels`). The frames of a multi-frame object are read in runs, one open
/// (and at most one header parse) per run. Used by one thread at a time.
final class PixelFile {
    let path: String
    private let source: Source

    private enum Source {
        case dcmtk(OpaquePointer)
        /// The descriptor, and the place the scan noted in this file.
        case native(Int32, NativePixelData)
    }

    /// The file of `header`: read natively when the scan noted where its pixel data lies and the
    /// file is still the one scanned, else through DCMTK.
    convenience init(for header: DICOMHeader) throws(DICOMError) {
        if let place = header.nativePixelData, let descriptor = place.open(header.path) {
            self.init(path: header.path, source: .native(descriptor, place))
        } else {
            try self.init(path: header.path)
        }
    }

    /// The file at `path`, read through DCMTK.
    convenience init(path: String) throws(DICOMError) {
        var opened: OpaquePointer?
        var message = [CChar](repeating: 0, count: 1024)
        let status = lct_dcm_open_pixels(path, DeflateLimits.maximumInflatedBytes, &opened, &message, message.count)
        try check(status, path: path, message: message)
        guard let opened else {
            throw DICOMError(.internalError, path: path, message: "\(path): DCMTK returned no file")
        }
        self.init(path: path, source: .dcmtk(opened))
    }

    private init(path: String, source: Source) {
        self.path = path
        self.source = source
    }

    deinit {
        switch source {
        case .dcmtk(let handle): lct_dcm_close_pixels(handle)
        case .native(let descriptor, _): close(descriptor)
        }
    }

    /// Reads the stored samples of `header`'s frame (frame 0 for a single-frame file) into
    /// `buffer`, which holds exactly one frame, and returns the header as decoded, with the
    /// frame's own place and rescale kept. Native pixel data is as the scan found it, so its
    /// header is `header` itself.
    func read(_ header: DICOMHeader, into buffer: UnsafeMutableRawBufferPointer) throws(DICOMError) -> DICOMHeader {
        switch source {
        case .native(let descriptor, let place) where header.nativePixelData == place:
            try place.read(frame: header.frameIndex ?? 0, of: header, from: descriptor, into: buffer)
            return header
        case .native:
            // A header of another file than the one opened: a caller's mistake, read as DCMTK would.
            return try PixelFile(path: header.path).read(header, into: buffer)
        case .dcmtk(let handle):
            var refreshed = lct_dicom_header()
            var message = [CChar](repeating: 0, count: 1024)
            let status = lct_dcm_read_frame(
                handle, UInt32(header.frameIndex ?? 0), buffer.baseAddress, buffer.count, &refreshed, &message,
                message.count)
            try check(status, path: path, message: message)
            return header.keepingFrameValues(in: DICOMHeader(refreshed, path: path))
        }
    }
}
