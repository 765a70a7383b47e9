internal import CHDF5

/// Writing and reading datasets: chunked compressed volumes, small contiguous arrays, and
/// the layout a stored dataset has.
extension HDF5File {
    /// Writes a 3D dataset of shape (z, y, x) from row-major values (x fastest), creating
    /// missing groups on its path. Each z slice is one chunk, so a reader fetches a slice
    /// with one decompression; the shuffle filter comes before gzip because grouping the
    /// bytes of each value (the slowly varying high bytes of int16 HU together) lets deflate
    /// compress far better. The chunks are compressed by lungct, on every core unless `parallel`
    /// is false (a write beside other work, which should take idle time rather than compete for
    /// the cores), and stored as the filters would store them (`writeSliceChunks`), deflated
    /// with `strategy` (the default is what HDF5's own filter does). A shape or count that does
    /// not match is a programmer error.
    /// The corresponding C functions are `H5Dcreate2` and `H5Dwrite_chunk`, with `H5Pset_chunk`,
    /// `H5Pset_shuffle` and `H5Pset_deflate`.
    public func writeDataset<Element: HDF5Element>(
        _ datasetPath: String, values: [Element], shape: [Int], gzipLevel: Int = 4,
        strategy: HDF5DeflateStrategy = .standard, parallel: Bool = true
    ) throws(HDF5Error) {
        precondition(shape.count == 3, "writeDataset takes a (z, y, x) shape, got \(shape)")
        precondition(shape.allSatisfy { $0 > 0 }, "writeDataset needs every extent > 0, got \(shape)")
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        precondition((0...9).contains(gzipLevel), "gzip level must be 0...9, got \(gzipLevel)")
        let dims = shape.map { hsize_t($0) }
        let space = try check(H5Screate_simple(3, dims, nil), "create a dataspace", file: path, object: datasetPath)
        defer { H5Sclose(space) }
        let creation = try check(
            H5Pcreate(lct_h5p_dataset_create()), "create a dataset property list", file: path, object: datasetPath)
        defer { H5Pclose(creation) }
        let chunk: [hsize_t] = [1, dims[1], dims[2]]
        try check(H5Pset_chunk(creation, 3, chunk), "set one chunk per slice", file: path, object: datasetPath)
        try check(H5Pset_shuffle(creation), "add the shuffle filter", file: path, object: datasetPath)
        try check(
            H5Pset_deflate(creation, UInt32(gzipLevel)), "add the gzip filter", file: path, object: datasetPath,
            hint: "this HDF5 library may lack zlib")
        try withNewDataset(datasetPath, type: Element.hdf5ElementType, space: space, creation: creation) {
            (dataset) throws(HDF5Error) in
            try writeSliceChunks(
                dataset, datasetPath, values: values, shape: shape, gzipLevel: gzipLevel, strategy: strategy,
                parallel: parallel)
        }
    }

    /// Writes a small array of any rank (model parameters, tables) contiguously, without
    /// chunking or compression. A count that does not fill the shape is a programmer error.
    /// The corresponding C functions are `H5Dcreate2` and `H5Dwrite`.
    public func writeArray<Element: HDF5Element>(_ datasetPath: String, values: [Element], shape: [Int])
        throws(HDF5Error)
    {
        precondition(!shape.isEmpty && shape.allSatisfy { $0 > 0 }, "writeArray needs extents > 0, got \(shape)")
        precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
        let dims = shape.map { hsize_t($0) }
        let space = try check(
            H5Screate_simple(Int32(dims.count), dims, nil), "create a dataspace", file: path, object: datasetPath)
        defer { H5Sclose(space) }
        try withNewDataset(
            datasetPath, type: Element.hdf5ElementType, space: space, creation: lct_h5p_default()
        ) { (dataset) throws(HDF5Error) in
            let type = Element.hdf5ElementType.nativeTypeID
            let status = values.withUnsafeBytes {
                H5Dwrite(dataset, type, lct_h5s_all(), lct_h5s_all(), lct_h5p_default(), $0.baseAddress)
            }
            try check(status, "write dataset", file: path, object: datasetPath, hint: "the disk may be full")
        }
    }

