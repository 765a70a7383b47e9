import AppSupport
import Foundation
import LungSegmentation
import ModelRuntime
import Overview
import VolumeCore

// The CT pipeline: segment the lungs, measure them, find the lesions with the HU lesion network,
// write the outputs.

extension Analyzer {
    /// The CT pipeline: segment the lungs, measure them, run the lesion network, then write the
    /// lung mask, study.h5 with probability.nii.gz and lesion_mask.nii.gz, and the overview, each
    /// stage timed under its key. The outputs are written in the background as soon as what they
    /// hold exists, so a write stage's time is what is left to wait for.
    static func analyzeCT(_ volume: HUVolume, _ study: LoadedStudy, clock: inout StageClock) throws(LungCTError)
        -> AnalysisReport
    {
        var warnings = study.warnings
        let hu = wholeHU(volume, warnings: &warnings)
        // study.h5's HU dataset is compressed in the background while the lungs are segmented,
        // and the lung labels (study.h5's and lung_mask.nii.gz) while the lesion network runs.
        let file = StudyFile.begin(path: study.folder + "/" + OutputFile.study, image: .hu(hu), modality: "CT")
        let segmentation = segmentLungs(hu, clock: &clock)
        file.addLabels(segmentation.labels)
        let maskWritten = BackgroundWork {
            [labels = segmentation.labels, folder = study.folder] () throws(LungCTError) in
            try writeMask(labels, folder: folder, description: "lungct lungs: 1 right, 2 left")
        }
        do {
            let panel = LungPanel.measure(hu: hu, labels: segmentation.labels)
            clock.lap("lung panel")
            if panel.total.voxels == 0 { warnings.append("no lung found: the lung panel is empty") }
            let (model, lesions) = try findLesions(hu, labels: segmentation.labels, study, clock: &clock)
            var report = ctReport(
                study, geometry: hu.geometry, warnings: warnings, segmentation: segmentation, panel: panel,
                model: model)
            report.lesions = lesions?.report
            try maskWritten.wait()
            clock.lap("write lung_mask.nii.gz")
            try writeFinalOutputs(
                file,
                overview: ctOverview(
                    hu, labels: segmentation.labels, panel: panel, lesions: lesions, report: report, study),
                panel: panel, lesions: lesions, report: report, folder: study.folder, clock: &clock)
            if study.options.dicom {
                try writeDICOM(
                    DICOMResults.Inputs(labels: segmentation.labels, panel: panel, lesions: lesions, report: report),
                    study, geometry: hu.geometry, into: &report, clock: &clock)
                clock.lap("dicom")
            }
            return report
        } catch {
            // No writer outlives the analysis that started it, and no partial study.h5 stays.
            try? maskWritten.wait()
            file.abandon()
            throw error
        }
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

    /// Runs the lesion network, when there is one ("lesions" timing, its steps as
    /// "lesions.<step>"); without one, or without lung, the report's model part says why.
    static func findLesions(_ hu: Volume<Int16>, labels: Volume<UInt8>, _ study: LoadedStudy, clock: inout StageClock)
        throws(LungCTError) -> (AnalysisReport.Model, LesionAnalysis?)
    {
        guard let model = study.options.models.lesion else {
            let missing =
                "probability.nii.gz and lesion_mask.nii.gz are not written, and the report has no lesion panel, "
                + "severity score or COVID-19 pattern score"
            return (noModel(kind: "CT lesion", declined: study.options.models.declined, missing: missing), nil)
        }
        let lesions = try LesionScoring.analyze(hu: hu, labels: labels, model: model)
        for (step, seconds) in lesions?.timings ?? [] { clock.record("lesions.\(step)", seconds: seconds) }
        clock.lap("lesions")
        return (modelReport(lesions, model: model), lesions)
    }

    /// report.json for a CT (lesions, outputs and timings are filled in later).
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

    /// Finishes study.h5 on this thread while probability.nii.gz and lesion_mask.nii.gz (when
    /// the lesion network ran) and the overview are written on others: none of them needs
    /// another, so the slowest single writer (probability.nii.gz, one gzip stream) sets the pace
    /// and the others share the second core. Returns when every one is written (times laps
    /// "write study.h5 and lesion maps", then "overview", the overview's remaining wait), and
    /// throws the first failure.
    static func writeFinalOutputs(
        _ file: PendingStudyFile, overview: OverviewContent, panel: LungPanel, lesions: LesionAnalysis?,
        report: AnalysisReport, folder: String, clock: inout StageClock
    ) throws(LungCTError) {
        var maps: [BackgroundWork] = []
        if let lesions {
            maps.append(
                BackgroundWork { () throws(LungCTError) in
                    try writeProbability(
                        lesions.probability, folder: folder,
                        description: "lungct lesion probability (ground glass or consolidation)")
                })
            maps.append(
                BackgroundWork { () throws(LungCTError) in
                    try writeLesionMask(lesions.mask, labels: lesions.report.maskLabels, folder: folder)
                })
        }
        let overviewWritten = BackgroundWork { () throws(LungCTError) in try writeOverview(overview, folder: folder) }
        var failure: LungCTError?
        do { try file.finish(panel: panel, lesions: lesions, report: report) } catch { failure = error }
        do { try BackgroundWork.waitAll(maps) } catch { failure = failure ?? error }
        clock.lap("write study.h5 and lesion maps")
        do { try overviewWritten.wait() } catch { failure = failure ?? error }
        clock.lap("overview")
        if let failure { throw failure }
    }

    /// The CT overview: lungs and lesion probability over the CT, the panel and lesion lines,
    /// and the slice with the most lesion among the axial panels.
    static func ctOverview(
        _ hu: Volume<Int16>, labels: Volume<UInt8>, panel: LungPanel, lesions: LesionAnalysis?,
        report: AnalysisReport, _ study: LoadedStudy
    ) -> OverviewContent {
        var content = OverviewContent(
            hu: hu, labels: labels, probability: lesions?.probability,
            title: "lungct \(LungCTVersion.string)  \(study.seriesID ?? "")",
            lines: panelLines(panel) + resultLines(report), window: study.options.window)
        content.mapName = "lesion probability"
        content.focusName = "most lesion"
        if let top = lesions?.report.topSlices.first { content.focusSlice = top.z }
        return content
    }

    /// The DICOM result objects (`--dicom`): written when the input is a DICOM CT series and
    /// listed in the report's outputs; otherwise the report says why there are none.
    static func writeDICOM(
        _ inputs: DICOMResults.Inputs, _ study: LoadedStudy, geometry: Geometry, into report: inout AnalysisReport,
        clock: inout StageClock
    ) throws(LungCTError) {
        guard let source = DICOMResults.source(study, geometry: geometry) else {
            report.warnings.append(DICOMResults.notDICOMWarning)
            return
        }
        let written = try DICOMResults.write(inputs, source: source, folder: study.folder)
        for (path, step, seconds) in written {
            let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            report.outputs["dicom/" + name] = path
            clock.record("dicom." + step, seconds: seconds)
        }
    }
}
