import AppSupport
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
    /// Also write the DICOM result objects into OUT/dicom/ (`--dicom`).
    public var dicom = false
    /// Copy the patient module into the DICOM objects though the other outputs stay
    /// de-identified (`--dicom-patient`: results sent back to the PACS holding the study).
    public var dicomPatient = false
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

public enum Analyzer {
    /// The overview draws HU through a window; a 0...1 picture is drawn as 0...1000 through
    /// a window of exactly that range.
    static let pictureDisplayScale = 1000.0
    static let pictureDisplayWindow = HUWindow(center: pictureDisplayScale / 2, width: pictureDisplayScale)
    /// Top slices named in the overview's lesion lines (the report lists `reportedTopSlices`).
    static let overviewTopSlices = 3

    /// Loads the input, segments the lungs, measures them and writes every output into
    /// `options.output`. Returns the report that was written as report.json.
    public static func analyze(_ options: AnalysisOptions) throws(LungCTError) -> AnalysisReport {
        var clock = StageClock()
        try OutputFolder.prepare(options.output)
        let (inspection, image) = try inspectAndLoad(options)
        clock.lap("load")
        if let prepared = options.prepared { clock.replace("load", seconds: prepared.loadSeconds) }
        let study = LoadedStudy(options: options, inspection: inspection)
        var report: AnalysisReport
        switch image {
        case .ct(let hu): report = try analyzeCT(hu, study, clock: &clock)
        case .radiograph(let picture): report = try analyzeRadiograph(picture, study, clock: &clock)
        }
        // The CT stage lists the DICOM objects it wrote; the rest are named here.
        report.outputs = outputs(
            options.output, probability: report.model.probability != nil, lesionMask: report.lesions != nil
        ).merging(report.outputs) { named, _ in named }
        if options.dicom, report.kind != "CT" { report.warnings.append(DICOMResults.notDICOMWarning) }
        try removeStaleOutputs(in: options.output, keeping: Set(report.outputs.values))
        report.timingsSeconds = clock.finished()
        try writeReport(report, folder: options.output)
        return report
    }

    /// Removes the outputs an earlier run left in the folder that this run did not write (a
    /// probability map from a run with a model, beside this run's outputs without one), so the
    /// folder holds one study's outputs only.
    static func removeStaleOutputs(in folder: String, keeping written: Set<String>) throws(LungCTError) {
        for name in OutputFile.all where !written.contains(folder + "/" + name) {
            let path = folder + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { continue }
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                throw .outputFailed(
                    "\(path): left by an earlier run and cannot be removed: \(error.localizedDescription)")
            }
        }
    }

    /// The prepared input when there is one; otherwise `options.input` inspected and the chosen
    /// (or named) series loaded.
    static func inspectAndLoad(_ options: AnalysisOptions) throws(LungCTError) -> (Inspection, LoadedImage) {
        if let prepared = options.prepared { return (prepared.inspection, prepared.image) }
        var inspection = try Inspection.inspect(options.input)
        let image = try inspection.load(series: options.series)
        return (inspection, image)
    }
}

// MARK: - Radiograph

extension Analyzer {
    /// The radiograph pipeline: normalise, find the lung fields ("segment"), score (the map kept
    /// inside the lung fields), then write the mask, probability.nii.gz, study.h5 and the
    /// overview, timed together as "write".
    static func analyzeRadiograph(_ picture: RadiographImage, _ study: LoadedStudy, clock: inout StageClock)
        throws(LungCTError) -> AnalysisReport
    {
        let normalized = RadiographNormalization.normalize(picture)
        let fields = RadiographLungFields.find(normalized.volume, model: study.options.models.lungFields)
        clock.lap("segment")
        var outcome = scoreRadiograph(normalized.volume, study, clock: &clock)
        outcome.score = outcome.score.map { fields.maskingMap($0) }
        let labels = fields.labels
        var report = radiographReport(
            study, picture: picture, normalization: normalized.description, model: outcome.report)
        report.segmentation = fields.segmentationReport
        if fields.model == nil { report.warnings.append(RadiographLungFields.missingWarning) }
        if study.options.models.radiograph != nil && outcome.score == nil {
            report.warnings.append(outcome.report.reason)
        }
        try writeMask(labels, folder: study.folder, description: fields.maskDescription)
        if let score = outcome.score {
            try writeProbability(
                score.map, folder: study.folder, description: "lungct COVID-19 probability (class-activation map)")
        }
        try StudyFile.write(
            to: study.folder + "/" + OutputFile.study, image: .intensity(normalized.volume), labels: labels,
            panel: nil, score: outcome.score, report: report)
        try writeOverview(
            radiographOverview(normalized.volume, picture: picture, outcome: outcome, fields: fields),
            folder: study.folder)
        clock.lap("write")
        return report
    }

