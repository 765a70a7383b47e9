import Foundation
import HDF5Store
import TestSupport
import Testing

/// A fresh folder per test, removed afterwards, so tests running in parallel never share a file.
private func withScratchFolder(_ body: (String) throws -> Void) throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lungct-hdf5-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try body(folder.path)
}

/// Writes a (z, y, x) dataset, reopens the file read-only and checks values, shape, one
/// chunk per slice and the shuffle + gzip pipeline.
private func checkRoundTrip<Element: HDF5Element & Equatable>(
    _ values: [Element], shape: [Int], gzipLevel: Int? = nil
) throws {
    try withScratchFolder { folder in
        let path = folder + "/roundtrip.h5"
        let file = try HDF5File(creating: path)
        if let gzipLevel {
            try file.writeDataset("/volume/data", values: values, shape: shape, gzipLevel: gzipLevel)
        } else {
            try file.writeDataset("/volume/data", values: values, shape: shape)
        }
        try file.close()

        let reader = try HDF5File(openingForReading: path)
        let array = try reader.readDataset("/volume/data", as: Element.self)
        #expect(array.shape == shape)
        #expect(array.values == values)
        let info = try reader.datasetInfo("/volume/data")
        #expect(info.shape == shape)
        #expect(info.elementType == Element.hdf5ElementType)
        #expect(info.chunk == [1, shape[1], shape[2]])
        #expect(info.filters == [.shuffle, .deflate(level: gzipLevel ?? 4)])
        try reader.close()
    }
}

@Test func int16VolumeRoundTripsChunkedAndCompressed() throws {
    let shape = [3, 4, 5]
    let values = (0..<60).map { Int16(truncatingIfNeeded: $0 * 977 - 30000) }
    try checkRoundTrip(values, shape: shape)
    try checkRoundTrip([Int16.min, -1024, 0, 1, 3071, Int16.max], shape: [1, 2, 3])
}

@Test func aFileReadIntoMemoryOpensAsTheFileDoes() throws {
    try withScratchFolder { folder in
        let path = folder + "/image.h5"
        let file = try HDF5File(creating: path)
        let values: [Int16] = (0..<60).map { Int16($0) * 7 - 100 }
        try file.writeDataset("/volume/data", values: values, shape: [3, 4, 5])
        try file.close()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let image = try HDF5File(image: bytes, path: path)
        #expect(try image.readDataset("/volume/data", as: Int16.self).values == values)
        try image.close()
        // Half a file is an error naming it, not a crash.
        #expect { try HDF5File(image: Array(bytes.prefix(bytes.count / 2)), path: path) } throws: {
            String(describing: $0).contains("image.h5")
        }
    }
}

@Test func uint8VolumeRoundTripsChunkedAndCompressed() throws {
    try checkRoundTrip((0..<2 * 3 * 7).map { UInt8($0 % 3) }, shape: [2, 3, 7])
}

@Test func float32VolumeRoundTripsChunkedAndCompressed() throws {
    let values: [Float] = (0..<4 * 2 * 3).map { Float($0) / 7 }
    try checkRoundTrip(values, shape: [4, 2, 3])
    try checkRoundTrip([0, 1, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude, -0.5], shape: [2, 1, 3])
}

@Test(arguments: [0, 1, 9])
func gzipLevelIsConfigurable(level: Int) throws {
    try checkRoundTrip((0..<24).map { Int16($0) }, shape: [2, 3, 4], gzipLevel: level)
}

@Test func compressionShrinksASmoothVolume() throws {
    try withScratchFolder { folder in
        let path = folder + "/smooth.h5"
        let file = try HDF5File(creating: path)
        // A 16×64×64 int16 ramp: 128 KiB raw; shuffle + gzip should take it far below that.
        let values = (0..<(16 * 64 * 64)).map { Int16(($0 % 64) - 1000) }
        try file.writeDataset("/image/hu", values: values, shape: [16, 64, 64])
        try file.close()
        let bytes = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(bytes < values.count * 2 / 4)
    }
}

