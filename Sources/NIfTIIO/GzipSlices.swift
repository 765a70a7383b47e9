import AppSupport
internal import CNIfTI
import Dispatch
import Foundation

/// A .nii.gz's voxels written as gzip members, one per z slice, compressed on every core.
///
/// A gzip file is a series of members, each a complete gzip stream (RFC 1952, 2.2), and every
/// reader of .nii.gz (zlib's gzread, which nifticlib, ITK and dcm2niix use; Python's gzip, which
/// nibabel uses; GNU gzip) decompresses them as one stream, as it does the blocks that bgzip
/// writes. One stream through gzopen, as nifticlib writes it, keeps one core busy for the whole
/// volume (0.9 s for a 314 MB probability map); members can be made side by side, and an
/// all-zero slice (a map outside the lungs) is compressed once and repeated.
enum GzipSlices {
    /// Slices compressed per parallel batch: enough to keep both cores busy between the
    /// writes, few enough that the batch's compressed bytes stay small beside the volume.
    static let slicesPerBatch = 16

    /// Appends `volume` (whole slices of `sliceBytes`) to the file at `path`, one gzip member
    /// per slice, in slice order.
    static func append(_ volume: UnsafeRawBufferPointer, sliceBytes: Int, to path: String) throws(NIfTIError) {
        guard let file = fopen(path, "ab") else {
            throw NIfTIError(path: path, message: "\(path): cannot open to append the voxels: \(errorText())")
        }
        var closed = false
        defer { if !closed { fclose(file) } }
        let bound = lct_gzip_member_bound(sliceBytes)
        guard bound > 0 else { throw NIfTIError(path: path, message: "\(path): zlib could not start") }
        let slices = sliceBytes > 0 ? volume.count / sliceBytes : 0
        let shared = SharedBytes(bytes: volume)
        var zeroMember: [UInt8]?
        for first in stride(from: 0, to: slices, by: slicesPerBatch) {
            let count = min(slicesPerBatch, slices - first)
            let members = Slots<Member>(count: count, initial: .zero)
            DispatchQueue.concurrentPerform(iterations: count) { index in
                let start = (first + index) * sliceBytes
                members.set(
                    index,
                    compress(UnsafeRawBufferPointer(rebasing: shared.bytes[start..<start + sliceBytes]), bound: bound))
            }
            for index in 0..<count {
                var bytes: [UInt8]
                switch members.get(index) {
                case .bytes(let compressed): bytes = compressed
                case .zero:
                    if zeroMember == nil {
                        let zeros = [UInt8](repeating: 0, count: sliceBytes)
                        zeroMember = zeros.withUnsafeBytes { compress($0, bound: bound, zeroCheck: false) }.bytes
                    }
                    guard let zeroMember else {
                        throw NIfTIError(path: path, message: "\(path): zlib failed on an all-zero slice")
                    }
                    bytes = zeroMember
                case .failed(let status):
                    throw NIfTIError(
                        path: path, message: "\(path): zlib failed (status \(status)) on slice z = \(first + index)")
                }
                guard !bytes.isEmpty, fwrite(&bytes, 1, bytes.count, file) == bytes.count else {
                    throw NIfTIError(
                        path: path, message: "\(path): writing the voxels failed (disk full?): \(errorText())")
                }
            }
        }
        closed = true
        guard fclose(file) == 0 else {
            throw NIfTIError(path: path, message: "\(path): closing the file failed (disk full?): \(errorText())")
        }
    }

    /// One slice as a gzip member, or `.zero` when every byte is zero (and `zeroCheck`).
    private static func compress(_ slice: UnsafeRawBufferPointer, bound: Int, zeroCheck: Bool = true) -> Member {
        if zeroCheck, slice.isAllZero { return .zero }
        var status = Int32(0)
        let bytes = [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
            var written = 0
            status = lct_gzip_member(slice.baseAddress, slice.count, buffer.baseAddress, bound, &written)
            initialized = status == 0 ? written : 0
        }
        return status == 0 ? .bytes(bytes) : .failed(status)
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }

    /// A slice after compression.
    private enum Member: Sendable {
        case bytes([UInt8])
        case zero
        case failed(Int32)

        var bytes: [UInt8]? {
            if case .bytes(let bytes) = self { bytes } else { nil }
        }
    }

    /// The volume's bytes, read by the workers of one batch and written by none: that is what
    /// makes the unchecked Sendable sound.
    private struct SharedBytes: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
    }
}
