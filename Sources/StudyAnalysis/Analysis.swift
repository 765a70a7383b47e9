import AppSupport
import Crypto
import DICOMSeries
import Foundation
import LungSegmentation
import ModelRuntime
import NIfTIIO
import Overview
import Radiograph
import StudyInput
import VolumeCore

/// What `lungct analyze` was asked to do.
public struct AnalysisOptions: Sendable {
    public var input: String
    public var output: String
    public var series: String?
    /// Write patient name, ID and birth date into the report (off by default).
    public var keepPHI = false
    /// The window used for the overview picture.
    public var window = HUWindow.lung
    /// The models to run (loaded once by the caller: `AnalysisModels.shipped()` or --model).
    public var models = AnalysisModels.none
    /// The input already inspected and loaded (a batch decodes the next study while one is
    /// analysed); nil: `input` is inspected and loaded by `analyze`.
    public var prepared: PreparedInput?

    public init(input: String, output: String) {
        self.input = input
        self.output = output
    }
}

/// The files `analyze` writes, relative to the output folder.
public enum OutputFile {
    public static let lungMask = "lung_mask.nii.gz"
    public static let probability = "probability.nii.gz"
    public static let study = "study.h5"
    public static let report = "report.json"
    public static let overview = "overview.png"
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
            direction: Matrix3(columns: Vector3(d[0], d[3], d[6]), Vector3(d[1], d[4], d[7]), Vector3(d[2], d[5], d[8])))
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
        /// CT: the calibrated study probability of a COVID-19 pattern; radiographs: that of
        /// the model's covid class.
        public var probability: Double?
        /// Every class's calibrated probability (radiographs; CT: covid and non-covid).
        public var classProbabilities: [String: Double]?
        /// How the study probability was formed from the slice probabilities.
        public var aggregation: String?
        /// CT: the slices (z index, 0-based, on the input grid) with the highest probability.
        public var topSlices: [SliceProbability]?
    }
    public struct SliceProbability: Codable, Sendable {
        /// The slice's index on the input grid (along the axis closest to superior).
        public var z: Int
        /// Its position along the patient's S axis, mm.
        public var positionMM: Double
        public var probability: Double
        /// Whether it counts towards the study probability (enough lung in it).
        public var counted: Bool

        public init(z: Int, positionMM: Double, probability: Double, counted: Bool) {
            self.z = z
            self.positionMM = positionMM
            self.probability = probability
            self.counted = counted
        }
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
    public var outputs: [String: String]
    public var timingsSeconds: [String: Double]
}

public enum Analyzer {
    /// The overview draws HU through a window; a 0...1 picture is drawn as 0...1000 through
    /// a window of exactly that range.
    static let pictureDisplayScale = 1000.0
    static let pictureDisplayWindow = HUWindow(center: pictureDisplayScale / 2, width: pictureDisplayScale)

