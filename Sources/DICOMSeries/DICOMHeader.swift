internal import CDCMTK
import VolumeCore

/// The attributes of one DICOM file that lungct uses to group, order, select and decode,
/// read without its pixel data (PS3.3 C.7.6.2 Image Plane, C.7.6.3 Image Pixel, C.11.1
/// Modality LUT). Patient identifiers are kept only for `--keep-phi`.
public struct DICOMHeader: Sendable {
    public var path: String
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var frameOfReferenceUID: String
    public var transferSyntaxUID: String
    public var mediaStorageSOPClassUID: String
    /// (0008,0060) Modality; when the element is missing, the modality the SOP Class UID
    /// implies (`modalityInferred` is then true).
    public var modality: String
    /// Whether `modality` was taken from (0008,0016) SOP Class UID because (0008,0060) is missing.
    public var modalityInferred = false
    /// (0008,0008) Image Type, e.g. ["ORIGINAL", "PRIMARY", "AXIAL"].
    public var imageType: [String]
    public var seriesDescription: String
    public var convolutionKernel: String
    public var manufacturer: String
    public var photometricInterpretation: String
    public var bodyPartExamined: String
    public var viewPosition: String
    public var patientPosition: String
    /// (0028,2110) Lossy Image Compression is "01".
    public var lossyCompressionFlag: Bool
    /// (0028,0301) Burned In Annotation, when present.
    public var burnedInAnnotation: Bool?
    public var seriesNumber: Int?
    public var instanceNumber: Int?
    public var acquisitionNumber: Int?
    public var temporalPosition: Int?
    public var rows: Int
    public var columns: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    /// (0028,0103) Pixel Representation: true for two's complement.
    public var isSigned: Bool
    public var samplesPerPixel: Int
    /// (0028,0006) Planar Configuration: 0 colour-by-pixel, 1 colour-by-plane.
    public var planarConfiguration: Int
    /// (0028,0008) Number of Frames, at least 1 (1 when absent).
    public var numberOfFrames: Int
    /// (0028,0008) Number of Frames as written (0 and negatives included), nil when absent.
    public var declaredNumberOfFrames: Int?
    /// (5200,9229) Shared or (5200,9230) Per-Frame Functional Groups Sequence present (PS3.3 C.7.6.16).
    public var hasFunctionalGroups: Bool
    /// The frame of a multi-frame object this header stands for (0-based), with that frame's place
    /// and rescale from its functional groups; nil for a file read as one image.
    public var frameIndex: Int?
    /// Encapsulated pixel data: the fragments after the Basic Offset Table (PS3.5 A.4).
    public var fragmentCount: Int
    public var hasPixelData: Bool
    /// Length of (7FE0,0010) in bytes, or nil when the pixel data is encapsulated (compressed).
    public var pixelDataLength: Int?
    /// Where native pixel data lies in the file, for the pixel load's single read (nil: read
    /// through DCMTK).
    var nativePixelData: NativePixelData?
    /// (0028,0030) Pixel Spacing: distance between rows, then between columns, in mm.
    public var pixelSpacing: (row: Double, column: Double)?
    /// (0018,1164) Imager Pixel Spacing (radiographs: at the detector).
    public var imagerPixelSpacing: (row: Double, column: Double)?
    public var sliceThickness: Double?
    /// (0020,0032) Image Position (Patient): centre of the first transmitted voxel, LPS mm.
    public var imagePosition: Vector3?
    /// (0020,0037) Image Orientation (Patient): the direction of a row (index i grows), then of a column.
    public var rowDirection: Vector3?
    public var columnDirection: Vector3?
    public var rescaleSlope: Double?
    public var rescaleIntercept: Double?
    public var gantryTilt: Double?
    public var window: (center: Double, width: Double)?
    public var hasVOILUTSequence: Bool
    public var pixelPaddingValue: Int?
    public var pixelPaddingRangeLimit: Int?
    // Identifiers: never written to outputs unless the user asks (--keep-phi).
    public var patientName: String
    public var patientID: String
    public var studyDate: String
    public var patientBirthDate: String

    /// Reads the header of one file, stopping before (7FE0,0010) Pixel Data. A deflated data set
    /// that inflates beyond `DeflateLimits.maximumInflatedBytes` throws `.tooLarge` before it
    /// is inflated.
    public static func read(path: String) throws(DICOMError) -> DICOMHeader {
        var raw = lct_dicom_header()
        var message = [CChar](repeating: 0, count: 1024)
        let status = lct_dcm_read_header(path, DeflateLimits.maximumInflatedBytes, &raw, &message, message.count)
        try check(status, path: path, message: message)
        return DICOMHeader(raw, path: path)
    }