    /// Creates the dataset (and missing parent groups), lets `body` write it and closes it.
    /// The corresponding C functions are `H5Dcreate2` and `H5Dclose`.
    private func withNewDataset(
        _ datasetPath: String, type elementType: HDF5ElementType, space: hid_t, creation: hid_t,
        _ body: (hid_t) throws(HDF5Error) -> Void
    ) throws(HDF5Error) {
        let file = openFileID()
        let links = try intermediateGroupsLinkList(for: datasetPath)
        defer { H5Pclose(links) }
        let dataset = try check(
            H5Dcreate2(file, datasetPath, elementType.nativeTypeID, space, links, creation, lct_h5p_default()),
            "create dataset", file: path, object: datasetPath)
        var open = true
        defer { if open { H5Dclose(dataset) } }
        try body(dataset)
        open = false
        // Closing flushes what HDF5 still holds, so this is where a full disk can show up.
        try check(
            H5Dclose(dataset), "finish writing dataset", file: path, object: datasetPath,
            hint: "the disk may be full")
    }

    /// Reads a whole dataset of any rank. Its stored type must be `Element`'s: lungct does
    /// not convert silently (float to int16 would round and clip).
    /// The corresponding C function is `H5Dread`.
    public func readDataset<Element: HDF5Element>(
        _ datasetPath: String, as elementType: Element.Type = Element.self
    ) throws(HDF5Error) -> HDF5Array<Element> {
        try withDataset(datasetPath) { (dataset, shape, stored) throws(HDF5Error) in
            try read(dataset, datasetPath, shape: shape, stored: stored, as: elementType)
        }
    }