    /// Loads the input, segments the lungs, measures them and writes every output into
    /// `options.output`. Returns the report that was written as report.json.
    public static func analyze(_ options: AnalysisOptions) throws(LungCTError) -> AnalysisReport {
        var timings: [String: Double] = [:]
        let start = Date()
        var clock = Date()
        func lap(_ name: String) {
            timings[name] = Date().timeIntervalSince(clock).rounded(places: ReportPrecision.seconds)
            clock = Date()
        }
        try OutputFolder.prepare(options.output)
        let (inspection, image) = try inspectAndLoad(options)
        lap("load")
        if let prepared = options.prepared { timings["load"] = prepared.loadSeconds }
        let header = inspection.header(series: options.series)
        let chosen = inspection.report.series.first { $0.status == .chosen } ?? inspection.report.series.first
        var warnings = (chosen?.corrections ?? []).map { "corrected: \($0)" } + (chosen?.warnings ?? [])

        var report: AnalysisReport
        switch image {
        case .ct(let huVolume):
            if case .float32 = huVolume {
                warnings.append("HU are not whole numbers (fractional rescale); rounded to int16 for segmentation and study.h5")
            }
            let hu = huVolume.asInt16
            // study.h5's HU dataset is compressed in the background while the lungs are segmented.
            let study = StudyFile.begin(path: options.output + "/" + OutputFile.study, image: .hu(hu), modality: "CT")
            let segmentation = LungSegmenter.segment(hu)
            for (step, seconds) in segmentation.timings { timings["segmentation.\(step)"] = seconds.rounded(places: ReportPrecision.seconds) }
            lap("segmentation")
            let panel = LungPanel.measure(hu: hu, labels: segmentation.labels)
            lap("lung panel")
            if panel.total.voxels == 0 { warnings.append("no lung found: the lung panel is empty") }
            var model = noModel(kind: "CT")
            var score: StudyScore?
            if let ctModel = options.models.ct {
                score = try CovidScoring.scoreCT(hu: hu, labels: segmentation.labels, model: ctModel)
                model = modelReport(score, model: ctModel, noScoreReason: "no lung found, so no slice to score")
                lap("model")
            }
            let ctReport = AnalysisReport(
                lungct: LungCTVersion.string, kind: "CT", input: inspection.report,
                study: studyReport(header, input: options.input, keepPHI: options.keepPHI),
                geometry: geometryReport(hu.geometry), warnings: warnings, qualityFindings: [],
                segmentation: .init(
                    method: "lungct classical HU segmentation (body, air, airway removal, left/right, pleural bays)",
                    labels: ["0": "background", "1": "right lung", "2": "left lung"], notes: segmentation.notes),
                lungPanel: panel, model: model, outputs: [:], timingsSeconds: [:])
            try writeMask(segmentation.labels, folder: options.output, description: "lungct lungs: 1 right, 2 left")
            lap("write lung_mask.nii.gz")
            // probability.nii.gz is compressed on another core while study.h5 is finished.
            let folder = options.output
            let probabilityWritten = score.map { score in
                BackgroundWork { () throws(LungCTError) in try writeProbability(score.map, folder: folder) }
            }
            try study.finish(labels: segmentation.labels, panel: panel, score: score, report: ctReport)
            try probabilityWritten?.wait()
            lap("write study.h5 and probability.nii.gz")
            var content = OverviewContent(
                hu: hu, labels: segmentation.labels, probability: score?.map,
                title: "lungct \(LungCTVersion.string)  \(chosen?.id ?? "")",
                lines: panelLines(panel) + modelLines(model), window: options.window)
            if let top = model.topSlices?.first { content.focusSlice = top.z }
            try writeOverview(content, folder: options.output)
            lap("overview")
            report = ctReport

        case .radiograph(let picture):
            let normalized = RadiographNormalization.normalize(picture)
            let labels = Volume(geometry: picture.volume.geometry, repeating: UInt8(0))
            var model = noModel(kind: "radiograph")
            var score: StudyScore?
            if let radiographModel = options.models.radiograph {
                score = CovidScoring.scoreRadiograph(normalized.volume, model: radiographModel)
                model = modelReport(score, model: radiographModel, noScoreReason: "")
                lap("model")
            }
            let pictureReport = AnalysisReport(
                lungct: LungCTVersion.string, kind: "radiograph", input: inspection.report,
                study: studyReport(header, input: options.input, keepPHI: options.keepPHI),
                geometry: geometryReport(picture.volume.geometry),
                warnings: warnings + [normalized.description],
                qualityFindings: picture.findings,
                segmentation: .init(
                    method: "none", labels: ["0": "background"],
                    notes: ["no lung-field segmentation for radiographs yet: lung_mask.nii.gz is empty on purpose"]),
                lungPanel: nil, model: model, outputs: [:], timingsSeconds: [:])
            try writeMask(labels, folder: options.output, description: "lungct: no radiograph lung mask yet")
            if let score { try writeProbability(score.map, folder: options.output) }
            try StudyFile.write(
                to: options.output + "/" + OutputFile.study, image: .intensity(normalized.volume), labels: labels,
                panel: nil, score: score, report: pictureReport)
            let display = normalized.volume.map { Int16(($0 * Float(pictureDisplayScale)).rounded()) }
            try writeOverview(
                OverviewContent(
                    hu: display, probability: score?.map, title: "lungct \(LungCTVersion.string)  radiograph",
                    lines: picture.findings.map(\.message) + modelLines(model), window: pictureDisplayWindow),
                folder: options.output)
            lap("write")
            report = pictureReport
        }
        report.outputs = outputs(options.output, probability: report.model.probability != nil)
        timings["total"] = Date().timeIntervalSince(start).rounded(places: ReportPrecision.seconds)
        report.timingsSeconds = timings
        try writeReport(report, folder: options.output)
        return report
    }

    static func noModel(kind: String) -> AnalysisReport.Model {
        AnalysisReport.Model(
            ran: false,
            reason: "no \(kind) model found (Weights/ beside the program, $LUNGCT_WEIGHTS, or --model); "
                + "probability.nii.gz is not written and no probability is reported")
    }

