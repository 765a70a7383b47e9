import AppSupport
import Foundation
import LungSegmentation
import NIfTIIO
import Overview
import VolumeCore

// MARK: - Outputs and overview text

extension Analyzer {
    /// The lines that say what the model found: for a CT the lesion lines (or why there are
    /// none), for a radiograph the model lines.
    public static func resultLines(_ report: AnalysisReport) -> [String] {
        if let lesions = report.lesions { return lesionLines(lesions) }
        guard report.kind == "CT" else { return modelLines(report.model) }
        return ["No lesion map or COVID-19 pattern score: \(report.model.reason)"]
    }

    /// The model's lines for the overview (radiographs).
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
        lines.append("Research use only, not for clinical use.")
        return lines
    }

    /// The lesion network's lines: volumes and opacity per lung, distribution and severity,
    /// the pattern score (named as what it is) and the slices with the most lesion.
    public static func lesionLines(_ lesions: LesionReport) -> [String] {
        let panel = lesions.panel
        func lung(_ name: String, _ m: LesionMeasures) -> String {
            String(format: "%@ %.1f mL (%.1f%%)", name, m.lesionML, m.opacityPercent)
        }
        func percent(_ fraction: Double?) -> String { fraction.map { String(format: "%.0f%%", 100 * $0) } ?? "-" }
        let zones = panel.total.zoneFractions
        var lines = [
            "Lesions (\(lesions.model.name)): " + lung("right", panel.right) + ", " + lung("left", panel.left)
                + String(
                    format: "; opacity %.1f%%, high opacity %.1f%%", panel.total.opacityPercent,
                    panel.total.highOpacityPercent),
            "Distribution: peripheral \(percent(panel.total.peripheralFraction)), upper/middle/lower "
                + "\(percent(zones?.upper))/\(percent(zones?.middle))/\(percent(zones?.lower)), "
                + "\(panel.bilateral ? "bilateral" : "not bilateral"); CT severity \(lesions.severity.total)/"
                + "\(lesions.severity.maximum) (zones for lobes)",
            String(
                format: "COVID-19 pattern score %.2f  (uncalibrated: a ranking, not a probability)",
                lesions.score.value),
        ]
        if !lesions.topSlices.isEmpty {
            lines.append(
                "Most lesion: "
                    + lesions.topSlices.prefix(overviewTopSlices).map {
                        String(format: "z=%d (%.0f mm) %.1f mL", $0.z, $0.positionMM, $0.lesionML)
                    }.joined(separator: ", "))
        }
        lines.append("Research use only, not for clinical use.")
        return lines
    }

    /// probability.nii.gz (float32 on the input grid).
    static func writeProbability(_ map: Volume<Float>, folder: String, description: String) throws(LungCTError) {
        do {
            try NIfTI.write(map, to: folder + "/" + OutputFile.probability, description: description)
        } catch {
            throw .outputFailed(error.description)
        }
    }

    /// lesion_mask.nii.gz (uint8 on the input grid); its description names the labels.
    static func writeLesionMask(_ mask: Volume<UInt8>, labels: [String: String], folder: String) throws(LungCTError) {
        let names = labels.filter { $0.key != "0" }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        do {
            try NIfTI.write(
                mask, to: folder + "/" + OutputFile.lesionMask,
                description: "lungct lesions: " + names.joined(separator: ", "))
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
