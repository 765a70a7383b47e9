import Foundation
import HDF5Store
import Testing

// The `model` fuzz target found a 24 KB model file on which `lungct analyze --model FILE`
// never returned: HDF5 1.10.8 loops forever in H5HG__cache_heap_deserialize when a global heap
// collection holds a free-space object (index 0) of size 0. The file is made here from a
// sound one by patching that one object, as the fuzzer did.

/// An HDF5 file with a variable-length string attribute (kept in the global heap, as a
/// model's `architecture` is), read back as bytes.
private func fileWithStringAttribute() throws -> (bytes: [UInt8], path: String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("lungct-gcol-\(UUID().uuidString).h5").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let file = try HDF5File(creating: path)
    try file.setAttribute("architecture", .string(String(repeating: "{\"layers\": []} ", count: 20)), at: "/")
    try file.close()
    return ([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), path)
}

/// Byte offsets of the object headers in the file's first global heap collection (lungct's
/// files use 8-byte lengths): each header is index (2), references (2), reserved (4), size (8).
private func heapObjects(_ bytes: [UInt8]) throws -> [(offset: Int, index: Int)] {
    let start = try #require(bytes.indices.first { bytes[$0...].starts(with: Array("GCOL".utf8)) })
    let size = (0..<8).reduce(0) { $0 | Int(bytes[start + 8 + $1]) << (8 * $1) }
    var objects: [(Int, Int)] = []
    var position = start + 16
    while position + 16 <= start + size {
        let index = Int(bytes[position]) | Int(bytes[position + 1]) << 8
        let objectSize = (0..<8).reduce(0) { $0 | Int(bytes[position + 8 + $1]) << (8 * $1) }
        objects.append((position, index))
        position += index == 0 ? objectSize : 16 + (objectSize + 7) / 8 * 8
    }
    return objects
}

/// Sets the size field of the object header at `offset`.
private func setSize(_ bytes: inout [UInt8], objectAt offset: Int, to size: UInt64) {
    for byte in 0..<8 { bytes[offset + 8 + byte] = UInt8(truncatingIfNeeded: size >> (8 * byte)) }
}

@Test func aSoundGlobalHeapOpensAndReads() throws {
    let (bytes, path) = try fileWithStringAttribute()
    let objects = try heapObjects(bytes)
    #expect(objects.map(\.index).contains(0), "the collection ends in free space")
    let file = try HDF5File(image: bytes, path: path)
    guard case .string(let text) = try file.attribute("architecture", at: "/") else {
        Issue.record("the attribute is not a string")
        return
    }
    #expect(text.hasPrefix("{\"layers\": []}"))
    try file.close()
}

@Test func aFreeSpaceObjectOfSizeZeroIsRefusedBeforeHDF5LoopsOnIt() throws {
    var (bytes, path) = try fileWithStringAttribute()
    let freeSpace = try #require(try heapObjects(bytes).first { $0.index == 0 })
    setSize(&bytes, objectAt: freeSpace.offset, to: 0)
    // Before the check, this opened and reading the attribute never returned.
    #expect {
        _ = try HDF5File(image: bytes, path: path)
    } throws: { error in
        let text = String(describing: error)
        return text.contains("global heap") && text.contains("size 0") && text.contains(path)
    }
}

@Test func anObjectRunningPastItsCollectionIsRefused() throws {
    var (bytes, path) = try fileWithStringAttribute()
    let string = try #require(try heapObjects(bytes).first { $0.index > 0 })
    for size in [UInt64(1) << 40, .max, .max - 15] {
        setSize(&bytes, objectAt: string.offset, to: size)
        #expect {
            _ = try HDF5File(image: bytes, path: path)
        } throws: { error in
            String(describing: error).contains("runs past the end of its collection")
        }
    }
}