    /// The report's model part from a score (nil: the model had nothing to score).
    static func modelReport(_ score: StudyScore?, model: LoadedModel, noScoreReason: String) -> AnalysisReport.Model {
        var report = AnalysisReport.Model(
            ran: score != nil, reason: score == nil ? noScoreReason : "ran; \(model.description.card.intendedUse)",
            name: URL(fileURLWithPath: model.path).lastPathComponent, sha256: model.sha256)
        guard let score else { return report }
        report.probability = score.probability.rounded(places: ReportPrecision.probability)
        report.classProbabilities = score.classProbabilities.mapValues { $0.rounded(places: ReportPrecision.probability) }
        report.aggregation = score.aggregation
        if !score.slices.isEmpty {
            report.topSlices = Array(score.slices.filter(\.counted).sorted { $0.probability > $1.probability }.prefix(5))
                .map { var slice = $0; slice.probability = slice.probability.rounded(places: ReportPrecision.probability); return slice }
        }
        return report
    }

    /// The model's lines for the overview.
    public static func modelLines(_ model: AnalysisReport.Model) -> [String] {
        guard let probability = model.probability else {
            return ["No COVID-19 probability: \(model.reason)"]
        }
        var lines = [String(format: "COVID-19 pattern probability %.2f  (%@)", probability, model.name ?? "")]
        if let classes = model.classProbabilities, classes.count > 2 {
            lines.append(classes.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(separator: "  "))
        }
        if let top = model.topSlices, !top.isEmpty {
            lines.append("Top slices: " + top.prefix(3).map { String(format: "z=%d (%.0f mm) %.2f", $0.z, $0.positionMM, $0.probability) }.joined(separator: ", "))
        }
        lines.append("Research use only, not for clinical use.")
        return lines
    }

    /// probability.nii.gz (float32 on the input grid).
    static func writeProbability(_ map: Volume<Float>, folder: String) throws(LungCTError) {
        do {
            try NIfTI.write(map, to: folder + "/" + OutputFile.probability, description: "lungct COVID-19 pattern probability")
        } catch {
            throw .outputFailed(error.description)
        }
    }

    static func outputs(_ folder: String, probability: Bool) -> [String: String] {
        var files = [
            "lungMask": folder + "/" + OutputFile.lungMask, "study": folder + "/" + OutputFile.study,
            "report": folder + "/" + OutputFile.report, "overview": folder + "/" + OutputFile.overview,
        ]
        if probability { files["probability"] = folder + "/" + OutputFile.probability }
        return files
    }

    /// lung_mask.nii.gz (NIfTI.write is itself atomic).
    static func writeMask(_ labels: Volume<UInt8>, folder: String, description: String) throws(LungCTError) {
        do {
            try NIfTI.write(labels, to: folder + "/" + OutputFile.lungMask, description: description)
        } catch {
            throw .outputFailed(error.description)
        }
    }

    static func writeOverview(_ content: OverviewContent, folder: String) throws(LungCTError) {
        try AtomicFile.write(to: folder + "/" + OutputFile.overview) { partial in try Overview.write(content, to: partial) }
    }

    public static func writeReport(_ report: AnalysisReport, folder: String) throws(LungCTError) {
        try JSON.write(report, to: folder + "/" + OutputFile.report)
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

    /// The key numbers for the overview picture.
    public static func panelLines(_ panel: LungPanel) -> [String] {
        func line(_ name: String, _ m: LungMeasures) -> String {
            String(
                format: "%@ %6.0f mL  mean %5.0f HU  p15 %5.0f HU  emphysema %4.1f%%  infiltrated %4.1f%%  collapsed %4.1f%%",
                name, m.volumeML, m.meanHU, m.percentile15HU, 100 * (m.bandFractions["emphysema"] ?? 0),
                100 * (m.bandFractions["infiltrated"] ?? 0), 100 * (m.bandFractions["collapsed"] ?? 0))
        }
        return [line("Right lung", panel.right), line("Left lung ", panel.left), line("Both lungs", panel.total)]
    }
}

extension Analyzer {
    /// The prepared input when there is one; otherwise `options.input` inspected and the chosen
    /// (or named) series loaded.
    static func inspectAndLoad(_ options: AnalysisOptions) throws(LungCTError) -> (Inspection, LoadedImage) {
        if let prepared = options.prepared { return (prepared.inspection, prepared.image) }
        let inspection = try Inspection.inspect(options.input)
        return (inspection, try inspection.load(series: options.series))
    }
}
