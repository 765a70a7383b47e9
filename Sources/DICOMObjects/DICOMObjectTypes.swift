import AppSupport
import VolumeCore

/// A DICOM result object lungct could not write, with the file and DCMTK's own message.
public typealias DICOMObjectError = KindedFileError<DICOMObjectErrorKind>

/// What went wrong with a result object.
public enum DICOMObjectErrorKind: Sendable, Equatable {
    /// DCMTK refused a value or found the object incomplete.
    case invalid
    case writeFailed, readFailed, internalError
    /// What was handed over does not fit the grid (a volume of another size, a slice count
    /// without references).
    case mismatch
}

/// A coded concept (PS3.3 Table 8.8-1): code value, coding scheme, code meaning.
public struct Code: Sendable, Equatable {
    public var value: String
    public var scheme: String
    public var meaning: String

    public init(_ value: String, _ scheme: String, _ meaning: String) {
        self.value = value
        self.scheme = scheme
        self.meaning = meaning
    }
}

/// Patient and study identification copied into the objects (only with --keep-phi).
public struct PatientIdentity: Sendable {
    public var name: String
    public var id: String
    public var birthDate: String
    public var studyDate: String

    public init(name: String, id: String, birthDate: String, studyDate: String) {
        self.name = name
        self.id = id
        self.birthDate = birthDate
        self.studyDate = studyDate
    }
}

/// The CT series the objects are computed from: its UIDs, the SOP instances each slice of
/// the analysed grid was made from, and that grid.
public struct SourceSeries: Sendable {
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var frameOfReferenceUID: String
    /// (0008,0016) of the source images.
    public var sopClassUID: String
    /// Per slice of `geometry`: the SOP Instance UIDs it was made from (one for a copied slice,
    /// two for one interpolated into a gap).
    public var sliceReferences: [[String]]
    public var geometry: Geometry
    /// Nil: de-identified (empty patient name, ID and birth date, Patient Identity Removed YES).
    public var patient: PatientIdentity?
    /// Whether the slices were resampled in-plane (a gantry tilt corrected): then no frame
    /// keeps its source's spatial locations.
    public var resampled = false

    public init(
        studyInstanceUID: String, seriesInstanceUID: String, frameOfReferenceUID: String, sopClassUID: String,
        sliceReferences: [[String]], geometry: Geometry, patient: PatientIdentity?
    ) {
        self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.frameOfReferenceUID = frameOfReferenceUID
        self.sopClassUID = sopClassUID
        self.sliceReferences = sliceReferences
        self.geometry = geometry
        self.patient = patient
    }
}

/// What is new about one object: where it goes and its own identity.
public struct ObjectIdentity: Sendable {
    public var path: String
    public var seriesInstanceUID = DICOMObjectWriter.newUID()
    public var sopInstanceUID = DICOMObjectWriter.newUID()
    public var seriesNumber: Int
    public var seriesDescription: String

    public init(path: String, seriesNumber: Int, seriesDescription: String) {
        self.path = path
        self.seriesNumber = seriesNumber
        self.seriesDescription = seriesDescription
    }
}

/// The algorithm a segment or map came from (PS3.3 Table 10-19 Algorithm Identification).
public struct Algorithm: Sendable {
    /// CID 7162, e.g. (123110,DCM,"Artificial Intelligence").
    public var family: Code
    public var name: String
    public var version: String
    public var parameters: String

    public init(family: Code, name: String, version: String, parameters: String = "") {
        self.family = family
        self.name = name
        self.version = version
        self.parameters = parameters
    }
}

/// One segment of a binary Segmentation: the voxels of `labels` equal to `value`.
public struct Segment: Sendable {
    public var label: String
    /// CID 7150.
    public var category: Code
    /// CID 7151.
    public var type: Code
    /// CID 244 (laterality), when the type needs one.
    public var modifier: Code?
    public var algorithm: Algorithm
    public var labels: Volume<UInt8>
    public var value: UInt8

    public init(
        label: String, category: Code, type: Code, modifier: Code?, algorithm: Algorithm, labels: Volume<UInt8>,
        value: UInt8
    ) {
        self.label = label
        self.category = category
        self.type = type
        self.modifier = modifier
        self.algorithm = algorithm
        self.labels = labels
        self.value = value
    }
}

/// One numeric measurement of a report.
public struct Measurement: Sendable {
    public var concept: Code
    /// The (121401,DCM,"Derivation") modifier, e.g. (373098007,SCT,"Mean").
    public var derivation: Code?
    /// UCUM.
    public var unit: Code
    public var value: Double

    public init(concept: Code, derivation: Code? = nil, unit: Code, value: Double) {
        self.concept = concept
        self.derivation = derivation
        self.unit = unit
        self.value = value
    }
}

/// A TID 1411 volumetric group: the measurements of one segment of the Segmentation.
public struct MeasurementGroup: Sendable {
    public var trackingID: String
    public var trackingUID = DICOMObjectWriter.newUID()
    public var finding: Code
    public var findingSite: Code
    public var laterality: Code?
    /// The segment's number in the Segmentation (1-based, in the order segments were given).
    public var segmentNumber: Int
    public var measurements: [Measurement]

    public init(
        trackingID: String, finding: Code, findingSite: Code, laterality: Code?, segmentNumber: Int,
        measurements: [Measurement]
    ) {
        self.trackingID = trackingID
        self.finding = finding
        self.findingSite = findingSite
        self.laterality = laterality
        self.segmentNumber = segmentNumber
        self.measurements = measurements
    }
}