    init(_ h: lct_dicom_header, path: String) {
        self.path = path
        sopClassUID = string(fromTuple: h.sop_class_uid)
        sopInstanceUID = string(fromTuple: h.sop_instance_uid)
        studyInstanceUID = string(fromTuple: h.study_instance_uid)
        seriesInstanceUID = string(fromTuple: h.series_instance_uid)
        frameOfReferenceUID = string(fromTuple: h.frame_of_reference_uid)
        transferSyntaxUID = string(fromTuple: h.transfer_syntax_uid)
        mediaStorageSOPClassUID = string(fromTuple: h.media_storage_sop_class_uid)
        modality = string(fromTuple: h.modality).uppercased()
        if modality.isEmpty, let implied = SOPClass.impliedModality[sopClassUID] {
            // dcm2niix and viewers read such files; a CT Image Storage object is CT whatever
            // its (0008,0060) says, and this one says nothing.
            modality = implied
            modalityInferred = true
        }
        imageType = string(fromTuple: h.image_type).split(separator: "\\").map {
            String($0).trimmingSpaces().uppercased()
        }
        seriesDescription = string(fromTuple: h.series_description)
        convolutionKernel = string(fromTuple: h.convolution_kernel)
        manufacturer = string(fromTuple: h.manufacturer)
        photometricInterpretation = string(fromTuple: h.photometric).uppercased()
        bodyPartExamined = string(fromTuple: h.body_part)
        viewPosition = string(fromTuple: h.view_position)
        patientPosition = string(fromTuple: h.patient_position)
        lossyCompressionFlag = string(fromTuple: h.lossy_compression) == "01"
        let burned = string(fromTuple: h.burned_in_annotation).uppercased()
        burnedInAnnotation = burned.isEmpty ? nil : burned == "YES"
        seriesNumber = h.has_series_number != 0 ? Int(h.series_number) : nil
        instanceNumber = h.has_instance_number != 0 ? Int(h.instance_number) : nil
        acquisitionNumber = h.has_acquisition_number != 0 ? Int(h.acquisition_number) : nil
        temporalPosition = h.has_temporal_position != 0 ? Int(h.temporal_position) : nil
        rows = Int(h.rows)
        columns = Int(h.columns)
        bitsAllocated = Int(h.bits_allocated)
        bitsStored = h.bits_stored > 0 ? Int(h.bits_stored) : Int(h.bits_allocated)
        highBit = Int(h.high_bit)
        isSigned = h.pixel_representation == 1
        samplesPerPixel = max(1, Int(h.samples_per_pixel))
        planarConfiguration = Int(h.planar_configuration)
        numberOfFrames = max(1, Int(h.number_of_frames))
        declaredNumberOfFrames = h.has_number_of_frames != 0 ? Int(h.number_of_frames) : nil
        hasFunctionalGroups = h.has_functional_groups != 0
        fragmentCount = Int(h.fragment_count)
        hasPixelData = h.has_pixel_data != 0
        pixelDataLength = h.pixel_data_length == UInt32.max ? nil : Int(h.pixel_data_length)
        nativePixelData = NativePixelData(h)
        pixelSpacing = h.has_pixel_spacing != 0 ? (h.pixel_spacing.0, h.pixel_spacing.1) : nil
        imagerPixelSpacing =
            h.has_imager_pixel_spacing != 0 ? (h.imager_pixel_spacing.0, h.imager_pixel_spacing.1) : nil
        sliceThickness = h.has_slice_thickness != 0 ? h.slice_thickness : nil
        imagePosition =
            h.has_image_position != 0 ? Vector3(h.image_position.0, h.image_position.1, h.image_position.2) : nil
        if h.has_image_orientation != 0 {
            let o = h.image_orientation
            rowDirection = Vector3(o.0, o.1, o.2)
            columnDirection = Vector3(o.3, o.4, o.5)
        }
        rescaleSlope = h.has_rescale_slope != 0 ? h.rescale_slope : nil
        rescaleIntercept = h.has_rescale_intercept != 0 ? h.rescale_intercept : nil
        gantryTilt = h.has_gantry_tilt != 0 ? h.gantry_tilt : nil
        window = h.has_window != 0 ? (h.window_center, h.window_width) : nil
        hasVOILUTSequence = h.has_voi_lut_sequence != 0
        pixelPaddingValue = h.has_pixel_padding_value != 0 ? Int(h.pixel_padding_value) : nil
        pixelPaddingRangeLimit = h.has_pixel_padding_range_limit != 0 ? Int(h.pixel_padding_range_limit) : nil
        patientName = string(fromTuple: h.patient_name)
        patientID = string(fromTuple: h.patient_id)
        studyDate = string(fromTuple: h.study_date)
        patientBirthDate = string(fromTuple: h.patient_birth_date)
    }

    /// Bytes one frame needs according to Rows, Columns, Samples per Pixel and Bits Allocated.
    public var frameBytes: Int { rows * columns * samplesPerPixel * max(1, bitsAllocated / 8) }

    /// The slice normal: row direction × column direction (PS3.3 C.7.6.2.1.1).
    public var sliceNormal: Vector3? {
        guard let r = rowDirection, let c = columnDirection else { return nil }
        return r.cross(c).normalized
    }

    /// True when (0008,0008) Image Type says LOCALIZER (a scout or topogram).
    public var isLocalizer: Bool { imageType.contains("LOCALIZER") }

    /// The SOP class, by name where DCMTK's dictionary knows it.
    public var sopClassName: String { Self.nameOfUID(sopClassUID) }

