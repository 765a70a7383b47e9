import AppSupport
import VolumeCore

/// A radiograph lungct could not read, with the file and what to do about it.
public typealias RadiographError = KindedFileError<RadiographErrorKind>

/// What went wrong with a radiograph.
public enum RadiographErrorKind: Sendable, Equatable {
    /// The file cannot be opened or read.
    case unreadable
    /// Neither PNG, JPEG nor DICOM.
    case unknownFormat
    /// The format is known but the decoder failed (libpng, libjpeg or DCMTK message attached).
    case undecodable
    /// The header asks for more memory than lungct allows (`VolumeLimits.maximumBytes`).
    case tooLarge
    /// Empty, or a side shorter than `RadiographLimits.minimumSide`.
    case tooSmall
    /// Readable, but not something lungct analyses as a radiograph (multi-frame, CT, palette DICOM, ...).
    case unsupported
}

/// Refuses empty, tiny and absurd images from their header size, before anything is decoded.
/// `bytesPerPixel` is the peak memory per pixel while decoding (decoder buffer plus outputs).
func checkSize(width: Int, height: Int, bytesPerPixel: Int, path: String) throws(RadiographError) {
    guard max(width, height) <= RadiographLimits.maximumSide else {
        throw RadiographError(
            .tooLarge, path: path,
            message:
                "the header claims \(width)×\(height) pixels; a chest radiograph has at most \(RadiographLimits.maximumSide) on a side, so lungct does not decode it"
        )
    }
    let size = Size3(width, height, 1)
    do {
        try VolumeLimits.checkAllocation(size, bytesPerVoxel: bytesPerPixel, source: path)
    } catch {
        switch error {
        case .emptySize: throw RadiographError(.tooSmall, path: path, message: error.description)
        default: throw RadiographError(.tooLarge, path: path, message: error.description)
        }
    }
    guard min(width, height) >= RadiographLimits.minimumSide else {
        throw RadiographError(
            .tooSmall, path: path,
            message:
                "the image is \(width)×\(height) pixels; lungct needs at least \(RadiographLimits.minimumSide) pixels on each side to find a lung field (is this a thumbnail or icon?)"
        )
    }
}