    /// Runs the radiograph model, when there is one ("model" timing); without one, the report
    /// says why.
    static func scoreRadiograph(_ normalized: Volume<Float>, _ study: LoadedStudy, clock: inout StageClock)
        -> ModelOutcome
    {
        guard let model = study.options.models.radiograph else {
            return ModelOutcome(
                report: noModel(
                    kind: "radiograph", declined: study.options.models.declined,
                    missing: "probability.nii.gz is not written and no probability is reported"))
        }
        let score: StudyScore
        do {
            let input = try RadiographInput.forModel(
                normalization: model.description.input.normalization, lungFields: study.options.models.lungFields,
                path: model.path)
            score = try CovidScoring.scoreRadiograph(normalized, model: model, input: input)
        } catch {
            clock.lap("model")
            let name = URL(fileURLWithPath: model.path).lastPathComponent
            return ModelOutcome(
                report: AnalysisReport.Model(
                    ran: false,
                    reason: "\(name) could not be applied: \(error); no probability is reported and "
                        + "probability.nii.gz is not written"))
        }
        clock.lap("model")
        return ModelOutcome(report: modelReport(score, model: model), score: score)
    }

    /// report.json for a radiograph (outputs and timings are filled in at the end).
    static func radiographReport(
        _ study: LoadedStudy, picture: RadiographImage, normalization: String, model: AnalysisReport.Model
    ) -> AnalysisReport {
        AnalysisReport(
            lungct: LungCTVersion.string, kind: "radiograph", input: study.input, study: study.studyReport,
            geometry: geometryReport(picture.volume.geometry),
            warnings: study.warnings + [normalization],
            qualityFindings: picture.findings,
            segmentation: .init(
                method: "none", labels: ["0": "background"],
                notes: ["no lung-field segmentation for radiographs yet: lung_mask.nii.gz is empty on purpose"]),
            lungPanel: nil, model: model, outputs: [:], timingsSeconds: [:])
    }

    /// The radiograph overview: the normalised picture drawn through `pictureDisplayWindow`,
    /// the probability over it, the quality findings and model lines.
    static func radiographOverview(
        _ normalized: Volume<Float>, picture: RadiographImage, outcome: ModelOutcome, fields: RadiographLungFields
    ) -> OverviewContent {
        let display = normalized.map { Int16(($0 * Float(pictureDisplayScale)).rounded()) }
        return OverviewContent(
            hu: display, labels: fields.model == nil ? nil : fields.labels, probability: outcome.score?.map,
            title: "lungct \(LungCTVersion.string)  radiograph",
            lines: picture.findings.map(\.message) + [fields.overviewLine] + modelLines(outcome.report),
            window: pictureDisplayWindow)
    }
}

/// What both pipelines take from the inspected input: the options, the input report, the chosen
/// series' header and id, and the warnings loading left (corrections first).
struct LoadedStudy {
    var options: AnalysisOptions
    var input: InputReport
    var header: DICOMHeader?
    /// The chosen series' id, for the overview's title.
    var seriesID: String?
    var warnings: [String]
    /// The source DICOM CT series' slices, for the objects of --dicom; nil for other inputs.
    var sourceSlices: SourceSlices?

    init(options: AnalysisOptions, inspection: Inspection) {
        self.options = options
        input = inspection.report
        header = inspection.header(series: options.series)
        let chosen = inspection.report.series.first { $0.status == .chosen } ?? inspection.report.series.first
        seriesID = chosen?.id
        warnings = (chosen?.corrections ?? []).map { "corrected: \($0)" } + (chosen?.warnings ?? [])
        sourceSlices = options.dicom ? inspection.sourceSlices(series: options.series) : nil
    }

    /// The output folder.
    var folder: String { options.output }

    /// The report's study part (patient identifiers only with --keep-phi).
    var studyReport: AnalysisReport.Study {
        Analyzer.studyReport(header, input: options.input, keepPHI: options.keepPHI)
    }
}

/// The radiograph model's run on a picture: the report's model part, and the score when the
/// model ran.
struct ModelOutcome {
    var report: AnalysisReport.Model
    var score: StudyScore?
}
