import HDF5Store
import LungSegmentation
import VolumeCore

/// The groups of study.h5 after the image, one method each, in the order `finish` writes them
/// (the schema is in the README, "study.h5").
struct StudyFileWriter {
    let file: HDF5File
    /// (z, y, x), the shape of every volume dataset.
    let shape: [Int]

    /// A volume of the file's shape, chunked per slice and compressed as `StudyFile` says, on
    /// every core unless it is written beside other work (`parallel` false: the image during
    /// segmentation, the labels during the lesion network, which then lose no core to it).
    func volume<Element: HDF5Element>(_ datasetPath: String, _ values: [Element], parallel: Bool = true)
        throws(HDF5Error)
    {
        try file.writeDataset(
            datasetPath, values: values, shape: shape, gzipLevel: StudyFile.gzipLevel,
            strategy: StudyFile.deflateStrategy, parallel: parallel)
    }

    /// Geometry attributes on the image dataset.
    func geometry(_ g: Geometry, direction: [Double], at imagePath: String) throws(HDF5Error) {
        try file.setAttribute("spacing_mm", .doubles([g.spacing.x, g.spacing.y, g.spacing.z]), at: imagePath)
        try file.setAttribute("origin_mm", .doubles([g.origin.x, g.origin.y, g.origin.z]), at: imagePath)
        try file.setAttribute("direction", .doubles(direction), at: imagePath)
        try file.setAttribute(
            "axes",
            .string(
                "array axes (z, y, x); spacing_mm and origin_mm in (x, y, z); LPS; direction 3x3 row-major, column a = axis a"
            ),
            at: imagePath)
    }

    /// `/segmentation/lungs`, the lung labels (their attributes come with `segmentation`).
    func labels(_ labels: Volume<UInt8>) throws(HDF5Error) {
        try volume("/segmentation/lungs", labels.voxels, parallel: false)
    }

    /// The label names and method of `/segmentation/lungs`.
    func segmentation(method: String) throws(HDF5Error) {
        try file.setAttribute(
            "labels", .string("0 background, 1 right lung, 2 left lung (the patient's sides)"),
            at: "/segmentation/lungs")
        try file.setAttribute("method", .string(method), at: "/segmentation/lungs")
    }

    /// `/features`: the band definition and one group per lung and for both.
    func features(_ panel: LungPanel?) throws(HDF5Error) {
        try file.createGroup("/features")
        guard let panel else { return }
        let bands =
            "3D Slicer Lung CT Analyzer bands, HU: emphysema < \(AttenuationBand.inflatedFromHU), "
            + "inflated \(AttenuationBand.inflatedFromHU)..\(AttenuationBand.infiltratedFromHU), "
            + "infiltrated \(AttenuationBand.infiltratedFromHU)..\(AttenuationBand.collapsedFromHU), "
            + "collapsed \(AttenuationBand.collapsedFromHU)..\(AttenuationBand.vesselsFromHU), "
            + "vessels > \(AttenuationBand.vesselsFromHU)"
        try file.setAttribute("band_definition", .string(bands), at: "/features")
        for (name, measures) in [("right", panel.right), ("left", panel.left), ("total", panel.total)] {
            try lung(measures, group: "/features/" + name)
        }
    }

    private func lung(_ measures: LungMeasures, group: String) throws(HDF5Error) {
        try file.createGroup(group)
        try file.setAttribute("volume_ml", .double(measures.volumeML), at: group)
        try file.setAttribute("mean_hu", .double(measures.meanHU), at: group)
        try file.setAttribute("percentile15_hu", .double(measures.percentile15HU), at: group)
        try file.setAttribute("voxels", .int(measures.voxels), at: group)
        for band in AttenuationBand.allCases {
            try file.setAttribute(
                "fraction_\(band.rawValue)", .double(measures.bandFractions[band.rawValue] ?? 0), at: group)
        }
        try file.setAttribute("histogram_counts", .doubles(measures.histogram.counts.map(Double.init)), at: group)
        try file.setAttribute("histogram_first_bin_hu", .int(measures.histogram.firstBinHU), at: group)
        try file.setAttribute("histogram_bin_width_hu", .int(measures.histogram.binWidthHU), at: group)
    }

    /// `/maps/covid_probability`: a radiograph model's class-activation map.
    func map(_ score: StudyScore) throws(HDF5Error) {
        try volume("/maps/covid_probability", score.map.voxels)
        try file.setAttribute(
            "meaning",
            .string(
                "per-location calibrated probability of the covid class from the model's per-location logits (radiographs)"
            ),
            at: "/maps/covid_probability")
    }

    /// `/model`: the model's identity and the study's figure (CT: the COVID-19 pattern score).
    func model(_ report: AnalysisReport.Model) throws(HDF5Error) {
        try file.createGroup("/model")
        try file.setAttribute("name", .string(report.name ?? ""), at: "/model")
        try file.setAttribute("sha256", .string(report.sha256 ?? ""), at: "/model")
        if let probability = report.probability {
            try file.setAttribute("probability", .double(probability), at: "/model")
        }
        try file.setAttribute("aggregation", .string(report.aggregation ?? ""), at: "/model")
        for (name, value) in report.classProbabilities ?? [:] {
            try file.setAttribute("probability_\(name)", .double(value), at: "/model")
        }
    }

    /// `/provenance`: version, model, study hash (no PHI), input, warnings, notes, timings.
    func provenance(_ report: AnalysisReport) throws(HDF5Error) {
        try file.createGroup("/provenance")
        try file.setAttribute("lungct_version", .string(report.lungct), at: "/provenance")
        let model =
            report.model.ran
            ? "\(report.model.name ?? "") sha256 \(report.model.sha256 ?? "")" : "none: \(report.model.reason)"
        try file.setAttribute("model", .string(model), at: "/provenance")
        try file.setAttribute("study_hash", .string(report.study.studyHash), at: "/provenance")
        let input =
            "\(report.input.format), \(report.input.filesScanned) file(s), series \(report.study.seriesUID ?? "-")"
        try file.setAttribute("input", .string(input), at: "/provenance")
        try file.setAttribute("warnings", .string(report.warnings.joined(separator: "\n")), at: "/provenance")
        try file.setAttribute(
            "segmentation_notes", .string(report.segmentation.notes.joined(separator: "\n")), at: "/provenance")
        let timings = report.timingsSeconds.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        try file.setAttribute("timings_seconds", .string(timings.joined(separator: "; ")), at: "/provenance")
    }
}
