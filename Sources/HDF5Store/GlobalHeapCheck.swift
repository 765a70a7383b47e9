/// A check of a file image's global heap collections (HDF5 File Format Specification, section
/// III.E "Global Heap"), made before HDF5 parses the image, for a defect of the HDF5 library:
/// `H5HG__cache_heap_deserialize` steps from one heap object to the next by the size the
/// object records, and an object of index 0 (free space) recording size 0 never moves the
/// step on, so reading any variable-length string from that collection (a model's
/// `architecture` attribute) spins forever. Found by the `model` fuzz target with Debian 12's
/// HDF5 1.10.8; HDF5's develop branch steps the same way. An object running past the end of
/// its collection is refused too: HDF5 1.10 would copy it from beyond the collection's buffer.
///
/// Every collection HDF5 can load starts with the signature and version checked here, so
/// scanning the image for them covers whatever a file's references point at.
enum GlobalHeapCheck {
    /// The format signature HDF5 looks for at offset 0, 512, 1024, 2048, ... (section II.A).
    static let superblockSignature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The first offset after 0 where HDF5 looks for the superblock (a user block's minimum size).
    static let firstUserBlockSize = 512
    /// A collection's signature "GCOL" and the only version HDF5 reads.
    static let collectionSignature: [UInt8] = Array("GCOL".utf8)
    static let collectionVersion: UInt8 = 1

    /// Why HDF5 must not parse `image`, or nil when its global heap is sound (or HDF5 will
    /// refuse the file on its own: no superblock, unreadable sizes).
    static func problem(in image: [UInt8]) -> String? {
        guard let lengthSize = sizeOfLengths(image) else { return nil }
        var start = 0
        while let offset = firstIndex(of: collectionSignature, in: image, from: start) {
            start = offset + 1
            if let problem = walk(collectionAt: offset, in: image, lengthSize: lengthSize) {
                return "global heap collection at byte \(offset): \(problem); the file is damaged"
            }
        }
        return nil
    }

    /// "Size of Lengths" from the superblock: byte 14 in versions 0 and 1, byte 10 in 2 and 3.
    static func sizeOfLengths(_ image: [UInt8]) -> Int? {
        var base = 0
        while base + 16 <= image.count {
            if image[base..<base + superblockSignature.count].elementsEqual(superblockSignature) {
                let field = image[base + 8] < 2 ? base + 14 : base + 10
                let size = Int(image[field])
                return [2, 4, 8, 16, 32].contains(size) ? size : nil
            }
            base = base == 0 ? firstUserBlockSize : base * 2
        }
        return nil
    }

    /// Steps through one collection as `H5HG__cache_heap_deserialize` does; the reason it
    /// would not get through, or nil.
    static func walk(collectionAt offset: Int, in image: [UInt8], lengthSize: Int) -> String? {
        // Header: signature, version, 3 reserved bytes, collection size (a length).
        let headerSize = collectionSignature.count + 4 + lengthSize
        guard offset + headerSize <= image.count, image[offset + 4] == collectionVersion else { return nil }
        let size = length(in: image, at: offset + 8, size: lengthSize)
        // A collection beyond the image cannot be read: HDF5 refuses it itself.
        guard size <= UInt64(image.count - offset) else { return nil }
        let end = offset + Int(size)
        // Object header: index (2 bytes), reference count (2), reserved (4), size (a length).
        let objectHeaderSize = 8 + lengthSize
        var position = offset + headerSize
        while position < end {
            // Too little left for an object header: HDF5 takes the rest as free space.
            guard position + objectHeaderSize <= end else { return nil }
            let index = Int(image[position]) | Int(image[position + 1]) << 8
            let objectSize = length(in: image, at: position + 8, size: lengthSize)
            // Objects other than free space are padded to 8 bytes after their header; a size
            // that overflows HDF5's arithmetic counts as running past the end.
            let need = index > 0 ? paddedObjectSize(objectSize, headerSize: objectHeaderSize) : objectSize
            if need == 0 { return "free-space object of size 0 (HDF5 would loop forever)" }
            if need > UInt64(end - position) { return "object \(index) runs past the end of its collection" }
            position += Int(need)
        }
        return nil
    }

    /// Header plus `size` rounded up to a multiple of 8, or `UInt64.max` when that overflows.
    static func paddedObjectSize(_ size: UInt64, headerSize: Int) -> UInt64 {
        let (rounded, overflow) = size.addingReportingOverflow(7)
        let (total, overflowAgain) = (rounded / 8 * 8).addingReportingOverflow(UInt64(headerSize))
        return overflow || overflowAgain ? .max : total
    }

    /// A little-endian length of `size` bytes; HDF5 keeps the low 8 bytes of a longer one.
    static func length(in image: [UInt8], at offset: Int, size: Int) -> UInt64 {
        (0..<min(size, 8)).reduce(UInt64(0)) { value, byte in value | UInt64(image[offset + byte]) << (8 * byte) }
    }

    static func firstIndex(of pattern: [UInt8], in image: [UInt8], from start: Int) -> Int? {
        guard let first = pattern.first, image.count >= pattern.count else { return nil }
        var index = start
        while index <= image.count - pattern.count {
            if image[index] == first, image[index..<index + pattern.count].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
    }
}
