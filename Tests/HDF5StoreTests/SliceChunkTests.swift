import Foundation
import HDF5Store
import TestSupport
import Testing

// writeDataset compresses the chunks itself and stores them with H5Dwrite_chunk, past HDF5's
// filter pipeline. These tests read them back through that pipeline (H5Dread) and through
// h5py, bit for bit, for every element type lungct writes and for shapes that exercise the
// edges: one slice, slices of 3×5 (no multiple of 8 bytes), all-zero slices between noisy
// ones, and more slices than one parallel batch.

/// Shapes (z, y, x): one slice; one 3×5 slice; odd in-plane sizes; more slices than a batch of
/// the parallel compressor (16) and not a multiple of it.
private let oddShapes = [[1, 1, 1], [1, 3, 5], [2, 3, 5], [3, 1, 7], [37, 3, 5], [20, 17, 19]]

/// Deterministic noise (a 64-bit LCG), so the compressor meets incompressible bytes too.
private func noise(_ count: Int, seed: UInt64) -> [UInt64] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 11
    }
}

/// Values for `shape` with every third slice all zero (the compressor reuses one compressed
/// zero chunk) and the others noisy, made from each element's bits.
private func testValues<Element>(_ shape: [Int], _ make: (UInt64) -> Element, zero: Element) -> [Element] {
    let plane = shape[1] * shape[2]
    let bits = noise(shape.reduce(1, *), seed: UInt64(plane * 31 + shape[0]))
    return bits.enumerated().map { index, value in (index / plane) % 3 == 1 ? zero : make(value) }
}

/// A value's bytes, so NaN payloads and -0 compare exactly.
private func bytes<Element>(_ values: [Element]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

private func int16Values(_ shape: [Int]) -> [Int16] {
    testValues(shape, { Int16(truncatingIfNeeded: $0) }, zero: 0)
}

private func uint8Values(_ shape: [Int]) -> [UInt8] {
    // Few distinct labels, as a mask has, with runs.
    testValues(shape, { UInt8(truncatingIfNeeded: $0 % 3) }, zero: 0)
}

private func float32Values(_ shape: [Int]) -> [Float] {
    var values = testValues(shape, { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }, zero: 0)
    // Values whose bits matter: negative zero (not an all-zero chunk), NaN with a payload,
    // infinities, a subnormal.
    let special: [Float] = [-0.0, Float(bitPattern: 0x7FC0_1234), .infinity, -.infinity, .leastNonzeroMagnitude]
    for (index, value) in special.enumerated() where index < values.count { values[index] = value }
    return values
}

private func checkReadBack<Element: HDF5Element>(
    _ file: HDF5File, _ path: String, _ values: [Element], shape: [Int]
) throws {
    let array = try file.readDataset(path, as: Element.self)
    #expect(array.shape == shape, "\(path)")
    let (got, want) = (bytes(array.values), bytes(values))
    let firstDifference = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    #expect(
        got.count == want.count && firstDifference == nil,
        "\(path) \(shape) does not read back bit for bit: first differing byte at \(firstDifference ?? -1)")
    let info = try file.datasetInfo(path)
    #expect(info.chunk == [1, shape[1], shape[2]])
    #expect(info.filters == [.shuffle, .deflate(level: 1)])
}

@Test(arguments: [HDF5DeflateStrategy.standard, .runLength], [true, false])
func directlyWrittenChunksReadBackThroughHDF5sFilters(strategy: HDF5DeflateStrategy, parallel: Bool) throws {
    let folder = try temporaryDirectory()
    let path = folder + "/chunks.h5"
    let file = try HDF5File(creating: path)
    for shape in oddShapes {
        let name = shape.map(String.init).joined(separator: "x")
        try file.writeDataset(
            "/int16/\(name)", values: int16Values(shape), shape: shape, gzipLevel: 1, strategy: strategy,
            parallel: parallel)
        try file.writeDataset(
            "/uint8/\(name)", values: uint8Values(shape), shape: shape, gzipLevel: 1, strategy: strategy,
            parallel: parallel)
        try file.writeDataset(
            "/float32/\(name)", values: float32Values(shape), shape: shape, gzipLevel: 1, strategy: strategy,
            parallel: parallel)
    }
    try file.close()
    let reader = try HDF5File(openingForReading: path)
    for shape in oddShapes {
        let name = shape.map(String.init).joined(separator: "x")
        try checkReadBack(reader, "/int16/\(name)", int16Values(shape), shape: shape)
        try checkReadBack(reader, "/uint8/\(name)", uint8Values(shape), shape: shape)
        try checkReadBack(reader, "/float32/\(name)", float32Values(shape), shape: shape)
    }
    try reader.close()
}

