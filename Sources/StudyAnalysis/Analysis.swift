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
    /// Top slices named in the overview's model line (the report lists `reportedTopSlices`).
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
        report.outputs = outputs(options.output, probability: report.model.probability != nil)
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

// MARK: - CT

extension Analyzer {
    /// The CT pipeline: segment the lungs, measure them, score the study, then write the mask,
    /// study.h5 with probability.nii.gz, and the overview, each stage timed under its key.
    static func analyzeCT(_ volume: HUVolume, _ study: LoadedStudy, clock: inout StageClock) throws(LungCTError)
        -> AnalysisReport
    {
        var warnings = study.warnings
        let hu = wholeHU(volume, warnings: &warnings)
        // study.h5's HU dataset is compressed in the background while the lungs are segmented.
        let file = StudyFile.begin(path: study.folder + "/" + OutputFile.study, image: .hu(hu), modality: "CT")
        let segmentation = segmentLungs(hu, clock: &clock)
        let panel = LungPanel.measure(hu: hu, labels: segmentation.labels)
        clock.lap("lung panel")
        if panel.total.voxels == 0 { warnings.append("no lung found: the lung panel is empty") }
        let outcome = try scoreCT(hu, labels: segmentation.labels, study, clock: &clock)
        let report = ctReport(
            study, geometry: hu.geometry, warnings: warnings, segmentation: segmentation, panel: panel,
            model: outcome.report)
        try writeMask(segmentation.labels, folder: study.folder, description: "lungct lungs: 1 right, 2 left")
        clock.lap("write lung_mask.nii.gz")
        try finishStudyAndProbability(
            file, labels: segmentation.labels, panel: panel, score: outcome.score, report: report, folder: study.folder)
        clock.lap("write study.h5 and probability.nii.gz")
        try writeOverview(
            ctOverview(hu, labels: segmentation.labels, panel: panel, outcome: outcome, study), folder: study.folder)
        clock.lap("overview")
        return report
    }

    /// The HU as int16, which segmentation and study.h5 take; a fractional rescale is rounded,
    /// and the report says so.
    static func wholeHU(_ volume: HUVolume, warnings: inout [String]) -> Volume<Int16> {
        if case .float32(let values) = volume {
            let range = Float(Int16.min)...Float(Int16.max)
            let clipped = values.voxels.reduce(0) { $0 + (range.contains($1.rounded()) ? 0 : 1) }
            let fractional = values.voxels.contains { $0 != $0.rounded() }
            if fractional {
                warnings.append(
                    "HU are not whole numbers (fractional rescale); rounded to int16 for segmentation and study.h5")
            }
            if clipped > 0 {
                warnings.append(
                    "\(clipped) voxel(s) lie outside the int16 range of HU (\(Int16.min)...\(Int16.max)); clipped to it "
                        + "for segmentation and study.h5")
            }
        }
        return volume.asInt16
    }

    /// Segments the lungs, timing each of the segmenter's steps ("segmentation.<step>") and the
    /// whole ("segmentation").
    static func segmentLungs(_ hu: Volume<Int16>, clock: inout StageClock) -> LungSegmentation {
        let segmentation = LungSegmenter.segment(hu)
        for (step, seconds) in segmentation.timings { clock.record("segmentation.\(step)", seconds: seconds) }
        clock.lap("segmentation")
        return segmentation
    }

    /// Runs the CT model, when there is one ("model" timing); without one, the report says why.
    static func scoreCT(_ hu: Volume<Int16>, labels: Volume<UInt8>, _ study: LoadedStudy, clock: inout StageClock)
        throws(LungCTError) -> ModelOutcome
    {
        guard let model = study.options.models.ct else {
            return ModelOutcome(report: noModel(kind: "CT", declined: study.options.models.declined))
        }
        let score = try CovidScoring.scoreCT(hu: hu, labels: labels, model: model)
        clock.lap("model")
        return ModelOutcome(
            report: modelReport(score, model: model, noScoreReason: "no lung found, so no slice to score"), score: score
        )
    }

