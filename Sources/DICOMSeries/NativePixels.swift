internal import CDCMTK
import Foundation

/// Where a native (uncompressed, little-endian, undeflated) image's (7FE0,0010) Pixel Data value
/// lies in its file, as the header scan's DCMTK parse found it, and which file that was (device,
/// inode, size, modification time). The pixel load then reads the value with one `pread` into
/// its output plane instead of opening and parsing the file a second time; a file that is no
/// longer the one scanned is read through DCMTK again, which reports what changed.
struct NativePixelData: Sendable, Hashable {
    let offset: UInt64
    let device, inode, size: UInt64
    let modifiedNanoseconds: Int64

    /// The place `lct_dcm_read_header` noted, or nil when it noted none.
    init?(_ h: lct_dicom_header) {
        guard h.pixel_data_offset > 0 else { return nil }
        (offset, device, inode, size) = (h.pixel_data_offset, h.file_device, h.file_inode, h.file_size)
        modifiedNanoseconds = h.file_modified_ns
    }

    /// Whether `status` (from `fstat`) describes the file this place was noted in.
    func describes(_ status: stat) -> Bool {
        UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode && UInt64(status.st_size) == size
            && Int64(status.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(status.st_mtim.tv_nsec) == modifiedNanoseconds
    }

    /// The file at `path` opened for reading, when it is still the scanned one; nil otherwise
    /// (gone, replaced, rewritten), for the caller to read it through DCMTK instead.
    func open(_ path: String) -> Int32? {
        let descriptor = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, describes(status) else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Reads frame `frame` of `header`'s pixel data (`buffer` holds exactly one frame) from the
    /// open `descriptor`: the frame's bytes straight from their offset in the file.
    func read(
        frame: Int, of header: DICOMHeader, from descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer
    ) throws(DICOMError) {
        let name = header.imageName
        let (start, overflow) = buffer.count.multipliedReportingOverflow(by: frame)
        guard let length = header.pixelDataLength, !overflow, frame >= 0, start <= length - buffer.count else {
            throw DICOMError(
                .badPixelSize, path: header.path,
                message:
                    "\(name): pixel data holds \(header.pixelDataLength ?? 0) bytes, too few for frame \(frame + 1) of \(buffer.count) bytes (truncated file?)"
            )
        }
        var done = 0
        while done < buffer.count {
            let got = pread(
                descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(start + done))
            if got > 0 {
                done += got
            } else if got < 0 && errno == EINTR {
                continue
            } else {
                let reason = got == 0 ? "the file ends early" : String(cString: strerror(errno))
                throw DICOMError(
                    .unreadable, path: header.path,
                    message: "\(name): cannot read (7FE0,0010) Pixel Data: \(reason) (truncated file?)")
            }
        }
    }
}
