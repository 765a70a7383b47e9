internal import CNIfTI
import Foundation
import VolumeCore

// Checks of a NIfTI header's stored values, made before any voxel is allocated or read.
// nifticlib repairs several of these values in silence (cnifti.h says which); here each one is
// refused by name, or kept with a warning that says what was assumed.

extension NIfTI {
    /// Where the voxels of a single-file image can start at the earliest: the header and its
    /// 4-byte extension flag (nifti1.h: "vox_offset ... should be at least 352"; nifti2.h: the
    /// 540-byte header, so 544).
    static func minimumVoxOffset(version: Int) -> Int { version == 2 ? 544 : 352 }

    /// The most a deflate stream expands: 1032 bytes out per byte in (a 258-byte match coded in
    /// 2 bits; zlib's technical notes, zlib.net/zlib_tech.html, "Maximum Compression Factor").
    /// It holds for any gzip file, however many members it has, so a claim beyond it is
    /// certainly false.
    static let maximumDeflateRatio = 1032

    /// The image size from dim as stored: dim[0] within 1...7, every dim[i] up to dim[0] at
    /// least 1 (nifticlib reads 0 or less as 1), and one 3D volume.
    static func checkedSize(_ raw: lct_nifti_header, path: String) throws(NIfTIError) -> Size3 {
        let dims = withUnsafeBytes(of: raw.dim) { Array($0.bindMemory(to: Int64.self)) }
        let rank = Int(dims[0])
        guard rank >= 1, rank <= 7 else {
            throw NIfTIError(path: path, message: "\(path): dim[0] = \(rank) is not a valid NIfTI rank")
        }
        if let axis = (1...rank).first(where: { dims[$0] <= 0 }) {
            throw NIfTIError(
                path: path,
                message:
                    "\(path): dim[\(axis)] = \(dims[axis]): an image with no voxels along an axis; the header is damaged"
            )
        }
        let extents = (1...7).map { $0 <= rank ? Int(dims[$0]) : 1 }
        if extents[3...].contains(where: { $0 > 1 }) {
            throw NIfTIError(
                path: path,
                message:
                    "\(path): a \(rank)D image (\(extents.prefix(rank).map(String.init).joined(separator: "×"))): lungct reads 3D volumes; extract one volume first (for example with fslroi)"
            )
        }
        return Size3(extents[0], extents[1], extents[2])
    }

    /// Refuses a header that claims more voxel data than its file can hold, before anything is
    /// allocated (a 1.3 MB file claiming 2.3 GB used to be zero-filled in full before the read
    /// came up short), and a single-file vox_offset inside the header (nifticlib then reads
    /// from byte 348, shifting every voxel).
    ///
    /// An uncompressed file must hold vox_offset + voxels × bytes per voxel. A gzip file is held
    /// to `maximumDeflateRatio` only, which refuses just what is certainly impossible: its
    /// trailer's ISIZE (the last 4 bytes) is the uncompressed size modulo 2^32 of the last member
    /// alone, so trusting it would refuse sound files over 4 GiB uncompressed and files written
    /// in several members (bgzip, concatenated .gz). The read still reports a shorter stream.
    static func checkVoxelDataFits(_ raw: lct_nifti_header, size: Size3, path: String) throws(NIfTIError) {
        let offset = Int(raw.vox_offset)
        let minimum = minimumVoxOffset(version: Int(raw.version))
        if raw.single_file != 0, Double(offset) != raw.stored_vox_offset || offset < minimum {
            throw NIfTIError(
                path: path,
                message:
                    "\(path): vox_offset = \(number(raw.stored_vox_offset)) cannot be where the voxels start (a single-file "
                    + "NIfTI-\(raw.version) keeps them after its first \(minimum) bytes); the header is damaged")
        }
        let fileBytes = Int(raw.data_file_bytes)
        guard fileBytes >= 0 else { return }  // Unknown: the read reports what is missing.
        var claim = Int(raw.bytes_per_voxel)
        var overflow = false
        for factor in [size.x, size.y, size.z] where !overflow {
            (claim, overflow) = claim.multipliedReportingOverflow(by: factor)
        }
        if !overflow { (claim, overflow) = claim.addingReportingOverflow(offset) }
        let gzipped = raw.data_gzipped != 0
        let (capacity, capped) = fileBytes.multipliedReportingOverflow(by: gzipped ? maximumDeflateRatio : 1)
        guard !capped, overflow || claim > capacity else { return }
        let holds =
            gzipped
            ? "the file is \(byteCount(fileBytes)) of gzip data, which inflate to at most \(byteCount(capacity)) "
                + "(deflate expands at most \(maximumDeflateRatio):1)"
            : "the file holds \(byteCount(fileBytes))"
        throw NIfTIError(
            path: path,
            message:
                "\(path): the header claims \(overflow ? "more than \(Int.max) bytes" : byteCount(claim)) (\(size.x)×\(size.y)×\(size.z) voxels of "
                + "\(raw.bytes_per_voxel) bytes after \(offset) header bytes), but \(holds); the file is truncated "
                + "or its header is damaged")
    }

    /// scl_slope and scl_inter as they will be applied; a slope of 0 means no scaling (NIfTI-1),
    /// and the intercept then does not count. A non-finite slope, or intercept with a slope set,
    /// is refused: nifticlib reads it as 0, which drops the scaling without a word.
    static func checkedScaling(_ raw: lct_nifti_header, path: String) throws(NIfTIError)
        -> (slope: Double, intercept: Double)
    {
        guard raw.scl_slope.isFinite else {
            throw NIfTIError(
                path: path,
                message:
                    "\(path): scl_slope = \(number(raw.scl_slope)): the voxel values cannot be scaled; the header is damaged"
            )
        }
        if raw.scl_slope == 0 { return (0, 0) }
        guard raw.scl_inter.isFinite else {
            throw NIfTIError(
                path: path,
                message:
                    "\(path): scl_inter = \(number(raw.scl_inter)): the voxel values cannot be scaled; the header is damaged"
            )
        }
        return (raw.scl_slope, raw.scl_inter)
    }

    /// A header value for a message, to 6 significant digits: NIfTI-1 stores float32, whose
    /// value in full as a Double (0.800000011920929) is not what the writer meant.
    static func number(_ value: Double) -> String { String(format: "%g", value) }

    /// A byte count for an error message: exact, with a rounded size beside it.
    static func byteCount(_ bytes: Int) -> String {
        let (scale, unit) = bytes >= 1_000_000_000 ? (1e9, "GB") : bytes >= 1_000_000 ? (1e6, "MB") : (1e3, "KB")
        return "\(bytes) bytes (\(String(format: "%.1f", Double(bytes) / scale)) \(unit))"
    }
}
