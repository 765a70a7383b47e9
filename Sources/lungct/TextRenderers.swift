import BatchScoring
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput
import Training

/// Every result's text form, as the commands print it without --json (with --json the same
/// values are printed as JSON). One place, so the commands stay thin and read alike.
enum TextRenderer {
    static func info(_ report: InputReport) -> String {
        var lines: [String] = []
        lines.append(
            "\(report.input): \(report.format), \(report.filesScanned) file(s) scanned, \(report.series.count) series")
        for entry in report.series {
            let marker =
                switch entry.status {
                case .chosen: "*"
                case .rejected: "x"
                case .notChosen: "-"
                }
            var line = "\(marker) \(entry.id)  \(entry.modality.isEmpty ? entry.kind : entry.modality)"
            if !entry.description.isEmpty { line += "  \"\(entry.description)\"" }
            line += "  \(entry.images) image(s)  \(entry.size.map(String.init).joined(separator: "×"))"
            if !entry.spacingMM.isEmpty {
                line += "  spacing \(entry.spacingMM.map { formatNumber($0) }.joined(separator: " × ")) mm"
            }
            if let orientation = entry.orientation { line += "  \(orientation)" }
            if !entry.transferSyntaxes.isEmpty { line += "  [\(entry.transferSyntaxes.joined(separator: ", "))]" }
            lines.append(line)
            lines.append("    \(entry.status.rawValue)\(entry.reason.map { ": \($0)" } ?? "")")
            if let split = entry.splitReason { lines.append("    series split: \(split)") }
            for correction in entry.corrections { lines.append("    corrected: \(correction)") }
            for warning in entry.warnings { lines.append("    warning: \(warning)") }
            for finding in entry.findings { lines.append("    quality: \(finding.message)") }
        }
        if !report.skippedFiles.isEmpty {
            lines.append("skipped \(report.skippedFiles.count) file(s):")
            // Group identical reasons so a folder of 500 non-DICOM files stays readable.
            var byReason: [String: [String]] = [:]
            for note in report.skippedFiles { byReason[note.reason, default: []].append(note.path) }
            for (reason, paths) in byReason.sorted(by: { $0.key < $1.key }) {
                let shown = paths.prefix(3).joined(separator: ", ")
                let more = paths.count > 3 ? " and \(paths.count - 3) more" : ""
                lines.append("  \(shown)\(more): \(reason)")
            }
        }
        lines.append(report.chosen.map { "chosen: \($0)" } ?? "chosen: none (nothing to analyse)")
        if let stats = report.statistics {
            lines.append(
                String(
                    format: "loaded %d voxels as %@ in %.2f s: min %.1f, max %.1f, mean %.1f", stats.voxels, stats.type,
                    stats.loadSeconds, stats.minimum, stats.maximum, stats.mean))
        }
        return lines.joined(separator: "\n")
    }

    private static func formatNumber(_ value: Double) -> String {
        value == value.rounded() ? String(format: "%.1f", value) : String(value)
    }

    static func analysis(_ report: AnalysisReport) -> String {
        var lines: [String] = []
        let chosen = report.input.series.first { $0.status == .chosen }
        lines.append("\(report.input.input): \(report.kind), series \(chosen?.id ?? "-")")
        let g = report.geometry
        lines.append(
            "  \(g.size.map(String.init).joined(separator: "×")) voxels, spacing \(g.spacingMM.map { String(format: "%.3f", $0) }.joined(separator: " × ")) mm, \(g.orientation)"
        )
        if let panel = report.lungPanel {
            lines += Analyzer.panelLines(panel).map { "  " + $0 }
        }
        for note in report.segmentation.notes { lines.append("  segmentation: \(note)") }
        for warning in report.warnings { lines.append("  warning: \(warning)") }
        for finding in report.qualityFindings { lines.append("  quality: \(finding.message)") }
        lines += Analyzer.resultLines(report).map { "  " + $0 }
        let total = report.timingsSeconds["total"] ?? 0
        lines.append(
            String(format: "  wrote %@ (%.2f s)", report.outputs.values.sorted().joined(separator: ", "), total))
        return lines.joined(separator: "\n")
    }