@Test func attributesRoundTripOnGroupsAndDatasets() throws {
    try withScratchFolder { folder in
        let path = folder + "/attributes.h5"
        let file = try HDF5File(creating: path)
        try file.createGroup("/provenance")
        try file.createGroup("/features/right")  // nested: creates /features too
        try file.writeDataset("/image/hu", values: [Int16](repeating: -1000, count: 8), shape: [2, 2, 2])
        let direction = [1.0, 0, 0, 0, 1, 0, 0, 0, 1]
        try file.setAttribute("spacing_mm", .doubles([0.7, 0.7, 1.25]), at: "/image/hu")
        try file.setAttribute("direction", .doubles(direction), at: "/image/hu")
        try file.setAttribute("modality", .string("CT"), at: "/image/hu")
        try file.setAttribute("lungct_version", .string("0.1.0 — ünïcode"), at: "/provenance")
        try file.setAttribute("volume_ml", .double(2874.5), at: "/features/right")
        try file.setAttribute("slices", .int(300), at: "/features")
        try file.setAttribute("empty", .string(""), at: "/")
        try file.setAttribute("slices", .int(-2), at: "/features")  // replaces the first value
        try file.close()

        let reader = try HDF5File(openingForReading: path)
        #expect(try reader.attribute("spacing_mm", at: "/image/hu") == .doubles([0.7, 0.7, 1.25]))
        #expect(try reader.attribute("direction", at: "/image/hu") == .doubles(direction))
        #expect(try reader.attribute("modality", at: "/image/hu") == .string("CT"))
        #expect(try reader.attribute("lungct_version", at: "/provenance") == .string("0.1.0 — ünïcode"))
        #expect(try reader.attribute("volume_ml", at: "/features/right") == .double(2874.5))
        #expect(try reader.attribute("slices", at: "/features") == .int(-2))
        #expect(try reader.attribute("empty", at: "/") == .string(""))
        let missing = #expect(throws: HDF5Error.self) { try reader.attribute("nope", at: "/image/hu") }
        #expect(missing?.description.contains("/image/hu attribute nope") == true)
    }
}

@Test func creatingInAMissingFolderNamesThePath() throws {
    try withScratchFolder { folder in
        let path = folder + "/no-such-folder/study.h5"
        let error = #expect(throws: HDF5Error.self) { try HDF5File(creating: path) }
        #expect(error?.file == path)
        #expect(error?.description.hasPrefix(path) == true)
        // HDF5's own stack reaches the operating system's reason.
        #expect(error?.message.contains("No such file or directory") == true)
        #expect(error?.description.contains("writable") == true)
    }
}

@Test func creatingUnderAFileNamesThePath() throws {
    // A regular file where a folder should be: unwritable even for root, unlike chmod.
    try withScratchFolder { folder in
        let blocker = folder + "/blocker"
        _ = FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8))
        let path = blocker + "/study.h5"
        let error = #expect(throws: HDF5Error.self) { try HDF5File(creating: path) }
        #expect(error?.description.contains(path) == true)
        #expect(error?.message.contains("Not a directory") == true)
    }
}

@Test func openingSomethingThatIsNotHDF5Throws() throws {
    try withScratchFolder { folder in
        let path = folder + "/notes.txt"
        _ = FileManager.default.createFile(atPath: path, contents: Data("not HDF5".utf8))
        let error = #expect(throws: HDF5Error.self) { try HDF5File(openingForReading: path) }
        #expect(error?.description.contains(path) == true)
        #expect(error?.description.contains("h5dump") == true)
    }
}

@Test func readingAsTheWrongTypeThrowsInsteadOfConverting() throws {
    try withScratchFolder { folder in
        let path = folder + "/types.h5"
        let file = try HDF5File(creating: path)
        try file.writeDataset("/maps/p", values: [Float](repeating: 0.5, count: 4), shape: [1, 2, 2])
        let error = #expect(throws: HDF5Error.self) { try file.readDataset("/maps/p", as: Int16.self) }
        #expect(error?.object == "/maps/p")
        #expect(error?.message.contains("float32") == true)
        let missing = #expect(throws: HDF5Error.self) { try file.readDataset("/maps/q", as: Float.self) }
        #expect(missing?.description.contains("/maps/q") == true)
        try file.close()
    }
}

@Test func creatingAGroupTwiceThrows() throws {
    try withScratchFolder { folder in
        let file = try HDF5File(creating: folder + "/groups.h5")
        try file.createGroup("/segmentation")
        let error = #expect(throws: HDF5Error.self) { try file.createGroup("/segmentation") }
        #expect(error?.object == "/segmentation")
    }
}

// MARK: - Cross-checks with other readers

/// A file laid out like the study file's image and mask, for other readers to inspect.
private func writeStudyLikeFile(_ path: String) throws {
    let file = try HDF5File(creating: path)
    try file.writeDataset("/image/hu", values: (0..<60).map { Int16($0) - 1000 }, shape: [3, 4, 5])
    try file.writeDataset("/segmentation/lungs", values: [UInt8](repeating: 1, count: 60), shape: [3, 4, 5])
    try file.writeDataset("/maps/covid_probability", values: [Float](repeating: 0.25, count: 60), shape: [3, 4, 5])
    try file.setAttribute("modality", .string("CT"), at: "/image/hu")
    try file.setAttribute("spacing_mm", .doubles([0.5, 0.5, 2]), at: "/image/hu")
    try file.setAttribute("slices", .int(3), at: "/image")
    try file.close()
}

