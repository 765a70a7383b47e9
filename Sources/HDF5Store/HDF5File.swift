internal import CHDF5

/// An open HDF5 file. Objects are named by absolute paths ("/image/hu"); every object id
/// this class opens is closed before the method returns, so the file id is the only
/// handle it holds. Write errors can surface when HDF5 flushes, so a writer calls
/// `close()` and lets it throw; `deinit` closes a file that is still open, silently.
public final class HDF5File {
    /// The file on disk, as given.
    public let path: String
    private var id: hid_t

    /// Creates a file, replacing any file already at `path`.
    /// The corresponding C function is `H5Fcreate` with `H5F_ACC_TRUNC`.
    public init(creating path: String) throws(HDF5Error) {
        silenceAutomaticErrorPrinting()
        self.path = path
        id = try check(
            H5Fcreate(path, lct_h5f_acc_trunc(), lct_h5p_default(), lct_h5p_default()), "create the file", file: path,
            object: nil,
            hint: "check that the folder exists and is writable, and that no other program holds the file open")
    }

    /// Opens an existing file read-only.
    /// The corresponding C function is `H5Fopen` with `H5F_ACC_RDONLY`.
    public init(openingForReading path: String) throws(HDF5Error) {
        silenceAutomaticErrorPrinting()
        self.path = path
        id = try check(
            H5Fopen(path, lct_h5f_acc_rdonly(), lct_h5p_default()), "open the file for reading", file: path,
            object: nil,
            hint: "check that the file exists and is an HDF5 file (`h5dump -H` lists its contents)")
    }

