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
        // HDF5 1.10 would spin forever on such an image (GlobalHeapCheck says why).
        if let problem = GlobalHeapCheck.problem(in: image) {
            throw HDF5Error(operation: "open the file for reading", file: path, message: problem)
        }
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

    // MARK: - Helpers shared by the dataset and attribute extensions

    /// The file id, after trapping on use after close() and silencing HDF5's stderr printing
    /// on the calling thread (see `silenceAutomaticErrorPrinting`).
    func openFileID() -> hid_t {
        precondition(id >= 0, "\(path): HDF5File used after close()")
        silenceAutomaticErrorPrinting()
        return id
    }

    /// A link creation property list that creates missing groups on the way to an object,
    /// so writing "/image/hu" needs no separate createGroup("/image"). The caller closes it.
    /// The corresponding C function is `H5Pset_create_intermediate_group`.
    func intermediateGroupsLinkList(for objectPath: String) throws(HDF5Error) -> hid_t {
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
}

/// "int32", "float64", "string": a short name for a type in an error message.
func describe(type: hid_t) -> String {
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

/// The text before the first NUL of a C character buffer, as UTF-8.
func string(fromNullTerminated characters: [CChar]) -> String {
    String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