@Test(.enabled(if: hasTool("h5dump"), "h5dump (hdf5-tools) is not installed"))
func h5dumpSeesTypesShapesChunksAndFilters() throws {
    try withScratchFolder { folder in
        let path = folder + "/study.h5"
        try writeStudyLikeFile(path)
        let dump = try runProcess(try #require(toolPath("h5dump")), ["-p", "-H", path])
        let header = dump.stdout
        #expect(dump.status == 0, "\(header)\(dump.stderr)")
        #expect(header.contains(#"DATASET "hu""#))
        #expect(header.contains("H5T_STD_I16LE"))
        #expect(header.contains("H5T_STD_U8LE"))
        #expect(header.contains("H5T_IEEE_F32LE"))
        #expect(header.contains("DATASPACE  SIMPLE { ( 3, 4, 5 ) / ( 3, 4, 5 ) }"))
        #expect(header.contains("CHUNKED ( 1, 4, 5 )"))
        #expect(header.contains("PREPROCESSING SHUFFLE"))
        #expect(header.contains("LEVEL 4"))
        #expect(header.contains("STRSIZE H5T_VARIABLE"))
        #expect(header.contains("CSET H5T_CSET_UTF8"))
    }
}

@Test(.enabled(if: pythonWithH5py != nil, "python3 with h5py and numpy is not installed"))
func h5pyReadsTheFileWithNoCustomCode() throws {
    try withScratchFolder { folder in
        let path = folder + "/study.h5"
        try writeStudyLikeFile(path)
        let script = """
            import sys, h5py
            with h5py.File(sys.argv[1], "r") as f:
                hu = f["image/hu"]
                m = hu.attrs["modality"]
                assert isinstance(m, str), type(m)
                spacing = ",".join(str(float(v)) for v in hu.attrs["spacing_mm"])
                print(hu.dtype, hu.shape, hu.chunks, hu.compression, hu.compression_opts, hu.shuffle, m, spacing,
                      int(f["image"].attrs["slices"]), int(hu[2, 3, 4]),
                      f["segmentation/lungs"].dtype, f["maps/covid_probability"].dtype)
            """
        let run = try runProcess(try #require(pythonWithH5py), ["-c", script, path])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(
            run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == "int16 (3, 4, 5) (1, 4, 5) gzip 4 True CT 0.5,0.5,2.0 3 -941 uint8 float32")
    }
}

@Test(.enabled(if: pythonWithH5py != nil, "python3 with h5py and numpy is not installed"))
func readsWhatH5pyWrites() throws {
    try withScratchFolder { folder in
        let path = folder + "/from-h5py.h5"
        // Fixed-length (numpy bytes) strings, int32 and float32 scalars, and a big-endian
        // int16 dataset: the forms another tool may hand lungct.
        let script = """
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                d = f.create_dataset("image/hu", data=np.arange(24, dtype=">i2").reshape(2, 3, 4) - 5)
                d.attrs["fixed"] = np.bytes_(b"LPS")
                d.attrs["variable"] = "RAS"
                d.attrs["count"] = np.int32(-7)
                d.attrs["scale"] = np.float32(0.5)
                d.attrs["origin"] = np.array([1.5, -2.0, 3.25], dtype=np.float32)
                d.attrs["labels"] = np.array([1, 2], dtype=np.int32)
            """
        let run = try runProcess(try #require(pythonWithH5py), ["-c", script, path])
        try #require(run.status == 0, "\(run.stdout)\(run.stderr)")
        let file = try HDF5File(openingForReading: path)
        let hu = try file.readDataset("/image/hu", as: Int16.self)
        #expect(hu.shape == [2, 3, 4])
        #expect(hu.values == (0..<24).map { Int16($0 - 5) })
        #expect(try file.attribute("fixed", at: "/image/hu") == .string("LPS"))
        #expect(try file.attribute("variable", at: "/image/hu") == .string("RAS"))
        #expect(try file.attribute("count", at: "/image/hu") == .int(-7))
        #expect(try file.attribute("scale", at: "/image/hu") == .double(0.5))
        #expect(try file.attribute("origin", at: "/image/hu") == .doubles([1.5, -2, 3.25]))
        let error = #expect(throws: HDF5Error.self) { try file.attribute("labels", at: "/image/hu") }
        #expect(error?.message.contains("int32 of shape [2]") == true)
        try file.close()
    }
}
