internal import CNIfTI
import Foundation
import VolumeCore

/// A NIfTI file lungct could not read or write.
public struct NIfTIError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { message.hasPrefix(path) ? message : "\(path): \(message)" }
}

/// The parts of a NIfTI-1/NIfTI-2 header lungct uses.
public struct NIfTIHeader: Sendable {
    public var version: Int
    public var size: Size3
    /// NIfTI datatype code (nifti1.h: 2 uint8, 4 int16, 16 float32, ...).
    public var datatype: Int
    public var bytesPerVoxel: Int
    /// scl_slope / scl_inter; a slope of 0 means "no scaling" (NIfTI-1 standard).
    public var slope: Double
    public var intercept: Double
    /// The geometry, from the sform when its code is set, else the qform, else pixdim alone.
    public var geometry: Geometry
    /// Which transform the geometry came from: "sform", "qform" or "pixdim".
    public var transform: String
    public var description: String
    /// Set by `read`: float voxels that were NaN or infinite, read as 0.
    public var nonFiniteVoxels = 0
}

/// A voxel type lungct writes to NIfTI.
public protocol NIfTIVoxel: Sendable {
    static var niftiDatatype: Int32 { get }
}

extension UInt8: NIfTIVoxel { public static var niftiDatatype: Int32 { Int32(LCT_NII_UINT8) } }
extension Int16: NIfTIVoxel { public static var niftiDatatype: Int32 { Int32(LCT_NII_INT16) } }
extension Float: NIfTIVoxel { public static var niftiDatatype: Int32 { Int32(LCT_NII_FLOAT32) } }

