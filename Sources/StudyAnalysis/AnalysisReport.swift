import AppSupport
import Crypto
import DICOMSeries
import Foundation
import LungSegmentation
import ModelRuntime
import Radiograph
import StudyInput
import VolumeCore

/// The files `analyze` writes, relative to the output folder.
public enum OutputFile {
    public static let lungMask = "lung_mask.nii.gz"
    public static let probability = "probability.nii.gz"
    public static let lesionMask = "lesion_mask.nii.gz"
    public static let study = "study.h5"
    public static let report = "report.json"
    public static let overview = "overview.png"
    /// The DICOM result objects (`--dicom`), in the dicom/ folder.
    public static let dicomSegmentation = "dicom/segmentation.dcm"
    public static let dicomParametricMap = "dicom/probability-map.dcm"
    public static let dicomReport = "dicom/measurements-sr.dcm"
    public static let dicomCapture = "dicom/overview-sc.dcm"
    public static let dicom = [dicomSegmentation, dicomParametricMap, dicomReport, dicomCapture]
    /// Every file `analyze` may write.
    public static let all = [lungMask, probability, lesionMask, study, report, overview] + dicom
}

/// `report.json`: everything a program needs to know about one analysis. Identifies the study
/// by a SHA-256 of its Study Instance UID; patient identifiers only with --keep-phi.
public struct AnalysisReport: Codable, Sendable {
    public struct Study: Codable, Sendable {
        /// SHA-256 (hex) of (0020,000D) Study Instance UID, or of the input file for NIfTI and pictures.
        public var studyHash: String
        public var seriesUID: String?
        public var modality: String
        public var patientName: String?
        public var patientID: String?
        public var patientBirthDate: String?
    }
    /// The geometry as a value, for readers of a report in Swift.
    public var geometryValue: Geometry {
        let d = geometry.direction
        return Geometry(
            size: Size3(geometry.size[0], geometry.size[1], geometry.size[2]),
            spacing: Vector3(geometry.spacingMM[0], geometry.spacingMM[1], geometry.spacingMM[2]),
            origin: Vector3(geometry.originMM[0], geometry.originMM[1], geometry.originMM[2]),
            direction: Matrix3(columns: Vector3(d[0], d[3], d[6]), Vector3(d[1], d[4], d[7]), Vector3(d[2], d[5], d[8]))
        )
    }

    public struct GeometryReport: Codable, Sendable {
        public var size: [Int]
        public var spacingMM: [Double]
        /// LPS position of the first voxel's centre.
        public var originMM: [Double]
        /// 3×3, row-major; column a is the LPS direction of voxel axis a (SimpleITK's layout).
        public var direction: [Double]
        public var orientation: String
    }
    public struct Segmentation: Codable, Sendable {
        public var method: String
        public var labels: [String: String]
        public var notes: [String]
    }
    public struct Model: Codable, Sendable {
        public var ran: Bool
        public var reason: String
        /// The model file's name and SHA-256, when a model ran.
        public var name: String?
        public var sha256: String?
        /// The study's figure, 0...1. CT: the COVID-19 pattern score of the lesion network's
        /// findings (`lesions.score.value`), an uncalibrated score, not a probability;
        /// radiographs: the calibrated probability of the model's covid class.
        public var probability: Double?
        /// Radiographs: every class's calibrated probability.
        public var classProbabilities: [String: Double]?
        /// How `probability` was formed.
        public var aggregation: String?
    }
    public var lungct: String
    public var kind: String
    public var input: InputReport
    public var study: Study
    public var geometry: GeometryReport
    public var warnings: [String]
    public var qualityFindings: [QualityFinding]
    public var segmentation: Segmentation
    public var lungPanel: LungPanel?
    public var model: Model
    /// CT with a lesion model: the lesion panel, severity score and COVID-19 pattern score.
    public var lesions: LesionReport?
    public var outputs: [String: String]
    public var timingsSeconds: [String: Double]
}

/// The report's parts, built from what the pipeline found.
extension Analyzer {
    /// Slices listed as the model's top slices in report.json.
    static let reportedTopSlices = 5

    static func noModel(kind: String, declined: Bool, missing: String) -> AnalysisReport.Model {
        let why =
            declined
            ? "no model run (--no-model)"
            : "no \(kind) model found (Weights/ beside the program, $LUNGCT_WEIGHTS, or --model)"
        return AnalysisReport.Model(ran: false, reason: why + "; " + missing)
    }

    /// The report's model part for a radiograph's score.
    static func modelReport(_ score: StudyScore, model: LoadedModel) -> AnalysisReport.Model {
        AnalysisReport.Model(
            ran: true, reason: "ran; \(model.description.card.intendedUse)",
            name: URL(fileURLWithPath: model.path).lastPathComponent, sha256: model.sha256,
            probability: score.probability.rounded(places: ReportPrecision.probability),
            classProbabilities: score.classProbabilities.mapValues { $0.rounded(places: ReportPrecision.probability) },
            aggregation: score.aggregation)
    }

    /// The report's model part for a CT's lesion analysis (nil: there was no lung to analyse).
    static func modelReport(_ lesions: LesionAnalysis?, model: LoadedModel) -> AnalysisReport.Model {
        var report = AnalysisReport.Model(
            ran: lesions != nil,
            reason: lesions == nil
                ? "no lung found, so nothing for the lesion network" : "ran; \(model.description.card.intendedUse)",
            name: URL(fileURLWithPath: model.path).lastPathComponent, sha256: model.sha256)
        guard let lesions else { return report }
        report.probability = lesions.report.score.value.rounded(places: ReportPrecision.probability)
        report.aggregation = "COVID-19 pattern score (lesions.score): " + lesions.report.score.rule
        return report
    }

    static func outputs(_ folder: String, probability: Bool, lesionMask: Bool) -> [String: String] {
        var files = [
            "lungMask": folder + "/" + OutputFile.lungMask, "study": folder + "/" + OutputFile.study,
            "report": folder + "/" + OutputFile.report, "overview": folder + "/" + OutputFile.overview,
        ]
        if probability { files["probability"] = folder + "/" + OutputFile.probability }
        if lesionMask { files["lesionMask"] = folder + "/" + OutputFile.lesionMask }
        return files
    }

    static func studyReport(_ header: DICOMHeader?, input: String, keepPHI: Bool) -> AnalysisReport.Study {
        let identity = header?.studyInstanceUID ?? URL(fileURLWithPath: input).standardizedFileURL.path
        let digest = SHA256.hash(data: Data(identity.utf8)).map { String(format: "%02x", $0) }.joined()
        return AnalysisReport.Study(
            studyHash: digest, seriesUID: header.map { shortUID($0.seriesInstanceUID) },
            modality: header?.modality ?? "",
            patientName: keepPHI ? header?.patientName : nil, patientID: keepPHI ? header?.patientID : nil,
            patientBirthDate: keepPHI ? header?.patientBirthDate : nil)
    }

    static func geometryReport(_ g: Geometry) -> AnalysisReport.GeometryReport {
        AnalysisReport.GeometryReport(
            size: [g.size.x, g.size.y, g.size.z], spacingMM: [g.spacing.x, g.spacing.y, g.spacing.z],
            originMM: [g.origin.x, g.origin.y, g.origin.z],
            direction: (0..<3).flatMap { row in (0..<3).map { column in g.direction.element(row, column) } },
            orientation: g.orientationCode)
    }
}