    /// The transfer syntax, by name where DCMTK's dictionary knows it.
    public var transferSyntaxName: String { Self.nameOfUID(transferSyntaxUID) }

    /// The name of a well-known UID, or the UID itself.
    public static func nameOfUID(_ uid: String) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        lct_dcm_uid_name(uid, &buffer, buffer.count)
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? uid : name
    }
}

/// Transfer syntaxes lungct decodes through DCMTK (PS3.5 Section 10 and Annex A).
public enum TransferSyntax {
    public static let implicitLittleEndian = "1.2.840.10008.1.2"
    public static let explicitLittleEndian = "1.2.840.10008.1.2.1"
    public static let deflatedExplicitLittleEndian = "1.2.840.10008.1.2.1.99"
    public static let explicitBigEndian = "1.2.840.10008.1.2.2"
    public static let jpegBaseline = "1.2.840.10008.1.2.4.50"
    public static let jpegExtended = "1.2.840.10008.1.2.4.51"
    public static let jpegLossless = "1.2.840.10008.1.2.4.57"
    public static let jpegLosslessSV1 = "1.2.840.10008.1.2.4.70"
    public static let jpegLSLossless = "1.2.840.10008.1.2.4.80"
    public static let jpegLSNearLossless = "1.2.840.10008.1.2.4.81"
    public static let rleLossless = "1.2.840.10008.1.2.5"
    /// JPEG 2000 Image Compression (Lossless Only), and JPEG 2000 Image Compression (lossless or
    /// lossy, as the encoder chose; PS3.5 A.4.4): decoded by OpenJPEG in the CDCMTK shim.
    public static let jpeg2000Lossless = "1.2.840.10008.1.2.4.90"
    public static let jpeg2000 = "1.2.840.10008.1.2.4.91"
    /// High-Throughput JPEG 2000 (PS3.5 A.4.11): lossless, lossless RPCL, and lossy.
    public static let htj2k: Set<String> = [
        "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",
    ]

    /// The syntaxes whose codecs DCMTK ships in its free modules (dcmdata, dcmjpeg, dcmjpls), and
    /// JPEG 2000 through OpenJPEG. HTJ2K and the video syntaxes are not decoded.
    public static let decodable: Set<String> = [
        implicitLittleEndian, explicitLittleEndian, deflatedExplicitLittleEndian, explicitBigEndian,
        jpegBaseline, jpegExtended, jpegLossless, jpegLosslessSV1, jpegLSLossless, jpegLSNearLossless, rleLossless,
        jpeg2000Lossless, jpeg2000,
    ]

    /// Syntaxes whose decoded pixels may differ from what the scanner measured. JPEG 2000
    /// (.91) may also hold a lossless codestream; (0028,2110) Lossy Image Compression says which.
    public static let lossy: Set<String> = [jpegBaseline, jpegExtended, jpegLSNearLossless, jpeg2000]

    /// Why `header`'s pixel data cannot be decoded, or nil when it can.
    public static func whyNotDecodable(_ header: DICOMHeader) -> String? {
        let syntax = "transfer syntax \(header.transferSyntaxName) (\(header.transferSyntaxUID))"
        if htj2k.contains(header.transferSyntaxUID) {
            // OpenJPEG 2.5 decodes HTJ2K codestreams, but DCMTK 3.6.7 does not know these syntaxes
            // and no tool on Debian 12 writes them, so no test could show that lungct reads them.
            return
                "\(syntax) is High-Throughput JPEG 2000 (HTJ2K), which lungct does not decode yet; convert the series to JPEG 2000 or an uncompressed syntax first"
        }
        guard decodable.contains(header.transferSyntaxUID) else {
            return
                "\(syntax) cannot be decoded with DCMTK's free codecs or OpenJPEG; convert the series to an uncompressed or lossless syntax first (for example with gdcmconv --raw)"
        }
        return nil
    }
}

/// Well-known SOP classes (PS3.4 Annex B.5).
public enum SOPClass {
    public static let ctImage = "1.2.840.10008.5.1.4.1.1.2"
    public static let enhancedCTImage = "1.2.840.10008.5.1.4.1.1.2.1"
    public static let legacyConvertedEnhancedCTImage = "1.2.840.10008.5.1.4.1.1.2.2"
    public static let computedRadiography = "1.2.840.10008.5.1.4.1.1.1"
    public static let digitalXRayPresentation = "1.2.840.10008.5.1.4.1.1.1.1"
    public static let digitalXRayProcessing = "1.2.840.10008.5.1.4.1.1.1.1.1"
    public static let secondaryCapturePrefix = "1.2.840.10008.5.1.4.1.1.7"
    public static let mediaStorageDirectory = "1.2.840.10008.1.3.10"

    /// The modality an image storage SOP class implies (PS3.4 B.5): used only when
    /// (0008,0060) Modality is missing.
    static let impliedModality = [
        ctImage: "CT", enhancedCTImage: "CT", legacyConvertedEnhancedCTImage: "CT", computedRadiography: "CR",
        digitalXRayPresentation: "DX",
        digitalXRayProcessing: "DX",
    ]
}
