import AppSupport
import Foundation
import HDF5Store

extension StudyFileWriter {
    /// The lesion network's part of study.h5: `/maps/lesion_probability`,
    /// `/segmentation/lesions`, the lesion attributes of `/features/{right,left,total}` and the
    /// `/lesions` group (severity, pattern score, model, per-slice figures).
    func lesions(_ analysis: LesionAnalysis) throws(HDF5Error) {
        let report = analysis.report
        try volume("/maps/lesion_probability", analysis.probability.voxels)
        try file.setAttribute(
            "meaning",
            .string(
                "per-voxel probability of a COVID-19-type lesion (1 - P(\(report.model.classes[0]))) from the HU lesion "
                    + "network; 0 outside the lungs"),
            at: "/maps/lesion_probability")
        try volume("/segmentation/lesions", analysis.mask.voxels)
        let labels = report.maskLabels.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        try file.setAttribute("labels", .string(labels.joined(separator: ", ")), at: "/segmentation/lesions")
        try file.setAttribute("method", .string(report.definitions["lesion"] ?? ""), at: "/segmentation/lesions")
        let panel = report.panel
        for (name, measures) in [("right", panel.right), ("left", panel.left), ("total", panel.total)] {
            try lesionFeatures(measures, group: "/features/" + name)
        }
        try lesionGroup(analysis)
    }

    private func lesionFeatures(_ m: LesionMeasures, group: String) throws(HDF5Error) {
        try file.setAttribute("lesion_volume_ml", .double(m.lesionML), at: group)
        for (name, ml) in m.classML { try file.setAttribute("lesion_volume_ml_\(name)", .double(ml), at: group) }
        try file.setAttribute("opacity_percent", .double(m.opacityPercent), at: group)
        try file.setAttribute("high_opacity_percent", .double(m.highOpacityPercent), at: group)
        // Without lesion there is no distribution: NaN, as numpy reads "not a number".
        try file.setAttribute("peripheral_fraction", .double(m.peripheralFraction ?? .nan), at: group)
        let zones = m.zoneFractions
        try file.setAttribute("zone_fraction_upper", .double(zones?.upper ?? .nan), at: group)
        try file.setAttribute("zone_fraction_middle", .double(zones?.middle ?? .nan), at: group)
        try file.setAttribute("zone_fraction_lower", .double(zones?.lower ?? .nan), at: group)
        try file.setAttribute("severity", .int(m.severity), at: group)
    }

    private func lesionGroup(_ analysis: LesionAnalysis) throws(HDF5Error) {
        let report = analysis.report
        try file.createGroup("/lesions")
        try file.setAttribute("bilateral", .int(report.panel.bilateral ? 1 : 0), at: "/lesions")
        try file.setAttribute("severity_total", .int(report.severity.total), at: "/lesions")
        try file.setAttribute(
            "severity_zone_points", .doubles(report.severity.zones.map { Double($0.points) }), at: "/lesions")
        try file.setAttribute(
            "severity_zones", .string(report.severity.zones.map { "\($0.lung) \($0.zone)" }.joined(separator: ", ")),
            at: "/lesions")
        try file.setAttribute("severity_method", .string(report.severity.method), at: "/lesions")
        try file.setAttribute("covid_pattern_score", .double(report.score.value), at: "/lesions")
        try file.setAttribute("score_calibrated", .int(report.score.calibrated ? 1 : 0), at: "/lesions")
        try file.setAttribute("score_rule", .string(report.score.rule), at: "/lesions")
        for (name, value) in report.score.features {
            try file.setAttribute("score_feature_\(name)", .double(value), at: "/lesions")
        }
        for (name, text) in report.definitions {
            try file.setAttribute("definition_\(name)", .string(text), at: "/lesions")
        }
        try file.setAttribute("model", .string(report.model.name), at: "/lesions")
        try file.setAttribute("model_sha256", .string(report.model.sha256), at: "/lesions")
        let grid = (try? JSON.encode(report.model.grid)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        try file.setAttribute("grid", .string(grid), at: "/lesions")
        let slices = analysis.slices
        guard !slices.isEmpty else { return }
        let count = [slices.count]
        try file.writeArray("/lesions/slice_index", values: slices.map { Int32($0.z) }, shape: count)
        try file.writeArray("/lesions/slice_position_mm", values: slices.map { Float($0.positionMM) }, shape: count)
        try file.writeArray("/lesions/slice_lesion_ml", values: slices.map { Float($0.lesionML) }, shape: count)
        try file.writeArray(
            "/lesions/slice_max_probability", values: slices.map { Float($0.maxProbability) }, shape: count)
    }
}