    /// Opens, read-only, a whole HDF5 file already read into memory: what is checked (a
    /// hash) is then exactly what is read, with no second trip to the disk. `path` names it in
    /// errors. The corresponding C functions are `H5Pset_fapl_core` (no backing store),
    /// `H5Pset_file_image` and `H5Fopen`.
    public init(image: [UInt8], path: String) throws(HDF5Error) {
        silenceAutomaticErrorPrinting()
        self.path = path
        let access = try check(H5Pcreate(lct_h5p_file_access()), "create a file access list", file: path, object: nil)
        defer { H5Pclose(access) }
        // The core driver's growth step; nothing grows in a read-only image.
        let increment = max(image.count, 1 << 16)
        try check(H5Pset_fapl_core(access, increment, false), "use the in-memory driver", file: path, object: nil)
        // HDF5 copies the image into its own buffer here.
        let status = image.withUnsafeBytes { bytes in
            H5Pset_file_image(access, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        }
        try check(status, "hand the file image to HDF5", file: path, object: nil)
        // The core driver refuses a name that exists on disk when it is given an image, so
        // the image gets a name of its own; errors still name `path`.
        id = try check(
            H5Fopen(path + " (in memory)", lct_h5f_acc_rdonly(), access), "open the file for reading", file: path,
            object: nil, hint: "check that the file is an HDF5 file (`h5dump -H` lists its contents)")
    }

    deinit {
        // Nobody is left to hear about an error here; writers call close() to see them.
        if id >= 0 {
            silenceAutomaticErrorPrinting()
            H5Fclose(id)
        }
    }

    /// Flushes and closes the file; closing twice does nothing. Any later use traps.
    /// The corresponding C function is `H5Fclose`.
    public func close() throws(HDF5Error) {
        guard id >= 0 else { return }
        silenceAutomaticErrorPrinting()
        let fileID = id
        id = -1
        try check(
            H5Fclose(fileID), "close the file (this writes its remaining data)", file: path, object: nil,
            hint: "the disk may be full")
    }

    /// Creates a group, and any missing groups above it ("/maps/extra" creates "/maps").
    /// It is an error if the group exists already.
    /// The corresponding C function is `H5Gcreate2`.
    public func createGroup(_ groupPath: String) throws(HDF5Error) {
        let file = openFileID()
        let links = try intermediateGroupsLinkList(for: groupPath)
        defer { H5Pclose(links) }
        let group = try check(
            H5Gcreate2(file, groupPath, links, lct_h5p_default(), lct_h5p_default()), "create group", file: path,
            object: groupPath)
        try check(H5Gclose(group), "close group", file: path, object: groupPath)
    }

    /// Writes a 3D dataset of shape (z, y, x) from row-major values (x fastest), creating
    /// missing groups on its path. Each z slice is one chunk, so a reader fetches a slice
    /// with one decompression; the shuffle filter comes before gzip because grouping the
    /// bytes of each value (the slowly varying high bytes of int16 HU together) lets deflate
    /// compress far better. A shape or count that does not match is a programmer error.
    /// The corresponding C functions are `H5Dcreate2` and `H5Dwrite`, with `H5Pset_chunk`,
    /// `H5Pset_shuffle` and `H5Pset_deflate`.
    public func writeDataset<Element: HDF5Element>(
        _ datasetPath: String, values: [Element], shape: [Int], gzipLevel: Int = 4
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
        try write(datasetPath, values: values, space: space, creation: creation)
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
        try write(datasetPath, values: values, space: space, creation: lct_h5p_default())
    }

    /// Creates the dataset (and missing parent groups) and writes every value.
    private func write<Element: HDF5Element>(
        _ datasetPath: String, values: [Element], space: hid_t, creation: hid_t
    ) throws(HDF5Error) {
        let file = openFileID()
        let links = try intermediateGroupsLinkList(for: datasetPath)
        defer { H5Pclose(links) }
        let type = Element.hdf5ElementType.nativeTypeID
        let dataset = try check(
            H5Dcreate2(file, datasetPath, type, space, links, creation, lct_h5p_default()), "create dataset",
            file: path,
            object: datasetPath)
        var open = true
        defer { if open { H5Dclose(dataset) } }
        let status = values.withUnsafeBytes {
            H5Dwrite(dataset, type, lct_h5s_all(), lct_h5s_all(), lct_h5p_default(), $0.baseAddress)
        }
        try check(status, "write dataset", file: path, object: datasetPath, hint: "the disk may be full")
        open = false
        // Closing flushes the chunk cache, so this is where a full disk can show up.
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
        let file = openFileID()
        let dataset = try check(
            H5Dopen2(file, datasetPath, lct_h5p_default()), "open dataset", file: path, object: datasetPath)
        defer { H5Dclose(dataset) }
        let shape = try extent(ofDataset: dataset, datasetPath)
        let stored = try storedElementType(ofDataset: dataset, datasetPath)
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
        let file = openFileID()
        let dataset = try check(
            H5Dopen2(file, datasetPath, lct_h5p_default()), "open dataset", file: path, object: datasetPath)
        defer { H5Dclose(dataset) }
        let shape = try extent(ofDataset: dataset, datasetPath)
        let stored = try storedElementType(ofDataset: dataset, datasetPath)
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

    /// Sets an attribute on a group or dataset, replacing one of the same name.
    /// The corresponding C functions are `H5Acreate_by_name` and `H5Awrite`.
    public func setAttribute(_ name: String, _ value: HDF5AttributeValue, at objectPath: String) throws(HDF5Error) {
        let file = openFileID()
        let object = "\(objectPath) attribute \(name)"
        let exists = try check(
            H5Aexists_by_name(file, objectPath, name, lct_h5p_default()), "look up attribute", file: path,
            object: object)
        if exists > 0 {
            try check(
                H5Adelete_by_name(file, objectPath, name, lct_h5p_default()), "replace attribute", file: path,
                object: object)
        }
        let type: hid_t
        let space: hid_t
        switch value {
        case .string:
            type = try check(H5Tcopy(lct_h5t_c_s1()), "create a string type", file: path, object: object)
            do throws(HDF5Error) {
                try check(
                    H5Tset_size(type, lct_h5t_variable()), "make a variable-length string type", file: path,
                    object: object)
                try check(H5Tset_cset(type, H5T_CSET_UTF8), "make a UTF-8 string type", file: path, object: object)
            } catch {
                H5Tclose(type)
                throw error
            }
            space = H5Screate(H5S_SCALAR)
        case .double:
            type = try check(H5Tcopy(lct_h5t_native_double()), "copy a type", file: path, object: object)
            space = H5Screate(H5S_SCALAR)
        case .int:
            type = try check(H5Tcopy(lct_h5t_native_int64()), "copy a type", file: path, object: object)
            space = H5Screate(H5S_SCALAR)
        case .doubles(let values):
            type = try check(H5Tcopy(lct_h5t_native_double()), "copy a type", file: path, object: object)
            space = H5Screate_simple(1, [hsize_t(values.count)], nil)
        }
        defer { H5Tclose(type) }
        try check(space, "create a dataspace", file: path, object: object)
        defer { H5Sclose(space) }
        let attribute = try check(
            H5Acreate_by_name(
                file, objectPath, name, type, space, lct_h5p_default(), lct_h5p_default(),
                lct_h5p_default()),
            "create attribute", file: path, object: object, hint: "check that \(objectPath) exists")
        var open = true
        defer { if open { H5Aclose(attribute) } }
        let status: herr_t
        switch value {
        case .string(let text):
            // A variable-length string is written as a pointer to its characters.
            status = text.withCString { characters in
                withUnsafePointer(to: characters) { H5Awrite(attribute, type, $0) }
            }
        case .double(let number):
            status = withUnsafePointer(to: number) { H5Awrite(attribute, type, $0) }
        case .int(let number):
            status = withUnsafePointer(to: Int64(number)) { H5Awrite(attribute, type, $0) }
        case .doubles(let values):
            status = values.withUnsafeBufferPointer { H5Awrite(attribute, type, $0.baseAddress) }
        }
        try check(status, "write attribute", file: path, object: object)
        open = false
        try check(H5Aclose(attribute), "close attribute", file: path, object: object)
    }

    /// Reads an attribute of a group or dataset: a string (variable or fixed length), an
    /// integer or floating-point scalar, or a 1-D floating-point array.
    /// The corresponding C functions are `H5Aopen_by_name` and `H5Aread`.
    public func attribute(_ name: String, at objectPath: String) throws(HDF5Error) -> HDF5AttributeValue {
        let file = openFileID()
        let object = "\(objectPath) attribute \(name)"
        let attribute = try check(
            H5Aopen_by_name(file, objectPath, name, lct_h5p_default(), lct_h5p_default()), "open attribute", file: path,
            object: object)
        defer { H5Aclose(attribute) }
        let type = try check(H5Aget_type(attribute), "get the type of attribute", file: path, object: object)
        defer { H5Tclose(type) }
        let space = try check(H5Aget_space(attribute), "get the shape of attribute", file: path, object: object)
        defer { H5Sclose(space) }
        let rank = try check(H5Sget_simple_extent_ndims(space), "get the rank of attribute", file: path, object: object)
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 {
            try check(
                H5Sget_simple_extent_dims(space, &dims, nil), "get the shape of attribute", file: path, object: object)
        }
        let typeClass = H5Tget_class(type)
        switch (typeClass, rank) {
        case (H5T_STRING, 0):
            return .string(try readString(attribute, type: type, object: object))
        case (H5T_INTEGER, 0):
            var number: Int64 = 0
            try check(H5Aread(attribute, lct_h5t_native_int64(), &number), "read attribute", file: path, object: object)
            return .int(Int(number))
        case (H5T_FLOAT, 0):
            var number = 0.0
            try check(
                H5Aread(attribute, lct_h5t_native_double(), &number), "read attribute", file: path, object: object)
            return .double(number)
        case (H5T_FLOAT, 1):
            var status: herr_t = 0
            let count = Int(dims[0])
            let values = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 { status = H5Aread(attribute, lct_h5t_native_double(), buffer.baseAddress) }
                initialized = status < 0 ? 0 : count
            }
            try check(status, "read attribute", file: path, object: object)
            return .doubles(values)
        default:
            throw HDF5Error(
                operation: "read attribute", file: path, object: object,
                message: "it is \(describe(type: type)) of shape \(dims.map { Int($0) })",
                hint: "lungct reads strings, integer and float scalars, and 1-D float arrays")
        }
    }

    // MARK: - Helpers

    /// The file id, after trapping on use after close() and silencing HDF5's stderr printing
    /// on the calling thread (see `silenceAutomaticErrorPrinting`).
    private func openFileID() -> hid_t {
        precondition(id >= 0, "\(path): HDF5File used after close()")
        silenceAutomaticErrorPrinting()
        return id
    }

    /// A link creation property list that creates missing groups on the way to an object,
    /// so writing "/image/hu" needs no separate createGroup("/image"). The caller closes it.
    /// The corresponding C function is `H5Pset_create_intermediate_group`.
    private func intermediateGroupsLinkList(for objectPath: String) throws(HDF5Error) -> hid_t {
        let list = try check(
            H5Pcreate(lct_h5p_link_create()), "create a link property list", file: path, object: objectPath)
        do throws(HDF5Error) {
            try check(
                H5Pset_create_intermediate_group(list, 1), "ask for intermediate groups", file: path,
                object: objectPath)
        } catch {
            H5Pclose(list)
            throw error
        }
        return list
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

    /// Reads a scalar string attribute, variable-length or fixed-length (h5py writes the
    /// former for `str`, the latter for `numpy.bytes_`).
    private func readString(_ attribute: hid_t, type: hid_t, object: String) throws(HDF5Error) -> String {
        let memoryType = try check(H5Tcopy(lct_h5t_c_s1()), "create a string type", file: path, object: object)
        defer { H5Tclose(memoryType) }
        try check(H5Tset_cset(memoryType, H5Tget_cset(type)), "set a string encoding", file: path, object: object)
        if try check(H5Tis_variable_str(type), "inspect a string type", file: path, object: object) > 0 {
            try check(
                H5Tset_size(memoryType, lct_h5t_variable()), "make a variable-length string type", file: path,
                object: object)
            var characters: UnsafeMutablePointer<CChar>?
            try check(H5Aread(attribute, memoryType, &characters), "read attribute", file: path, object: object)
            // HDF5 allocated the characters; only H5free_memory may release them.
            defer { H5free_memory(characters) }
            return characters.map { String(cString: $0) } ?? ""
        }
        let size = H5Tget_size(type)
        try check(H5Tset_size(memoryType, size), "make a fixed-length string type", file: path, object: object)
        try check(H5Tset_strpad(memoryType, H5Tget_strpad(type)), "set string padding", file: path, object: object)
        var bytes = [CChar](repeating: 0, count: size + 1)
        try check(H5Aread(attribute, memoryType, &bytes), "read attribute", file: path, object: object)
        var text = string(fromNullTerminated: bytes)
        if H5Tget_strpad(type) == H5T_STR_SPACEPAD {
            while text.hasSuffix(" ") { text.removeLast() }
        }
        return text
    }
}

/// "int32", "float64", "string": a short name for a type in an error message.
private func describe(type: hid_t) -> String {
    let bits = H5Tget_size(type) * 8
    switch H5Tget_class(type) {
    case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + "\(bits)"
    case H5T_FLOAT: return "float\(bits)"
    case H5T_STRING: return "a string"
    case H5T_COMPOUND: return "a compound type"
    case H5T_ENUM: return "an enum"
    default: return "an HDF5 type of class \(H5Tget_class(type).rawValue)"
    }
}

private func string(fromNullTerminated characters: [CChar]) -> String {
    String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
