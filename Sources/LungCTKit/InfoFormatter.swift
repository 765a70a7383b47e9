import Foundation

/// The human-readable form of an `InputReport`.
public enum InfoFormatter {
    public static func text(_ report: InputReport) -> String {
        var lines: [String] = []
        lines.append("\(report.input): \(report.format), \(report.filesScanned) file(s) scanned, \(report.series.count) series")
        for entry in report.series {
            let marker = entry.status == "chosen" ? "*" : entry.status == "rejected" ? "x" : "-"
            var line = "\(marker) \(entry.id)  \(entry.modality.isEmpty ? entry.kind : entry.modality)"
            if !entry.description.isEmpty { line += "  \"\(entry.description)\"" }
            line += "  \(entry.images) image(s)  \(entry.size.map(String.init).joined(separator: "×"))"
            if !entry.spacingMM.isEmpty {
                line += "  spacing \(entry.spacingMM.map { formatNumber($0) }.joined(separator: " × ")) mm"
            }
            if let orientation = entry.orientation { line += "  \(orientation)" }
            if !entry.transferSyntaxes.isEmpty { line += "  [\(entry.transferSyntaxes.joined(separator: ", "))]" }
            lines.append(line)
            lines.append("    \(entry.status)\(entry.reason.map { ": \($0)" } ?? "")")
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

    static func formatNumber(_ value: Double) -> String {
        value == value.rounded() ? String(format: "%.1f", value) : String(value)
    }
}

/// The human-readable summary of an analysis.
public enum AnalysisFormatter {
    public static func text(_ report: AnalysisReport) -> String {
        var lines: [String] = []
        let chosen = report.input.series.first { $0.status == "chosen" }
        lines.append("\(report.input.input): \(report.kind), series \(chosen?.id ?? "-")")
        let g = report.geometry
        lines.append(
            "  \(g.size.map(String.init).joined(separator: "×")) voxels, spacing \(g.spacingMM.map { String(format: "%.3f", $0) }.joined(separator: " × ")) mm, \(g.orientation)")
        if let panel = report.lungPanel {
            lines += Analyzer.panelLines(panel).map { "  " + $0 }
        }
        for note in report.segmentation.notes { lines.append("  segmentation: \(note)") }
        for warning in report.warnings { lines.append("  warning: \(warning)") }
        for finding in report.qualityFindings { lines.append("  quality: \(finding.message)") }
        lines += Analyzer.modelLines(report.model).map { "  " + $0 }
        let total = report.timingsSeconds["total"] ?? 0
        lines.append(String(format: "  wrote %@ (%.2f s)", report.outputs.values.sorted().joined(separator: ", "), total))
        return lines.joined(separator: "\n")
    }
}
