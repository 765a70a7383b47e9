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
    /// scl_slope / scl_inter; a slope of 0 means "no scaling" (NIfTI-1 standard), and the
    /// intercept is then 0 too. Both are finite (a header with non-finite scaling is refused).
    public var slope: Double
    public var intercept: Double
    /// The geometry, from the sform when its code is set and it is usable, else the qform, else
    /// pixdim alone (see `warnings`).
    public var geometry: Geometry
    /// Which transform the geometry came from: "sform", "qform" or "pixdim".
    public var transform: String
    public var description: String
    /// What reading assumed or found, one sentence each for a report: `readHeader` adds the
    /// transforms it set aside and a spacing taken from pixdim alone; `read` adds the voxels
    /// read as 0 and those kept as float32 because int16 cannot hold them.
    public var warnings: [String] = []
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
    /// Reads the header of a `.nii` or `.nii.gz` (NIfTI-1 or NIfTI-2) and checks it before any
    /// voxel is read: dim, the size of the voxel data against the file's, the scaling and the
    /// transform (`NIfTIHeaderChecks.swift`, `NIfTITransform.swift`). What it had to assume is in
    /// `warnings`. The corresponding nifticlib calls are `nifti_image_read` with `read_data` 0
    /// and `nifti_read_n1_hdr` / `nifti_read_n2_hdr`.
    public static func readHeader(_ path: String) throws(NIfTIError) -> NIfTIHeader {
        var raw = lct_nifti_header()
        var message = [CChar](repeating: 0, count: 1024)
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw NIfTIError(path: path, message: "\(path): no such file or not readable")
        }
        if lct_nifti_read_header(path, &raw, &message, message.count) != 0 {
            throw NIfTIError(path: path, message: cString(message))
        }
        let size = try checkedSize(raw, path: path)
        try checkVoxelDataFits(raw, size: size, path: path)
        let scaling = try checkedScaling(raw, path: path)
        let (geometry, transform, warnings) = try chooseGeometry(raw, size: size, path: path)
        return NIfTIHeader(
            version: Int(raw.version), size: size, datatype: Int(raw.datatype), bytesPerVoxel: Int(raw.bytes_per_voxel),
            slope: scaling.slope, intercept: scaling.intercept, geometry: geometry, transform: transform,
            description: cString(withUnsafeBytes(of: raw.descrip) { Array($0.bindMemory(to: CChar.self)) }),
            warnings: warnings)
    }

    /// Reads a volume with scl_slope/scl_inter applied: int16 when the stored type and the
    /// scaling keep every value an exact int16, float32 otherwise. NaN and infinite voxels are
    /// read as 0 and counted; values outside int16 are kept (as float32) and counted; a value
    /// beyond float32 is refused. The header's `warnings` say what was found.
    public static func read(_ path: String) throws(NIfTIError) -> (HUVolume, NIfTIHeader) {
        var header = try readHeader(path)
        do {
            try VolumeLimits.checkAllocation(header.size, bytesPerVoxel: max(header.bytesPerVoxel, 4), source: path)
        } catch {
            throw NIfTIError(path: path, message: error.description)
        }
        let raw = try readStored(path, bytes: header.size.count * header.bytesPerVoxel)
        let scaled = header.slope != 0 && !(header.slope == 1 && header.intercept == 0)
        if !scaled, Int32(header.datatype) == Int32(LCT_NII_INT16) {
            let voxels = raw.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
            return (.int16(Volume(geometry: header.geometry, voxels: voxels)), header)
        }
        var values = try storedValues(raw, header: header, path: path)
        var nonFinite = 0
        var outsideInt16 = 0
        var largest = 0.0
        var wholeInt16 = true
        for index in values.indices {
            var value = values[index]
            if scaled { value = value * header.slope + header.intercept }
            if value.isNaN {
                nonFinite += 1
                value = 0
            } else if value < -32768 || value > 32767 {
                outsideInt16 += 1
                largest = max(largest, abs(value))
            } else if value != value.rounded() {
                wholeInt16 = false
            }
            values[index] = value
        }
        header.nonFiniteVoxels = nonFinite
        if largest > Double(Float.greatestFiniteMagnitude) {
            let scaling =
                scaled
                ? " (stored value × scl_slope \(number(header.slope)) + scl_inter \(number(header.intercept)))" : ""
            throw NIfTIError(
                path: path,
                message:
                    "\(path): a voxel value reaches \(number(largest))\(scaling), beyond what float32 holds; the scaling or the "
                    + "data is damaged")
        }
        if nonFinite > 0 { header.warnings.append("\(nonFinite) voxels are NaN or infinite: read as 0") }
        if outsideInt16 > 0 {
            header.warnings.append(
                "\(outsideInt16) voxels lie outside the int16 range -32768...32767 (magnitude up to \(number(largest))): kept as "
                    + "float32; an int16 HU volume made from them clamps them")
        }
        if wholeInt16, outsideInt16 == 0 {
            return (.int16(Volume(geometry: header.geometry, voxels: values.map { Int16($0) })), header)
        }
        return (.float32(Volume(geometry: header.geometry, voxels: values.map { Float($0) })), header)
    }

    /// The voxel bytes as stored, `bytes` of them. The buffer is not zero-filled first: memory is
    /// touched only where the read puts data, so a short file costs what it holds, not what its
    /// header claims. The corresponding C function is `lct_nifti_read_data`.
    static func readStored(_ path: String, bytes: Int) throws(NIfTIError) -> [UInt8] {
        var message = [CChar](repeating: 0, count: 1024)
        var status: Int32 = 0
        let raw = [UInt8](unsafeUninitializedCapacity: bytes) { buffer, initialized in
            status = lct_nifti_read_data(path, buffer.baseAddress, buffer.count, &message, message.count)
            initialized = status == 0 ? buffer.count : 0
        }
        if status != 0 { throw NIfTIError(path: path, message: cString(message)) }
        return raw
    }

    /// The stored voxels as numbers, NaN for a non-finite float.
    static func storedValues(_ raw: [UInt8], header: NIfTIHeader, path: String) throws(NIfTIError) -> [Double] {
        switch Int32(header.datatype) {
        case Int32(LCT_NII_INT16): raw.withUnsafeBytes { $0.bindMemory(to: Int16.self).map(Double.init) }
        case Int32(LCT_NII_UINT8): raw.map(Double.init)
        case Int32(LCT_NII_INT8): raw.map { Double(Int8(bitPattern: $0)) }
        case Int32(LCT_NII_UINT16): raw.withUnsafeBytes { $0.bindMemory(to: UInt16.self).map(Double.init) }
        case Int32(LCT_NII_INT32): raw.withUnsafeBytes { $0.bindMemory(to: Int32.self).map(Double.init) }
        case Int32(LCT_NII_UINT32): raw.withUnsafeBytes { $0.bindMemory(to: UInt32.self).map(Double.init) }
        case Int32(LCT_NII_FLOAT32):
            raw.withUnsafeBytes { $0.bindMemory(to: Float.self).map { $0.isFinite ? Double($0) : .nan } }
        case Int32(LCT_NII_FLOAT64):
            raw.withUnsafeBytes { $0.bindMemory(to: Double.self).map { $0.isFinite ? $0 : .nan } }
        default:
            throw NIfTIError(
                path: path,
                message: "\(path): NIfTI datatype \(header.datatype) is not supported (use an integer or float type)")
        }
    }

    /// Writes a 3D volume as NIfTI-1 (`.nii` or `.nii.gz`), with its geometry converted from
    /// LPS to RAS in both sform and qform (code 1, scanner anatomical), so it overlays the
    /// DICOM series it came from in 3D Slicer and ITK-SNAP. A `.nii.gz` is compressed at gzip
    /// level 1 with zlib's run-length strategy, twice as fast as the default level 6 on
    /// lungct's maps and masks and as small (cnifti.c says what was measured): the header as
    /// one gzip member, then one member per slice, made on every core (`GzipSlices`). The file
    /// appears atomically: it is written under a temporary name, checked by reading its header
    /// back, then renamed.
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
        let compressed = path.hasSuffix(".gz")
        let status = volume.voxels.withUnsafeBytes { bytes in
            withUnsafePointer(to: &affine) { pointer in
                pointer.withMemoryRebound(to: (Double, Double, Double, Double).self, capacity: 4) { rows in
                    compressed
                        ? lct_nifti_write_header(
                            temporary, dims, pixdim, V.niftiDatatype, rows, description, &message,
                            message.count)
                        : lct_nifti_write(
                            temporary, dims, pixdim, V.niftiDatatype, bytes.baseAddress, rows, description, &message,
                            message.count)
                }
            }
        }
        if status != 0 {
            try? FileManager.default.removeItem(atPath: temporary)
            throw NIfTIError(path: path, message: cString(message))
        }
        if compressed {
            let sliceBytes = geometry.size.x * geometry.size.y * MemoryLayout<V>.stride
            let appended = volume.voxels.withUnsafeBytes { bytes in
                Result { () throws(NIfTIError) in try GzipSlices.append(bytes, sliceBytes: sliceBytes, to: temporary) }
            }
            if case .failure(let error) = appended {
                try? FileManager.default.removeItem(atPath: temporary)
                throw NIfTIError(path: path, message: error.message.replacingOccurrences(of: temporary, with: path))
            }
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
