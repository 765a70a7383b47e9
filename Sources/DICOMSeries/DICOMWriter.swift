internal import CDCMTK
import Dispatch
import Foundation
import VolumeCore

/// Transfer syntaxes lungct can write (the phantom uses them to exercise every decoder).
public enum OutputTransferSyntax: String, CaseIterable, Sendable {
    case explicitLittle = "explicit"
    case implicitLittle = "implicit"
    case rle = "rle"
    case jpegLossless = "jpeg-lossless"
    case jpegLS = "jpeg-ls"

    var cValue: lct_transfer_syntax {
        switch self {
        case .explicitLittle: LCT_TS_EXPLICIT_LE
        case .implicitLittle: LCT_TS_IMPLICIT_LE
        case .rle: LCT_TS_RLE
        case .jpegLossless: LCT_TS_JPEG_LOSSLESS
        case .jpegLS: LCT_TS_JPEG_LS_LOSSLESS
        }
    }
}

/// Identifying attributes for a series lungct writes.
public struct SeriesIdentity: Sendable {
    public var studyInstanceUID = DICOMWriter.newUID()
    public var seriesInstanceUID = DICOMWriter.newUID()
    public var frameOfReferenceUID = DICOMWriter.newUID()
    public var seriesNumber = 1
    public var seriesDescription = "lungct phantom"
    public var imageType = "ORIGINAL\\PRIMARY\\AXIAL"
    public var convolutionKernel = "LUNG"
    public var patientName = "PHANTOM^LUNGCT"
    public var patientID = "PHANTOM"
    public var patientPosition = "HFS"
    public var studyDate = "20260101"

    public init() {}
}

public enum DICOMWriter {
    /// A new UID from DCMTK's generator.
    public static func newUID() -> String {
        var buffer = [CChar](repeating: 0, count: 80)
        lct_dcm_new_uid(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes an int16 HU volume as a CT series, one file per slice, stored as unsigned
    /// 12-bit-style values with Rescale Intercept −1024 when the range allows (as most
    /// scanners do), signed otherwise. `fileNames[k]` names slice k's file; `instanceNumbers[k]`
    /// its (0020,0013). Returns the paths written.
    @discardableResult
    public static func writeCTSeries(
        _ volume: Volume<Int16>, to folder: String, identity: SeriesIdentity,
        syntax: OutputTransferSyntax, fileNames: [String], instanceNumbers: [Int]
    ) throws(DICOMError) -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw DICOMError(
                .writeFailed, path: folder, message: "\(folder): cannot create folder: \(error.localizedDescription)")
        }
        let geometry = volume.geometry
        let minimum = volume.voxels.min() ?? 0
        let maximum = volume.voxels.max() ?? 0
        let intercept = -1024
        let unsigned = Int(minimum) >= intercept && Int(maximum) - intercept < 65536
        let planeSize = geometry.size.x * geometry.size.y
        let paths = fileNames.map { folder + "/" + $0 }
        let errors = ConcurrentResults<DICOMError>(count: geometry.size.z)
        DispatchQueue.concurrentPerform(iterations: geometry.size.z) { k in
            let plane = volume.voxels[(k * planeSize)..<((k + 1) * planeSize)]
            let stored: [UInt16] =
                unsigned ? plane.map { UInt16(Int($0) - intercept) } : plane.map { UInt16(bitPattern: $0) }
            let position = geometry.physicalPoint(i: 0, j: 0, k: Double(k))
            let row = geometry.direction[0]
            let column = geometry.direction[1]
            do throws(DICOMError) {
                try writeImage(
                    path: paths[k],
                    pixels: stored,
                    description: ImageDescription(
                        sopClassUID: SOPClass.ctImage, sopInstanceUID: newUID(), identity: identity, modality: "CT",
                        instanceNumber: instanceNumbers[k], rows: geometry.size.y, columns: geometry.size.x,
                        bitsStored: 16, signed: !unsigned, photometric: "MONOCHROME2",
                        pixelSpacing: (geometry.spacing.y, geometry.spacing.x), sliceThickness: geometry.spacing.z,
                        position: position, orientation: [row.x, row.y, row.z, column.x, column.y, column.z],
                        rescale: (1, unsigned ? Double(intercept) : 0)),
                    syntax: syntax)
            } catch {
                errors[k] = error
            }
        }
        if let error = errors.values.compactMap({ $0 }).first { throw error }
        return paths
    }