    /// report.json for a CT (outputs and timings are filled in at the end).
    static func ctReport(
        _ study: LoadedStudy, geometry: Geometry, warnings: [String], segmentation: LungSegmentation, panel: LungPanel,
        model: AnalysisReport.Model
    ) -> AnalysisReport {
        AnalysisReport(
            lungct: LungCTVersion.string, kind: "CT", input: study.input, study: study.studyReport,
            geometry: geometryReport(geometry), warnings: warnings, qualityFindings: [],
            segmentation: .init(
                method: "lungct classical HU segmentation (body, air, airway removal, left/right, pleural bays)",
                labels: ["0": "background", "1": "right lung", "2": "left lung"], notes: segmentation.notes),
            lungPanel: panel, model: model, outputs: [:], timingsSeconds: [:])
    }

    /// Finishes study.h5 while probability.nii.gz (when there is a score) is compressed on
    /// another core.
    static func finishStudyAndProbability(
        _ file: PendingStudyFile, labels: Volume<UInt8>, panel: LungPanel, score: StudyScore?, report: AnalysisReport,
        folder: String
    ) throws(LungCTError) {
        let probabilityWritten = score.map { score in
            BackgroundWork { () throws(LungCTError) in try writeProbability(score.map, folder: folder) }
        }
        try file.finish(labels: labels, panel: panel, score: score, report: report)
        try probabilityWritten?.wait()
    }

    /// The CT overview: lungs and probability over the CT, the panel and model lines, and the
    /// model's top slice among the axial panels.
    static func ctOverview(
        _ hu: Volume<Int16>, labels: Volume<UInt8>, panel: LungPanel, outcome: ModelOutcome, _ study: LoadedStudy
    ) -> OverviewContent {
        var content = OverviewContent(
            hu: hu, labels: labels, probability: outcome.score?.map,
            title: "lungct \(LungCTVersion.string)  \(study.seriesID ?? "")",
            lines: panelLines(panel) + modelLines(outcome.report), window: study.options.window)
        if let top = outcome.report.topSlices?.first { content.focusSlice = top.z }
        return content
    }
}

// MARK: - Radiograph

extension Analyzer {
    /// The radiograph pipeline: normalise, score, then write the (empty) mask, probability.nii.gz,
    /// study.h5 and the overview, timed together as "write".
    static func analyzeRadiograph(_ picture: RadiographImage, _ study: LoadedStudy, clock: inout StageClock)
        throws(LungCTError) -> AnalysisReport
    {
        let normalized = RadiographNormalization.normalize(picture)
        let labels = Volume(geometry: picture.volume.geometry, repeating: UInt8(0))
        let outcome = scoreRadiograph(normalized.volume, study, clock: &clock)
        let report = radiographReport(
            study, picture: picture, normalization: normalized.description, model: outcome.report)
        try writeMask(labels, folder: study.folder, description: "lungct: no radiograph lung mask yet")
        if let score = outcome.score { try writeProbability(score.map, folder: study.folder) }
        try StudyFile.write(
            to: study.folder + "/" + OutputFile.study, image: .intensity(normalized.volume), labels: labels,
            panel: nil, score: outcome.score, report: report)
        try writeOverview(
            radiographOverview(normalized.volume, picture: picture, outcome: outcome), folder: study.folder)
        clock.lap("write")
        return report
    }