    static func conversion(_ result: ConversionResult) -> String {
        let line =
            "wrote \(result.output): \(result.size.map(String.init).joined(separator: "×")) \(result.type) HU, "
            + "spacing \(result.spacingMM.map { String($0) }.joined(separator: " × ")) mm, \(result.orientation), "
            + String(format: "%.2f s", result.seconds)
        return ([line] + result.warnings.map { "  warning: \($0)" }).joined(separator: "\n")
    }

    static func batch(_ r: BatchResult) -> String {
        var lines = [
            "\(r.archive): \(r.casesInArchive) case(s) in \(r.filesScanned) file(s)"
                + (r.shard.map { ", \(r.cases) in shard \($0)" } ?? "")
                + ": \(r.ok) ok, \(r.skipped) skipped, \(r.failed) failed"
                + (r.unfinished > 0 ? ", \(r.unfinished) unfinished" : "")
        ]
        var run = "  this run: \(r.analysedThisRun) case(s) in " + String(format: "%.0f s", r.seconds)
        if let rate = r.studiesPerHour { run += String(format: " (%.0f studies/hour)", rate) }
        if r.alreadyDone > 0 { run += ", \(r.alreadyDone) already done" }
        lines.append(run + String(format: ", peak memory %.0f MB", r.peakMemoryMB))
        if !r.setAsideFiles.isEmpty {
            lines.append("  \(r.setAsideFiles.count) file(s) set aside (not images; --json lists them)")
        }
        let shownFailures = 10
        for row in r.failures.prefix(shownFailures) {
            lines.append("  failed \(row.caseID) \(row.source): \(row.reason)")
        }
        if r.failures.count > shownFailures {
            lines.append("  ... \(r.failures.count - shownFailures) more failed case(s) in the summary")
        }
        lines.append("  summary: \(r.summary)")
        if r.interrupted {
            lines.append(
                r.casesInArchive == 0 && r.filesScanned == 0
                    ? "interrupted during the archive scan: rerun the same command"
                    : "interrupted: rerun the same command to finish the \(r.unfinished) case(s) left")
        }
        return lines.joined(separator: "\n")
    }

    static func merge(_ result: BatchScoring.Batch.MergeResult) -> String {
        var lines = [
            "wrote \(result.summary): \(result.cases) case(s), \(result.ok) ok, \(result.skipped) skipped, "
                + "\(result.failed) failed"
        ]
        for state in result.shards {
            lines.append(
                "  shard \(state.shard): \(state.cases) case(s), \(state.unfinished) unfinished, at \(state.finishedAt)"
            )
        }
        if !result.unfinishedShards.isEmpty {
            lines.append(
                "unfinished shards: \(result.unfinishedShards.joined(separator: ", ")) (rerun them, then merge again)")
        }
        return lines.joined(separator: "\n")
    }

    static func training(_ report: TrainingReport) -> String {
        var lines = ["wrote \(report.model) (sha256 \(report.sha256.prefix(16))…)"]
        for (name, value) in report.summary.sorted(by: { $0.key < $1.key }) { lines.append("  \(name): \(value)") }
        lines.append(
            String(format: "  %.1f training images/s, %.0f s in all", report.trainingImagesPerSecond, report.seconds))
        return lines.joined(separator: "\n")
    }

    /// The leave-one-out table (per image, then mean/min/max overall and per source) and the model written.
    static func lungFieldTraining(_ report: LungFieldTrainingReport) -> String {
        var lines: [String] = []
        if let scores = report.leaveOneOut {
            lines.append("leave-one-out Dice (both lung fields, on each image's own grid), \(report.pairs) images:")
            for score in scores {
                lines.append(
                    "  " + padded(score.name, 24) + padded(score.source, 12) + String(format: "%.3f", score.dice))
            }
            for (group, s) in (report.summary ?? [:]).sorted(by: { $0.key < $1.key }) {
                lines.append(
                    "  " + padded(group, 36)
                        + String(format: "%2d images: mean %.3f, min %.3f, max %.3f", s.images, s.mean, s.min, s.max))
            }
        }
        if let model = report.model, let sha = report.sha256 {
            lines.append("wrote \(model) (sha256 \(sha.prefix(16))…), trained on all \(report.pairs) images")
        }
        lines.append(String(format: "%.0f s in all", report.seconds))
        return lines.joined(separator: "\n")
    }

