import AppSupport
import DICOMSeries
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput

/// What is done to one case, wherever it runs: in the batch's own process (`BatchRun`
/// without isolation) or in a worker process of its own (`BatchWorker`).
struct CaseAnalysis: Sendable {
    /// A case after inspection and loading: ready to analyse, or already known to be skipped or failed.
    enum Outcome {
        case ready(PreparedInput)
        case skipped(kind: String, reason: String)
        case failed(kind: String, reason: String)
    }

    let out: BatchOutput
    let models: AnalysisModels
    /// The archive as an absolute path: inputs are named `<archive>/<source>` in reports.
    let archiveLabel: String
    /// Scratch folders of unpacked zip files → their archive paths, for readable messages.
    let unpacked: [String: String]
    /// Write each case's DICOM result objects too (`--dicom`).
    var dicom = false

    /// Inspects and loads a case (headers, then pixels), or says why it cannot be analysed.
    func prepare(_ item: BatchCase) -> Outcome {
        let label = archiveLabel + "/" + item.source
        let start = Date()
        var inspection: Inspection
        do {
            switch item.kind {
            case .damagedFiles, .damagedZip:
                return .failed(kind: item.kind.rawValue, reason: item.problem ?? "damaged")
            case .nifti:
                inspection = try Inspection.inspectNIfTI(item.files[0])
                inspection.show(item.names ?? ShownNames())
            case .picture:
                inspection = try Inspection.inspectPicture(item.files[0])
                inspection.show(item.names ?? ShownNames())
            case .dicomSeries:
                var scan = FolderScan.scan(files: item.files)
                scan.names = item.names ?? ShownNames()
                inspection = Inspection.inspect(scan, input: label)
                if case .dicom(let candidates) = inspection.source, !candidates.contains(where: \.isChosen) {
                    return notAnalysable(scan: scan, candidates: candidates)
                }
            }
            inspection.report.input = label
            let image = try inspection.load()
            return .ready(
                PreparedInput(inspection: inspection, image: image, loadSeconds: Date().timeIntervalSince(start)))
        } catch .nothingToAnalyse(let input, let details) {
            // A NIfTI mask or segmentation beside the CTs: nothing lungct analyses, not a failure.
            return .skipped(kind: item.kind.rawValue, reason: "\(input): \(details)")
        } catch {
            return .failed(kind: item.kind.rawValue, reason: error.description)
        }
    }

    /// A DICOM case with no series to analyse: skipped when it holds nothing lungct analyses
    /// (localizers, secondary captures, other modalities), failed otherwise.
    func notAnalysable(scan: FolderScan, candidates: [SeriesCandidate]) -> Outcome {
        guard !candidates.isEmpty else {
            let reason = scan.skipped.first.map { "\($0.path): \($0.reason)" } ?? "no image"
            return .failed(kind: "DICOM", reason: "the series' files can no longer be read: \(reason)")
        }
        let reasons = candidates.map { "\($0.group.label): \($0.rejection ?? "not chosen")" }.joined(separator: "; ")
        let modality = candidates[0].group.first.modality
        let notAnImage = candidates.allSatisfy { candidate in
            let header = candidate.group.first
            return header.isLocalizer || header.sopClassUID.hasPrefix(SOPClass.secondaryCapturePrefix)
                || (header.modality != "CT" && !Batch.radiographModalities.contains(header.modality))
        }
        let kind = modality.isEmpty ? "DICOM" : modality
        return notAnImage ? .skipped(kind: kind, reason: reasons) : .failed(kind: kind, reason: reasons)
    }

    /// The row of a case (seconds left at 0), analysing it into `partial` when it is ready.
    /// Throws only output errors, which stop the run (a full disk must not turn every
    /// remaining case into a failure); `partial` is then removed.
    func row(for item: BatchCase, outcome: Outcome, partial: String) throws(LungCTError) -> CaseRow {
        var row = CaseRow(
            caseID: item.id, source: item.source, kind: item.kind.rawValue, series: "", status: .failed,
            reason: "",
            rightLungML: nil, leftLungML: nil, totalLungML: nil, studyProbability: nil, modelSHA256: nil, seconds: 0)
        switch outcome {
        case .skipped(let kind, let reason):
            row.kind = kind
            row.status = .skipped
            row.reason = readable(reason, item.names)
        case .failed(let kind, let reason):
            row.kind = kind
            row.reason = readable(reason, item.names)
        case .ready(let prepared):
            var analysis = AnalysisOptions(input: prepared.inspection.report.input, output: partial)
            analysis.prepared = prepared
            analysis.models = models
            analysis.dicom = dicom
            do {
                var analysed = try Analyzer.analyze(analysis)
                // The report names the folder the case is published as, not the partial one.
                analysed.outputs = analysed.outputs.mapValues { path in
                    let relative =
                        path.hasPrefix(partial + "/")
                        ? String(path.dropFirst(partial.count + 1)) : URL(fileURLWithPath: path).lastPathComponent
                    return out.caseFolder(item.id) + "/" + relative
                }
                try Analyzer.writeReport(analysed, folder: partial)
                row = okRow(analysed, item: item)
            } catch {
                if case .outputFailed = error {
                    try? FileManager.default.removeItem(atPath: partial)
                    throw error
                }
                // Whatever the failed analysis wrote is not kept: the folder holds case.json alone.
                try Self.empty(partial)
                row.kind = prepared.inspection.report.format
                row.reason = readable(error.description, item.names)
            }
        }
        return row
    }

    /// Makes `partial` an empty folder again.
    static func empty(_ partial: String) throws(LungCTError) {
        try? FileManager.default.removeItem(atPath: partial)
        do {
            try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: false)
        } catch {
            throw .outputFailed("\(partial): cannot create a case folder: \(error.localizedDescription)")
        }
    }

    func okRow(_ report: AnalysisReport, item: BatchCase) -> CaseRow {
        let round1 = { (value: Double) in value.rounded(places: ReportPrecision.summaryFigures) }
        let notes = report.warnings.isEmpty ? "" : "\(report.warnings.count) warning(s) in report.json"
        return CaseRow(
            caseID: item.id, source: item.source, kind: report.kind, series: report.study.seriesUID ?? "", status: .ok,
            reason: notes, rightLungML: report.lungPanel.map { round1($0.right.volumeML) },
            leftLungML: report.lungPanel.map { round1($0.left.volumeML) },
            totalLungML: report.lungPanel.map { round1($0.total.volumeML) }, studyProbability: report.model.probability,
            modelSHA256: report.model.ran ? report.model.sha256 : nil, seconds: 0)
    }

    /// Scratch paths of unpacked zip files shown as the archive paths they came from, and
    /// aliases (`names`, a case's files whose names are not valid UTF-8) as what they stand for.
    func readable(_ reason: String, _ names: ShownNames? = nil) -> String {
        Self.archivePaths(in: names?.shown(inText: reason) ?? reason, unpacked: unpacked)
    }

    /// `text` with each scratch folder of `unpacked` replaced by its archive path, the longest
    /// folder first: a scratch folder's name can begin another's (`z1` and `z10`), and the
    /// shorter one replaced first would leave the longer one's tail after the wrong zip's name.
    static func archivePaths(in text: String, unpacked: [String: String]) -> String {
        unpacked.sorted { $0.key.count > $1.key.count }.reduce(text) { text, pair in
            text.replacingOccurrences(of: pair.key, with: pair.value)
        }
    }
}
