import Foundation
import ModelStore
import TestSupport
import Testing

// Found by the `model` fuzz target: a model file whose dataspace claims a huge extent for a
// weight made `ModelFile.open` allocate all of it before comparing the shape with the
// architecture's, and the failed allocation trapped (`lungct analyze --model FILE` crashed).
// HDF5 1.10 opens such a dataset: it does not check the extent against the storage.

/// `value` as the 8-byte little-endian integer HDF5 stores a dataspace extent as.
private func extentBytes(_ values: [Int]) -> [UInt8] {
    values.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}

@Test func aWeightWhoseStoredExtentIsHugeIsRefusedBeforeItIsRead() throws {
    let folder = try temporaryDirectory()
    let network = try smallNetwork(seed: 5)
    let path = folder + "/m.h5"
    try ModelFile.save(network, description: description(network), to: path)
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    // The first conv2d weight is 4 × 1 × 3 × 3; its dataspace message holds those four extents
    // (and then the same maximum extents). Claim 2^37 input channels: 19 TB of float32.
    let extents = extentBytes([4, 1, 3, 3])
    let at = try #require(bytes.indices.first { bytes[$0...].starts(with: extents) })
    bytes.replaceSubrange(at..<at + extents.count, with: extentBytes([4, 1 << 37, 3, 3]))
    try Data(bytes).write(to: URL(fileURLWithPath: path))

    #expect {
        try ModelFile.load(path, manifest: nil)
    } throws: { error in
        String(describing: error).contains("shape [4, \(1 << 37), 3, 3], the architecture needs [4, 1, 3, 3]")
    }
}