public enum NIfTI {
    /// Reads the header of a `.nii` or `.nii.gz` (NIfTI-1 or NIfTI-2).
    /// The corresponding nifticlib call is `nifti_image_read` with `read_data` 0.
    public static func readHeader(_ path: String) throws(NIfTIError) -> NIfTIHeader {
        var raw = lct_nifti_header()
        var message = [CChar](repeating: 0, count: 1024)
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw NIfTIError(path: path, message: "\(path): no such file or not readable")
        }
        if lct_nifti_read_header(path, &raw, &message, message.count) != 0 {
            throw NIfTIError(path: path, message: cString(message))
        }
        let dims = withUnsafeBytes(of: raw.dim) { Array($0.bindMemory(to: Int64.self)) }
        let rank = Int(dims[0])
        guard rank >= 1, rank <= 7 else {
            throw NIfTIError(path: path, message: "\(path): dim[0] = \(rank) is not a valid NIfTI rank")
        }
        let extents = (1...7).map { $0 <= rank ? max(1, Int(dims[$0])) : 1 }
        if extents[3...].contains(where: { $0 > 1 }) {
            throw NIfTIError(
                path: path,
                message:
                    "\(path): a \(rank)D image (\(extents.prefix(rank).map(String.init).joined(separator: "×"))): lungct reads 3D volumes; extract one volume first (for example with fslroi)"
            )
        }
        let size = Size3(extents[0], extents[1], extents[2])
        let pixdim = withUnsafeBytes(of: raw.pixdim) { Array($0.bindMemory(to: Double.self)) }
        let geometry: Geometry
        let transform: String
        if raw.sform_code > 0 {
            geometry = Geometry(size: size, affineRAS: matrix(raw.sto_xyz))
            transform = "sform"
        } else if raw.qform_code > 0 {
            geometry = Geometry(size: size, affineRAS: matrix(raw.qto_xyz))
            transform = "qform"
        } else {
            // No transform: ANALYZE-style voxel grid in RAS with pixdim spacing (NIfTI-1 method 1).
            let spacing = (1...3).map { abs(pixdim[$0]) > 0 ? abs(pixdim[$0]) : 1 }
            geometry = Geometry(
                size: size,
                affineRAS: [[spacing[0], 0, 0, 0], [0, spacing[1], 0, 0], [0, 0, spacing[2], 0], [0, 0, 0, 1]])
            transform = "pixdim"
        }
        return NIfTIHeader(
            version: Int(raw.version), size: size, datatype: Int(raw.datatype), bytesPerVoxel: Int(raw.bytes_per_voxel),
            slope: raw.scl_slope, intercept: raw.scl_inter, geometry: geometry, transform: transform,
            description: cString(withUnsafeBytes(of: raw.descrip) { Array($0.bindMemory(to: CChar.self)) }))
    }

    /// Reads a volume with scl_slope/scl_inter applied: int16 when the stored type and the
    /// scaling keep every value an exact int16, float32 otherwise.
    public static func read(_ path: String) throws(NIfTIError) -> (HUVolume, NIfTIHeader) {
        var header = try readHeader(path)
        do {
            try VolumeLimits.checkAllocation(header.size, bytesPerVoxel: max(header.bytesPerVoxel, 4), source: path)
        } catch {
            throw NIfTIError(path: path, message: error.description)
        }
        let count = header.size.count
        var raw = [UInt8](repeating: 0, count: count * header.bytesPerVoxel)
        var message = [CChar](repeating: 0, count: 1024)
        let status = raw.withUnsafeMutableBytes {
            lct_nifti_read_data(path, $0.baseAddress, $0.count, &message, message.count)
        }
        if status != 0 { throw NIfTIError(path: path, message: cString(message)) }

        let scaled = header.slope != 0 && !(header.slope == 1 && header.intercept == 0)
        let slope = scaled ? header.slope : 1
        let intercept = scaled ? header.intercept : 0
        var values: [Double]
        switch Int32(header.datatype) {
        case Int32(LCT_NII_INT16):
            if !scaled {
                let voxels = raw.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
                return (.int16(Volume(geometry: header.geometry, voxels: voxels)), header)
            }
            values = raw.withUnsafeBytes { $0.bindMemory(to: Int16.self).map(Double.init) }
        case Int32(LCT_NII_UINT8): values = raw.map(Double.init)
        case Int32(LCT_NII_INT8): values = raw.map { Double(Int8(bitPattern: $0)) }
        case Int32(LCT_NII_UINT16): values = raw.withUnsafeBytes { $0.bindMemory(to: UInt16.self).map(Double.init) }
        case Int32(LCT_NII_INT32): values = raw.withUnsafeBytes { $0.bindMemory(to: Int32.self).map(Double.init) }
        case Int32(LCT_NII_UINT32): values = raw.withUnsafeBytes { $0.bindMemory(to: UInt32.self).map(Double.init) }
        case Int32(LCT_NII_FLOAT32):
            values = raw.withUnsafeBytes { $0.bindMemory(to: Float.self).map { $0.isFinite ? Double($0) : .nan } }
        case Int32(LCT_NII_FLOAT64):
            values = raw.withUnsafeBytes { $0.bindMemory(to: Double.self).map { $0.isFinite ? $0 : .nan } }
        default:
            throw NIfTIError(
                path: path,
                message: "\(path): NIfTI datatype \(header.datatype) is not supported (use an integer or float type)")
        }
        raw = []
        // NaN and infinite voxels are read as 0 (as nifticlib's own reader does); the header
        // counts them so the caller can say so.
        header.nonFiniteVoxels = values.reduce(0) { $0 + ($1.isNaN ? 1 : 0) }
        if header.nonFiniteVoxels > 0 { values = values.map { $0.isNaN ? 0 : $0 } }
        let exact =
            values.allSatisfy { value in
                let v = value * slope + intercept
                return v == v.rounded() && v >= -32768 && v <= 32767
            }
        if exact {
            return (
                .int16(Volume(geometry: header.geometry, voxels: values.map { Int16($0 * slope + intercept) })), header
            )
        }
        return (
            .float32(Volume(geometry: header.geometry, voxels: values.map { Float($0 * slope + intercept) })), header
        )
    }

    /// Writes a 3D volume as NIfTI-1 (`.nii` or `.nii.gz`), with its geometry converted from
    /// LPS to RAS in both sform and qform (code 1, scanner anatomical), so it overlays the
    /// DICOM series it came from in 3D Slicer and ITK-SNAP. The file appears atomically: it is
    /// written under a temporary name, checked by reading its header back, then renamed.
    public static func write<V: NIfTIVoxel>(_ volume: Volume<V>, to path: String, description: String = "lungct")
        throws(NIfTIError)
    {
        guard path.hasSuffix(".nii") || path.hasSuffix(".nii.gz") else {
            throw NIfTIError(path: path, message: "\(path): a NIfTI file name must end in .nii or .nii.gz")
        }
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NIfTIError(path: path, message: "\(path): folder \(folder) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw NIfTIError(path: path, message: "\(path): folder \(folder) is not writable")
        }
        let temporary = folder + "/.lungct-partial-\(getpid())-" + url.lastPathComponent
        let geometry = volume.geometry
        let dims: [Int64] = [Int64(geometry.size.x), Int64(geometry.size.y), Int64(geometry.size.z)]
        let pixdim = [geometry.spacing.x, geometry.spacing.y, geometry.spacing.z]
        let ras = geometry.affineRAS
        var affine = (
            (ras[0][0], ras[0][1], ras[0][2], ras[0][3]), (ras[1][0], ras[1][1], ras[1][2], ras[1][3]),
            (ras[2][0], ras[2][1], ras[2][2], ras[2][3]), (0.0, 0.0, 0.0, 1.0)
        )
        var message = [CChar](repeating: 0, count: 1024)
        let status = volume.voxels.withUnsafeBytes { bytes in
            withUnsafePointer(to: &affine) { pointer in
                pointer.withMemoryRebound(to: (Double, Double, Double, Double).self, capacity: 4) { rows in
                    lct_nifti_write(
                        temporary, dims, pixdim, V.niftiDatatype, bytes.baseAddress, rows, description, &message,
                        message.count)
                }
            }
        }
        if status != 0 {
            try? FileManager.default.removeItem(atPath: temporary)
            throw NIfTIError(path: path, message: cString(message))
        }
        // nifti_image_write reports no errors: read the header back and check the size.
        do throws(NIfTIError) {
            let check = try readHeader(temporary)
            guard check.size == geometry.size else { throw NIfTIError(path: path, message: "size mismatch") }
            if path.hasSuffix(".nii") {
                let attributes = try? FileManager.default.attributesOfItem(atPath: temporary)
                let bytes = (attributes?[.size] as? NSNumber)?.intValue ?? 0
                guard bytes >= 352 + geometry.size.count * MemoryLayout<V>.size else {
                    throw NIfTIError(path: path, message: "short file")
                }
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw NIfTIError(
                path: path, message: "\(path): writing failed (disk full or not writable?): \(error.message)")
        }
        if rename(temporary, path) != 0 {
            try? FileManager.default.removeItem(atPath: temporary)
            throw NIfTIError(
                path: path,
                message: "\(path): cannot rename the finished file into place: \(String(cString: strerror(errno)))")
        }
    }

    static func matrix(
        _ m: (
            (Double, Double, Double, Double), (Double, Double, Double, Double), (Double, Double, Double, Double),
            (Double, Double, Double, Double)
        )
    ) -> [[Double]] {
        [
            [m.0.0, m.0.1, m.0.2, m.0.3], [m.1.0, m.1.1, m.1.2, m.1.3], [m.2.0, m.2.1, m.2.2, m.2.3],
            [m.3.0, m.3.1, m.3.2, m.3.3],
        ]
    }

    static func cString(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
