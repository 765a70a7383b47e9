import Foundation

/// Transparent huge pages for the large buffers of a study (a 512×512×300 volume is 150 MB,
/// 38,400 pages of 4 KiB): on Linux, where the kernel gives 2 MiB pages only to memory that asks
/// for them (`/sys/kernel/mm/transparent_hugepage/enabled` set to "madvise", as on Debian), a
/// buffer that asks takes one page fault per 2 MiB instead of one per 4 KiB when it is first
/// written, and is unmapped as fast. Only advice: elsewhere, or when the kernel has no huge page
/// at hand, the buffer keeps small pages.
public enum HugePages {
    /// Buffers smaller than this are left alone (a huge page would be mostly empty).
    static let smallestAdvised = 8 << 20

    /// Asks for huge pages on the whole 2 MiB-aligned part of `buffer`; call it before the buffer
    /// is first written.
    public static func advise(_ buffer: UnsafeMutableRawBufferPointer) {
        #if os(Linux)
            guard let base = buffer.baseAddress, buffer.count >= smallestAdvised else { return }
            let huge = 2 << 20
            let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
            let end = (Int(bitPattern: base) + buffer.count) & ~(huge - 1)
            guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
            _ = madvise(aligned, end - start, MADV_HUGEPAGE)
        #endif
    }
}
