internal import CHDF5

/// Attributes on groups and datasets: the metadata (units, provenance, model parameters)
/// beside the arrays.
extension HDF5File {
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
        try check(write(value, to: attribute, type: type), "write attribute", file: path, object: object)
        open = false
        try check(H5Aclose(attribute), "close attribute", file: path, object: object)
    }

    /// Hands the value's bytes to `H5Awrite` in the layout `type` describes; returns its status.
    private func write(_ value: HDF5AttributeValue, to attribute: hid_t, type: hid_t) -> herr_t {
        switch value {
        case .string(let text):
            // A variable-length string is written as a pointer to its characters.
            return text.withCString { characters in
                withUnsafePointer(to: characters) { H5Awrite(attribute, type, $0) }
            }
        case .double(let number):
            return withUnsafePointer(to: number) { H5Awrite(attribute, type, $0) }
        case .int(let number):
            return withUnsafePointer(to: Int64(number)) { H5Awrite(attribute, type, $0) }
        case .doubles(let values):
            return values.withUnsafeBufferPointer { H5Awrite(attribute, type, $0.baseAddress) }
        }
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