    /// Runs the radiograph model, when there is one ("model" timing); without one, the report
    /// says why.
    static func scoreRadiograph(_ normalized: Volume<Float>, _ study: LoadedStudy, clock: inout StageClock)
        -> ModelOutcome
    {
        guard let model = study.options.models.radiograph else {
            return ModelOutcome(report: noModel(kind: "radiograph", declined: study.options.models.declined))
        }
        let score = CovidScoring.scoreRadiograph(normalized, model: model)
        clock.lap("model")
        return ModelOutcome(report: modelReport(score, model: model, noScoreReason: ""), score: score)
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
    static func radiographOverview(_ normalized: Volume<Float>, picture: RadiographImage, outcome: ModelOutcome)
        -> OverviewContent
    {
        let display = normalized.map { Int16(($0 * Float(pictureDisplayScale)).rounded()) }
        return OverviewContent(
            hu: display, probability: outcome.score?.map, title: "lungct \(LungCTVersion.string)  radiograph",
            lines: picture.findings.map(\.message) + modelLines(outcome.report), window: pictureDisplayWindow)
    }
}

// MARK: - Outputs and overview text

extension Analyzer {
    /// The model's lines for the overview.
    public static func modelLines(_ model: AnalysisReport.Model) -> [String] {
        guard let probability = model.probability else {
            return ["No COVID-19 probability: \(model.reason)"]
        }
        var lines = [String(format: "COVID-19 pattern probability %.2f  (%@)", probability, model.name ?? "")]
        if let classes = model.classProbabilities, classes.count > 2 {
            lines.append(
                classes.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(
                    separator: "  "))
        }
        if let top = model.topSlices, !top.isEmpty {
            lines.append(
                "Top slices: "
                    + top.prefix(overviewTopSlices).map {
                        String(format: "z=%d (%.0f mm) %.2f", $0.z, $0.positionMM, $0.probability)
                    }.joined(separator: ", "))
        }
        lines.append("Research use only, not for clinical use.")
        return lines
    }

    /// probability.nii.gz (float32 on the input grid).
    static func writeProbability(_ map: Volume<Float>, folder: String) throws(LungCTError) {
        do {
            try NIfTI.write(
                map, to: folder + "/" + OutputFile.probability, description: "lungct COVID-19 pattern probability")
        } catch {
            throw .outputFailed(error.description)
        }
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
        try AtomicFile.write(to: folder + "/" + OutputFile.overview) { partial in
            try Overview.write(content, to: partial)
        }
    }

    public static func writeReport(_ report: AnalysisReport, folder: String) throws(LungCTError) {
        try JSON.write(report, to: folder + "/" + OutputFile.report)
    }

    /// The key numbers for the overview picture.
    public static func panelLines(_ panel: LungPanel) -> [String] {
        func line(_ name: String, _ m: LungMeasures) -> String {
            String(
                format:
                    "%@ %6.0f mL  mean %5.0f HU  p15 %5.0f HU  emphysema %4.1f%%  infiltrated %4.1f%%  collapsed %4.1f%%",
                name, m.volumeML, m.meanHU, m.percentile15HU, 100 * (m.bandFractions["emphysema"] ?? 0),
                100 * (m.bandFractions["infiltrated"] ?? 0), 100 * (m.bandFractions["collapsed"] ?? 0))
        }
        return [line("Right lung", panel.right), line("Left lung ", panel.left), line("Both lungs", panel.total)]
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

    init(options: AnalysisOptions, inspection: Inspection) {
        self.options = options
        input = inspection.report
        header = inspection.header(series: options.series)
        let chosen = inspection.report.series.first { $0.status == .chosen } ?? inspection.report.series.first
        seriesID = chosen?.id
        warnings = (chosen?.corrections ?? []).map { "corrected: \($0)" } + (chosen?.warnings ?? [])
    }

    /// The output folder.
    var folder: String { options.output }

    /// The report's study part (patient identifiers only with --keep-phi).
    var studyReport: AnalysisReport.Study {
        Analyzer.studyReport(header, input: options.input, keepPHI: options.keepPHI)
    }
}

/// A model's run on a study: the report's model part, and the score when the model ran and
/// had something to score.
struct ModelOutcome {
    var report: AnalysisReport.Model
    var score: StudyScore?
}