@Test(arguments: [HDF5DeflateStrategy.standard, .runLength])
func anAllZeroVolumeReadsBackAsZeros(strategy: HDF5DeflateStrategy) throws {
    let folder = try temporaryDirectory()
    let path = folder + "/zeros.h5"
    let file = try HDF5File(creating: path)
    try file.writeDataset(
        "/maps/p", values: [Float](repeating: 0, count: 40 * 6 * 7), shape: [40, 6, 7], strategy: strategy)
    try file.close()
    let reader = try HDF5File(openingForReading: path)
    #expect(try reader.readDataset("/maps/p", as: Float.self).values == [Float](repeating: 0, count: 40 * 6 * 7))
    try reader.close()
}

@Test(
    .enabled(if: pythonWithH5py != nil, "python3 with h5py and numpy is not installed"),
    arguments: [HDF5DeflateStrategy.standard, .runLength])
func h5pyReadsDirectlyWrittenChunksBitForBit(strategy: HDF5DeflateStrategy) throws {
    let folder = try temporaryDirectory()
    let path = folder + "/chunks.h5"
    let file = try HDF5File(creating: path)
    // Beside each dataset, its values as raw little-endian bytes, for numpy to compare with.
    var expected: [String] = []
    func add<Element: HDF5Element>(_ name: String, _ values: [Element], _ shape: [Int], dtype: String) throws {
        try file.writeDataset(name, values: values, shape: shape, gzipLevel: 1, strategy: strategy)
        let raw = folder + "/" + name.split(separator: "/").joined(separator: "-") + ".raw"
        try Data(bytes(values)).write(to: URL(fileURLWithPath: raw))
        expected.append("\(name) \(raw) \(dtype) \(shape.map(String.init).joined(separator: ","))")
    }
    for shape in oddShapes {
        let name = shape.map(String.init).joined(separator: "x")
        try add("/int16/\(name)", int16Values(shape), shape, dtype: "<i2")
        try add("/uint8/\(name)", uint8Values(shape), shape, dtype: "u1")
        try add("/float32/\(name)", float32Values(shape), shape, dtype: "<f4")
    }
    try file.close()
    let list = folder + "/expected.txt"
    try expected.joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
    let script = """
        import sys, h5py, numpy as np
        checked = 0
        with h5py.File(sys.argv[1], "r") as f:
            for line in open(sys.argv[2]):
                name, raw, dtype, shape = line.split()
                shape = tuple(int(v) for v in shape.split(","))
                d = f[name]
                want = np.fromfile(raw, dtype=dtype).reshape(shape)
                got = d[...]
                assert d.dtype == np.dtype(dtype), (name, d.dtype)
                assert d.chunks == (1,) + shape[1:], (name, d.chunks)
                assert (d.compression, d.compression_opts, d.shuffle) == ("gzip", 1, True), name
                assert got.tobytes() == want.tobytes(), name
                checked += 1
        print(checked)
        """
    let run = try runProcess(try #require(pythonWithH5py), ["-c", script, path, list])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(oddShapes.count * 3)")
}

@Test func runLengthShrinksAMaskLikeVolume() throws {
    let folder = try temporaryDirectory()
    let path = folder + "/mask.h5"
    let file = try HDF5File(creating: path)
    // 16 slices of 64×64 labels: a disc of 1 beside a disc of 2 on a background of 0, 64 KiB raw.
    let values = (0..<(16 * 64 * 64)).map { index -> UInt8 in
        let (y, x) = ((index / 64) % 64, index % 64)
        if (x - 20) * (x - 20) + (y - 32) * (y - 32) < 144 { return 1 }
        return (x - 44) * (x - 44) + (y - 32) * (y - 32) < 144 ? 2 : 0
    }
    try file.writeDataset(
        "/segmentation/lungs", values: values, shape: [16, 64, 64], gzipLevel: 1, strategy: .runLength)
    try file.close()
    let bytes = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    // The file's own metadata is a few KiB; the labels take well under a tenth of their size.
    #expect(bytes < 8 * 1024 + values.count / 10)
    let reader = try HDF5File(openingForReading: path)
    #expect(try reader.readDataset("/segmentation/lungs", as: UInt8.self).values == values)
    try reader.close()
}