    private func read<Element: HDF5Element>(
        _ dataset: hid_t, _ datasetPath: String, shape: [Int], stored: (type: HDF5ElementType?, description: String),
        as elementType: Element.Type
    ) throws(HDF5Error) -> HDF5Array<Element> {
        guard stored.type == Element.hdf5ElementType else {
            throw HDF5Error(
                operation: "read dataset as \(Element.hdf5ElementType.rawValue)", file: path, object: datasetPath,
                message: "it holds \(stored.description)", hint: "read it as its stored type")
        }
        guard let count = elementCount(shape) else {
            throw HDF5Error(
                operation: "read dataset", file: path, object: datasetPath,
                message: "its shape \(shape) is too large to hold in memory")
        }
        var status: herr_t = 0
        let values = [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                status = H5Dread(
                    dataset, Element.hdf5ElementType.nativeTypeID, lct_h5s_all(), lct_h5s_all(), lct_h5p_default(),
                    buffer.baseAddress)
            }
            initialized = status < 0 ? 0 : count
        }
        try check(
            status, "read dataset", file: path, object: datasetPath,
            hint: "the file may be truncated or its compression filter unavailable")
        return HDF5Array(shape: shape, values: values)
    }

    /// How a dataset is stored: shape, element type, chunking and filters.
    /// The corresponding C functions are `H5Pget_layout`, `H5Pget_chunk` and `H5Pget_filter2`.
    public func datasetInfo(_ datasetPath: String) throws(HDF5Error) -> HDF5DatasetInfo {
        try withDataset(datasetPath) { (dataset, shape, stored) throws(HDF5Error) in
            try info(dataset, datasetPath, shape: shape, stored: stored)
        }
    }

    private func info(
        _ dataset: hid_t, _ datasetPath: String, shape: [Int], stored: (type: HDF5ElementType?, description: String)
    ) throws(HDF5Error) -> HDF5DatasetInfo {
        let creation = try check(
            H5Dget_create_plist(dataset), "get the creation properties of dataset", file: path, object: datasetPath)
        defer { H5Pclose(creation) }
        let layout = H5Pget_layout(creation)
        try check(layout.rawValue, "get the layout of dataset", file: path, object: datasetPath)
        var chunk: [Int]?
        if layout == H5D_CHUNKED {
            var dims = [hsize_t](repeating: 0, count: 32)  // H5S_MAX_RANK
            let rank = try check(
                H5Pget_chunk(creation, Int32(dims.count), &dims), "get the chunk shape of dataset", file: path,
                object: datasetPath)
            chunk = dims.prefix(Int(rank)).map { Int($0) }
        }
        let count = try check(
            H5Pget_nfilters(creation), "count the filters of dataset", file: path, object: datasetPath)
        var filters: [HDF5Filter] = []
        for index in 0..<UInt32(count) {
            var flags: UInt32 = 0
            var parameters = [UInt32](repeating: 0, count: 8)
            var parameterCount = parameters.count
            var name = [CChar](repeating: 0, count: 256)
            var configuration: UInt32 = 0
            let filter = try check(
                H5Pget_filter2(
                    creation, index, &flags, &parameterCount, &parameters, name.count, &name, &configuration),
                "get filter \(index) of dataset", file: path, object: datasetPath)
            switch filter {
            case H5Z_FILTER_SHUFFLE: filters.append(.shuffle)
            case H5Z_FILTER_DEFLATE: filters.append(.deflate(level: parameterCount > 0 ? Int(parameters[0]) : -1))
            default: filters.append(.other(id: Int(filter), name: string(fromNullTerminated: name)))
            }
        }
        return HDF5DatasetInfo(shape: shape, elementType: stored.type, chunk: chunk, filters: filters)
    }

    /// Opens a dataset, reads its shape and stored element type, runs `body` and closes it.
    /// The corresponding C functions are `H5Dopen2` and `H5Dclose`.
    private func withDataset<Result>(
        _ datasetPath: String,
        _ body: (hid_t, [Int], (type: HDF5ElementType?, description: String)) throws(HDF5Error) -> Result
    ) throws(HDF5Error) -> Result {
        let dataset = try check(
            H5Dopen2(openFileID(), datasetPath, lct_h5p_default()), "open dataset", file: path, object: datasetPath)
        defer { H5Dclose(dataset) }
        return try body(
            dataset, try extent(ofDataset: dataset, datasetPath), try storedElementType(ofDataset: dataset, datasetPath)
        )
    }

    private func extent(ofDataset dataset: hid_t, _ datasetPath: String) throws(HDF5Error) -> [Int] {
        let space = try check(H5Dget_space(dataset), "get the shape of dataset", file: path, object: datasetPath)
        defer { H5Sclose(space) }
        let rank = try check(
            H5Sget_simple_extent_ndims(space), "get the rank of dataset", file: path, object: datasetPath)
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 {
            try check(
                H5Sget_simple_extent_dims(space, &dims, nil), "get the shape of dataset", file: path,
                object: datasetPath)
        }
        return dims.map { Int($0) }
    }

    /// The dataset's element type if it is one lungct writes, and a readable name for it.
    private func storedElementType(ofDataset dataset: hid_t, _ datasetPath: String) throws(HDF5Error)
        -> (type: HDF5ElementType?, description: String)
    {
        let type = try check(H5Dget_type(dataset), "get the type of dataset", file: path, object: datasetPath)
        defer { H5Tclose(type) }
        // The native equivalent ignores byte order, so a big-endian int16 written elsewhere
        // still reads as int16 (HDF5 swaps the bytes on read).
        let native = try check(
            H5Tget_native_type(type, H5T_DIR_ASCEND), "get the native type of dataset", file: path, object: datasetPath)
        defer { H5Tclose(native) }
        for candidate in HDF5ElementType.allCases where H5Tequal(native, candidate.nativeTypeID) > 0 {
            return (candidate, candidate.rawValue)
        }
        return (nil, describe(type: type))
    }
}

/// The product of the extents, or nil if it overflows (a corrupt or hostile header).
private func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for extent in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: extent)
        if overflow { return nil }
        count = product
    }
    return count
}