    /// What goes into one image file.
    public struct ImageDescription: Sendable {
        public var sopClassUID: String
        public var sopInstanceUID: String
        public var identity: SeriesIdentity
        public var modality: String
        public var instanceNumber: Int
        public var rows: Int
        public var columns: Int
        public var bitsStored: Int
        public var signed: Bool
        public var photometric: String
        public var pixelSpacing: (row: Double, column: Double)
        public var sliceThickness: Double
        public var position: Vector3?
        public var orientation: [Double]?
        public var rescale: (slope: Double, intercept: Double)?

        public init(
            sopClassUID: String, sopInstanceUID: String, identity: SeriesIdentity, modality: String,
            instanceNumber: Int, rows: Int, columns: Int, bitsStored: Int, signed: Bool, photometric: String,
            pixelSpacing: (row: Double, column: Double), sliceThickness: Double = 0, position: Vector3? = nil,
            orientation: [Double]? = nil, rescale: (slope: Double, intercept: Double)? = nil
        ) {
            self.sopClassUID = sopClassUID
            self.sopInstanceUID = sopInstanceUID
            self.identity = identity
            self.modality = modality
            self.instanceNumber = instanceNumber
            self.rows = rows
            self.columns = columns
            self.bitsStored = bitsStored
            self.signed = signed
            self.photometric = photometric
            self.pixelSpacing = pixelSpacing
            self.sliceThickness = sliceThickness
            self.position = position
            self.orientation = orientation
            self.rescale = rescale
        }
    }

    /// Writes one single-frame monochrome image (8- or 16-bit samples).
    public static func writeImage<Sample: FixedWidthInteger>(
        path: String, pixels: [Sample], description d: ImageDescription, syntax: OutputTransferSyntax
    ) throws(DICOMError) {
        var message = [CChar](repeating: 0, count: 1024)
        let strings = [
            d.sopClassUID, d.sopInstanceUID, d.identity.studyInstanceUID, d.identity.seriesInstanceUID,
            d.position == nil ? "" : d.identity.frameOfReferenceUID, d.modality, d.identity.imageType,
            d.identity.seriesDescription, d.position == nil ? "" : d.identity.convolutionKernel,
            d.identity.patientName, d.identity.patientID, d.position == nil ? "" : d.identity.patientPosition,
            d.photometric, d.identity.studyDate,
        ].map { (text: String) in strdup(text)! }
        defer { for string in strings { free(string) } }
        var c = lct_image_description()
        c.sop_class_uid = UnsafePointer(strings[0])
        c.sop_instance_uid = UnsafePointer(strings[1])
        c.study_instance_uid = UnsafePointer(strings[2])
        c.series_instance_uid = UnsafePointer(strings[3])
        c.frame_of_reference_uid = UnsafePointer(strings[4])
        c.modality = UnsafePointer(strings[5])
        c.image_type = UnsafePointer(strings[6])
        c.series_description = UnsafePointer(strings[7])
        c.convolution_kernel = UnsafePointer(strings[8])
        c.patient_name = UnsafePointer(strings[9])
        c.patient_id = UnsafePointer(strings[10])
        c.patient_position = UnsafePointer(strings[11])
        c.photometric = UnsafePointer(strings[12])
        c.study_date = UnsafePointer(strings[13])
        c.series_number = Int32(d.identity.seriesNumber)
        c.instance_number = Int32(d.instanceNumber)
        c.rows = UInt16(d.rows)
        c.columns = UInt16(d.columns)
        c.bits_allocated = UInt16(Sample.bitWidth)
        c.bits_stored = UInt16(d.bitsStored)
        c.pixel_representation = d.signed ? 1 : 0
        c.pixel_spacing = (d.pixelSpacing.row, d.pixelSpacing.column)
        c.slice_thickness = d.sliceThickness
        if let position = d.position, let o = d.orientation, o.count == 6 {
            c.has_geometry = 1
            c.image_position = (position.x, position.y, position.z)
            c.image_orientation = (o[0], o[1], o[2], o[3], o[4], o[5])
        }
        if let rescale = d.rescale {
            c.has_rescale = 1
            c.rescale_slope = rescale.slope
            c.rescale_intercept = rescale.intercept
        }
        let status = pixels.withUnsafeBytes { bytes in
            lct_dcm_write_image(path, &c, bytes.baseAddress, bytes.count, syntax.cValue, &message, message.count)
        }
        try check(status, path: path, message: message)
    }
}
