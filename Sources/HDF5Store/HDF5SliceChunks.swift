import AppSupport
internal import CHDF5
import Dispatch
import Foundation

// A volume's chunks (one per z slice) compressed by lungct on every core and handed to HDF5
// ready-made. HDF5 runs a dataset's filters on the one thread that calls H5Dwrite, and that
// made study.h5 the slowest output of `analyze` (about 2 s of a 512×512×300 CT's run). The two
// filters lungct declares, shuffle then deflate, are fixed and simple, so lungct applies them
// itself, many slices at once, and stores the result with the direct chunk write. The dataset
// still declares the same pipeline, so h5py and h5dump undo it with their built-in filters.

extension HDF5File {
    /// Writes every chunk of a (z, y, x) dataset created with one chunk per z slice and the
    /// shuffle and deflate filters, compressing a batch of slices in parallel and storing each
    /// chunk, in z order, as those filters would have. The corresponding C function is
    /// `H5Dwrite_chunk` (filter mask 0: every declared filter was applied).
    func writeSliceChunks<Element: HDF5Element>(
        _ dataset: hid_t, _ datasetPath: String, values: [Element], shape: [Int], gzipLevel: Int,
        strategy: HDF5DeflateStrategy, parallel: Bool
    ) throws(HDF5Error) {
        let filters = SliceFilters(
            elementSize: MemoryLayout<Element>.stride, level: Int32(gzipLevel), strategy: strategy.zlibStrategy,
            parallel: parallel)
        let sliceBytes = shape[1] * shape[2] * MemoryLayout<Element>.stride
        // An all-zero slice (most of a map outside the lungs) is compressed once and reused.
        var zeroSlice: [UInt8]?
        var first = 0
        while first < shape[0] {
            let count = min(SliceFilters.slicesPerBatch, shape[0] - first)
            let batch = values.withUnsafeBytes {
                filters.compress($0, first: first, count: count, sliceBytes: sliceBytes)
            }
            for (index, compressed) in batch.enumerated() {
                let z = first + index
                let bytes: [UInt8]
                switch compressed {
                case .bytes(let deflated): bytes = deflated
                case .zero:
                    if let zeroSlice {
                        bytes = zeroSlice
                    } else {
                        bytes = try filters.deflatedZeros(sliceBytes, file: path, object: datasetPath)
                        zeroSlice = bytes
                    }
                case .failed(let status):
                    throw SliceFilters.failure(status, z: z, file: path, object: datasetPath)
                }
                var offset: [hsize_t] = [hsize_t(z), 0, 0]
                let status = bytes.withUnsafeBytes {
                    H5Dwrite_chunk(dataset, lct_h5p_default(), 0, &offset, $0.count, $0.baseAddress)
                }
                try check(
                    status, "write the chunk of slice z = \(z) of dataset", file: path, object: datasetPath,
                    hint: "the disk may be full")
            }
            first += count
        }
    }
}

/// One slice after the filters: its compressed bytes, or "all zero" (compressed by the caller,
/// once per dataset), or zlib's failure status.
enum CompressedSlice: Sendable {
    case bytes([UInt8])
    case zero
    case failed(Int32)
}

/// HDF5's shuffle and deflate filters as lungct declares them (`H5Pset_shuffle`, then
/// `H5Pset_deflate(level)`), applied to one chunk at a time so that chunks can be compressed
/// in parallel.
struct SliceFilters: Sendable {
    /// Slices compressed per parallel batch: enough to keep both cores busy between the
    /// writes, few enough that the batch's compressed bytes (at most about a slice each) stay
    /// small beside the volume itself.
    static let slicesPerBatch = 16

    /// Bytes per element: the shuffle filter's parameter, which HDF5 takes from the type.
    let elementSize: Int
    let level: Int32
    /// zlib's `Z_DEFAULT_STRATEGY` or `Z_RLE` (`HDF5DeflateStrategy`).
    let strategy: Int32
    /// Whether a batch's slices are compressed on every core or on the calling thread alone.
    let parallel: Bool

    /// Slices `first..<first + count` of the volume's bytes, each compressed on whichever core
    /// is free, in slice order.
    func compress(_ volume: UnsafeRawBufferPointer, first: Int, count: Int, sliceBytes: Int) -> [CompressedSlice] {
        guard parallel else {
            return (first..<first + count).map { z in
                compress(UnsafeRawBufferPointer(rebasing: volume[z * sliceBytes..<(z + 1) * sliceBytes]))
            }
        }
        let results = SliceResults(count: count)
        let shared = ReadOnlyBytes(bytes: volume)
        DispatchQueue.concurrentPerform(iterations: count) { index in
            let start = (first + index) * sliceBytes
            results.set(index, compress(UnsafeRawBufferPointer(rebasing: shared.bytes[start..<start + sliceBytes])))
        }
        return results.values
    }

