internal import CHDF5

/// The element types lungct stores in datasets: HU (int16), labels (uint8), maps (float32),
/// indices (int32).
/// They are written in the machine's native byte order, little-endian on every platform
/// lungct runs on, so `h5dump` shows `H5T_STD_I16LE`, `H5T_STD_U8LE`, `H5T_IEEE_F32LE`.
public enum HDF5ElementType: String, Sendable, CaseIterable {
    case uint8, int16, int32, float32

    /// The in-memory HDF5 type; also used as the file type.
    var nativeTypeID: hid_t {
        switch self {
        case .uint8: lct_h5t_native_uint8()
        case .int16: lct_h5t_native_int16()
        case .int32: lct_h5t_native_int32()
        case .float32: lct_h5t_native_float()
        }
    }
}

/// A Swift type that HDF5Store reads and writes as a dataset element.
public protocol HDF5Element: BitwiseCopyable, Sendable {
    static var hdf5ElementType: HDF5ElementType { get }
}

extension UInt8: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .uint8 } }
extension Int16: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .int16 } }
extension Int32: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .int32 } }
extension Float: HDF5Element { public static var hdf5ElementType: HDF5ElementType { .float32 } }

/// A dataset read back into memory: its shape (slowest axis first, (z, y, x) for a volume)
/// and its values in that row-major order.
public struct HDF5Array<Element: HDF5Element>: Sendable {
    public var shape: [Int]
    public var values: [Element]
}

extension HDF5Array: Equatable where Element: Equatable {}

/// An attribute value. `h5py` reads each without custom code: `.string` as `str` (stored as
/// a variable-length UTF-8 string, because h5py 3 returns fixed-length strings as `bytes`),
/// `.double` as `float`, `.int` as `int` (int64), `.doubles` as a 1-D float64 array.
///
/// Matrices are stored flattened row-major in `.doubles`: a 3×3 direction matrix is 9
/// values, the layout SimpleITK's `GetDirection()` uses, and the attribute's documentation
/// in the study file schema says so. A 1-D array keeps every attribute reader one-dimensional.
public enum HDF5AttributeValue: Sendable, Equatable {
    case string(String)
    case double(Double)
    case int(Int)
    case doubles([Double])
}

/// A filter in a chunked dataset's pipeline, in the order HDF5 applies them when writing.
public enum HDF5Filter: Sendable, Equatable, CustomStringConvertible {
    case shuffle
    /// gzip; `level` is 0 (store) to 9 (smallest).
    case deflate(level: Int)
    /// A filter lungct does not write (Fletcher-32, szip, a plugin), by its registered id.
    case other(id: Int, name: String)

    public var description: String {
        switch self {
        case .shuffle: "shuffle"
        case .deflate(let level): "gzip \(level)"
        case .other(let id, let name): "\(name) (filter \(id))"
        }
    }
}

/// How zlib looks for repeats when lungct deflates a chunk. Either way the chunk is a zlib
/// stream that HDF5's deflate filter reads; the strategy changes only speed and size.
public enum HDF5DeflateStrategy: Sendable {
    /// zlib's default (`Z_DEFAULT_STRATEGY`): what HDF5's own filter writes (`compress2`).
    case standard
    /// zlib's `Z_RLE`: repeats of the previous byte only. Much faster on bytes that are runs or
    /// noise, as shuffled volumes often are; blind to longer repeats (a pattern every 64 bytes).
    /// With it, levels 1 to 9 make the same stream; level 0 stores.
    case runLength

    var zlibStrategy: Int32 {
        switch self {
        case .standard: Z_DEFAULT_STRATEGY
        case .runLength: Z_RLE
        }
    }
}

/// How a dataset is stored: what `h5dump -p -H` reports, for checks and tests.
public struct HDF5DatasetInfo: Sendable, Equatable {
    /// Extent, slowest axis first.
    public var shape: [Int]
    /// The element type, or nil when the file holds a type lungct does not write.
    public var elementType: HDF5ElementType?
    /// Chunk extent, or nil when the dataset is contiguous or compact.
    public var chunk: [Int]?
    public var filters: [HDF5Filter]
}