    /// `text` followed by spaces up to `width` characters (and one space at least).
    static func padded(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(1, width - text.count))
    }

    static func evaluation(_ report: EvaluationReport) -> String {
        let figure = { (value: Double?) in value.map { String(format: "%.3f", $0) } ?? "-" }
        var lines = [
            "\(report.images) images, accuracy \(figure(report.accuracy))",
            "confusion (rows true, columns predicted): \(report.confusion.classes)",
        ]
        for (name, row) in zip(report.confusion.classes, report.confusion.counts) { lines.append("  \(name): \(row)") }
        for name in report.confusion.classes {
            lines.append(
                "  \(name): AUC \(figure(report.auc[name] ?? nil)), sensitivity \(figure(report.sensitivity[name] ?? nil)), "
                    + "specificity \(figure(report.specificity[name] ?? nil))")
        }
        lines.append("  expected calibration error: \(figure(report.expectedCalibrationError))")
        for note in report.notes { lines.append("  not measured: \(note)") }
        for source in report.bySource ?? [] {
            let counts = report.confusion.classes.map { "\($0) \(source.imagesPerClass[$0] ?? 0)" }
            lines.append(
                "source \(source.source.isEmpty ? "(no sub-folder)" : source.source): \(source.images) images ("
                    + counts.joined(separator: ", ") + "), accuracy \(figure(source.accuracy))")
            for name in report.confusion.classes where (source.imagesPerClass[name] ?? 0) > 0 || source.images > 0 {
                lines.append(
                    "  \(name): sensitivity \(figure(source.sensitivity[name] ?? nil)), "
                        + "specificity \(figure(source.specificity[name] ?? nil))")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func lesionEvaluation(_ report: LesionEvaluationReport) -> String {
        let figure = { (value: Double?) in value.map { String(format: "%.3f", $0) } ?? "-" }
        let overlap = { (o: LesionEvaluationReport.Overlap) in
            "Dice lesion \(figure(o.lesion)), ground glass \(figure(o.groundGlass)), consolidation "
                + "\(figure(o.consolidation))"
        }
        var lines = ["\(report.model) (SHA-256 \(report.sha256.prefix(12))…)"]
        if let pooled = report.syntheticPooled {
            lines.append("synthetic lesions, \(report.synthetic.count) insertion(s), pooled: \(overlap(pooled))")
            for o in report.synthetic {
                lines.append(
                    "  \(o.study) #\(o.insertion ?? 0): \(overlap(o)); truth \(String(format: "%.1f", o.truthML)) mL "
                        + "(\(String(format: "%.1f", o.truthOutsideLungsML ?? 0)) mL outside the lungs found), found "
                        + "\(String(format: "%.1f", o.foundML)) mL")
            }
        }
        for o in report.truth { lines.append("truth mask \(o.study): \(overlap(o))") }
        for auc in report.sliceAUC {
            lines.append(
                "slices \(auc.study) (\(auc.labels), \(auc.positives) of \(auc.slices) positive): AUC "
                    + "\(figure(auc.aucMaxProbability)) by highest lesion probability, \(figure(auc.aucLesionML)) by lesion mL"
            )
        }
        if !report.studies.isEmpty { lines.append("study scores (uncalibrated):") }
        for s in report.studies {
            lines.append(
                "  \(s.study): score \(figure(s.score)), opacity \(s.opacityPercent.map { String(format: "%.2f", $0) } ?? "-") %, "
                    + "severity \(s.severity.map(String.init) ?? "-")/30, \(s.bilateral == true ? "bilateral" : "not bilateral")"
            )
        }
        lines += report.notes.map { "note: " + $0 }
        return lines.joined(separator: "\n")
    }

    static func modelRun(_ result: ModelTools.RunResult) -> String {
        String(
            format: "batch %d: %.4f s median over %d run(s)", result.batch, result.medianSeconds, result.repeats)
    }
}