    /// One chunk shuffled and deflated, or `.zero` when every byte is zero.
    func compress(_ chunk: UnsafeRawBufferPointer) -> CompressedSlice {
        if chunk.isAllZero { return .zero }
        // The shuffle filter leaves single-byte elements as they are.
        guard elementSize > 1 else { return deflate(chunk) }
        return withUnsafeTemporaryAllocation(byteCount: chunk.count, alignment: 16) { shuffled in
            shuffle(chunk, into: shuffled)
            return deflate(UnsafeRawBufferPointer(shuffled))
        }
    }

    /// What the filters make of a chunk of `count` zero bytes (shuffling zeros changes nothing).
    func deflatedZeros(_ count: Int, file: String, object: String) throws(HDF5Error) -> [UInt8] {
        let zeros = [UInt8](repeating: 0, count: count)
        switch zeros.withUnsafeBytes({ deflate($0) }) {
        case .bytes(let bytes): return bytes
        case .zero: preconditionFailure("deflate returns bytes or a failure")
        case .failed(let status): throw Self.failure(status, z: nil, file: file, object: object)
        }
    }

    /// HDF5's shuffle filter (H5Zshuffle.c): the first byte of every element, then the second
    /// byte of every element, and so on, so that deflate sees the slowly varying high bytes
    /// together. Chunks here always hold whole elements, so there is no leftover tail.
    func shuffle(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        let n = input.count / elementSize
        guard n > 0, let source = input.baseAddress, let target = output.baseAddress else { return }
        let from = source.assumingMemoryBound(to: UInt8.self)
        let to = target.assumingMemoryBound(to: UInt8.self)
        switch elementSize {
        case 2:
            for i in 0..<n {
                to[i] = from[2 * i]
                to[n + i] = from[2 * i + 1]
            }
        case 4:
            for i in 0..<n {
                to[i] = from[4 * i]
                to[n + i] = from[4 * i + 1]
                to[2 * n + i] = from[4 * i + 2]
                to[3 * n + i] = from[4 * i + 3]
            }
        default:
            for byte in 0..<elementSize {
                for i in 0..<n { to[byte * n + i] = from[i * elementSize + byte] }
            }
        }
    }

    /// HDF5's deflate filter (H5Zdeflate.c): a zlib stream (not gzip), which the filter inflates
    /// when the chunk is read, made at the declared level with the chosen strategy (with the
    /// default strategy, what the filter's own `compress2` makes).
    func deflate(_ input: UnsafeRawBufferPointer) -> CompressedSlice {
        var length = Int(compressBound(uLong(input.count)))
        var status = Z_OK
        let output = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            guard let target = buffer.baseAddress, let source = input.baseAddress else {
                status = Z_STREAM_ERROR
                initialized = 0
                return
            }
            status = lct_deflate(
                target, &length, source.assumingMemoryBound(to: UInt8.self), input.count, level, strategy)
            initialized = status == Z_OK ? length : 0
        }
        return status == Z_OK ? .bytes(output) : .failed(status)
    }

    static func failure(_ status: Int32, z: Int?, file: String, object: String) -> HDF5Error {
        let chunk = z.map { "chunk \($0) of dataset" } ?? "an empty chunk of dataset"
        return HDF5Error(
            operation: "compress \(chunk)", file: file, object: object,
            message: "zlib's deflate failed with status \(status)",
            hint: status == Z_MEM_ERROR ? "memory is short" : nil)
    }
}

/// The volume's bytes, read by every worker and written by none while the batch runs, so the
/// unchecked Sendable is sound.
private struct ReadOnlyBytes: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
}

/// One result per slice of a batch, filled by concurrent workers; a lock guards the array,
/// so the unchecked Sendable is sound.
private final class SliceResults: @unchecked Sendable {
    private var slots: [CompressedSlice?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: CompressedSlice) { lock.withLock { slots[index] = value } }

    /// Every slot; concurrentPerform runs every iteration before it returns, so none is empty.
    var values: [CompressedSlice] {
        lock.withLock {
            slots.map { slot in
                guard let slot else { preconditionFailure("a slice of the batch was not compressed") }
                return slot
            }
        }
    }
}
