import AppSupport
import Dispatch
import Foundation
import HDF5Store
import LungSegmentation
import ModelRuntime
import StudyInput
import VolumeCore

/// `study.h5`: the image, the lung labels, geometry, the lung panel and provenance, readable by
/// h5py with no custom code. The schema is in the README ("study.h5").
public enum StudyFile {
    public enum Image {
        /// CT in HU: `/image/hu`, int16.
        case hu(Volume<Int16>)
        /// A radiograph normalised to 0...1: `/image/intensity`, float32.
        case intensity(Volume<Float>)
    }

    /// gzip level of the image and label datasets: level 1 with the shuffle filter compresses
    /// int16 HU to about half, at several times the speed of the default level 6 (measured on a
    /// 512×512×300 phantom; see the benchmark), which keeps `analyze` within its time budget.
    public static let gzipLevel = 1

    /// Starts `study.h5` under a temporary name by writing the image on a background thread,
    /// so that compressing it overlaps the segmentation; `PendingStudyFile.finish` writes the
    /// rest, closes the file and renames it into place.
    public static func begin(path: String, image: Image, modality: String) -> PendingStudyFile {
        PendingStudyFile(path: path, image: image, modality: modality)
    }

    /// Writes the whole file at once.
    public static func write(
        to path: String, image: Image, labels: Volume<UInt8>, panel: LungPanel?, score: StudyScore? = nil,
        report: AnalysisReport
    ) throws(LungCTError) {
        try begin(path: path, image: image, modality: report.study.modality)
            .finish(labels: labels, panel: panel, score: score, report: report)
    }
}

/// A study.h5 being written: the image goes first, in the background.
public final class PendingStudyFile: @unchecked Sendable {
    // Only the background block touches `file` until `done` is waited for; after that only
    // `finish` does, so the file is never used from two threads at once.
    let path: String
    let partial: String
    let image: StudyFile.Image
    var file: HDF5File?
    var failure: HDF5Error?
    let done = DispatchGroup()

    init(path: String, image: StudyFile.Image, modality: String) {
        self.path = path
        self.image = image
        partial = AtomicFile.partialPath(for: path)
        done.enter()
        DispatchQueue.global().async { [self] in
            defer { done.leave() }
            do throws(HDF5Error) {
                let file = try HDF5File(creating: partial)
                self.file = file
                try writeImage(file, modality: modality)
            } catch {
                failure = error
            }
        }
    }

    var imagePath: String {
        switch image {
        case .hu: "/image/hu"
        case .intensity: "/image/intensity"
        }
    }

    func writeImage(_ file: HDF5File, modality: String) throws(HDF5Error) {
        switch image {
        case .hu(let hu):
            let g = hu.geometry
            try file.writeDataset(imagePath, values: hu.voxels, shape: [g.size.z, g.size.y, g.size.x], gzipLevel: StudyFile.gzipLevel)
            try file.setAttribute("units", .string("HU"), at: imagePath)
            try file.setAttribute("modality", .string("CT"), at: imagePath)
        case .intensity(let intensity):
            let g = intensity.geometry
            try file.writeDataset(imagePath, values: intensity.voxels, shape: [g.size.z, g.size.y, g.size.x], gzipLevel: StudyFile.gzipLevel)
            try file.setAttribute("units", .string("normalised 0...1 (radiographs have no HU)"), at: imagePath)
            try file.setAttribute("modality", .string(modality.isEmpty ? "radiograph" : modality), at: imagePath)
        }
    }

    /// Waits for the image, writes labels, geometry, features and provenance, closes the file
    /// and renames it into place.
    public func finish(
        labels: Volume<UInt8>, panel: LungPanel?, score: StudyScore? = nil, report: AnalysisReport
    ) throws(LungCTError) {
        done.wait()
        do throws(HDF5Error) {
            if let failure { throw failure }
            guard let file else { throw HDF5Error(operation: "create", file: partial, message: "no file") }
            let g = labels.geometry
            // Arrays are (z, y, x) so that numpy's last index is x, as in SimpleITK's GetArrayFromImage.
            let shape = [g.size.z, g.size.y, g.size.x]
            try file.setAttribute("spacing_mm", .doubles([g.spacing.x, g.spacing.y, g.spacing.z]), at: imagePath)
            try file.setAttribute("origin_mm", .doubles([g.origin.x, g.origin.y, g.origin.z]), at: imagePath)
            try file.setAttribute("direction", .doubles(report.geometry.direction), at: imagePath)
            try file.setAttribute(
                "axes", .string("array axes (z, y, x); spacing_mm and origin_mm in (x, y, z); LPS; direction 3x3 row-major, column a = axis a"),
                at: imagePath)

            try file.writeDataset("/segmentation/lungs", values: labels.voxels, shape: shape, gzipLevel: StudyFile.gzipLevel)
            try file.setAttribute("labels", .string("0 background, 1 right lung, 2 left lung (the patient's sides)"), at: "/segmentation/lungs")
            try file.setAttribute("method", .string(report.segmentation.method), at: "/segmentation/lungs")

            try file.createGroup("/features")
            if let panel {
                try file.setAttribute("band_definition", .string(
                    "3D Slicer Lung CT Analyzer bands, HU: emphysema < -950, inflated -950..-750, infiltrated -750..-400, collapsed -400..0, vessels > 0"),
                    at: "/features")
                for (name, measures) in [("right", panel.right), ("left", panel.left), ("total", panel.total)] {
                    let group = "/features/" + name
                    try file.createGroup(group)
                    try file.setAttribute("volume_ml", .double(measures.volumeML), at: group)
                    try file.setAttribute("mean_hu", .double(measures.meanHU), at: group)
                    try file.setAttribute("percentile15_hu", .double(measures.percentile15HU), at: group)
                    try file.setAttribute("voxels", .int(measures.voxels), at: group)
                    for band in AttenuationBand.allCases {
                        try file.setAttribute("fraction_\(band.rawValue)", .double(measures.bandFractions[band.rawValue] ?? 0), at: group)
                    }
                    try file.setAttribute("histogram_counts", .doubles(measures.histogram.counts.map(Double.init)), at: group)
                    try file.setAttribute("histogram_first_bin_hu", .int(measures.histogram.firstBinHU), at: group)
                    try file.setAttribute("histogram_bin_width_hu", .int(measures.histogram.binWidthHU), at: group)
                }
            }

            if let score {
                try file.writeDataset("/maps/covid_probability", values: score.map.voxels, shape: shape, gzipLevel: StudyFile.gzipLevel)
                try file.setAttribute(
                    "meaning", .string("per-voxel calibrated probability of a COVID-19 pattern from the model's per-location logits; 0 outside the lungs (CT)"),
                    at: "/maps/covid_probability")
                try file.createGroup("/model")
                try file.setAttribute("name", .string(report.model.name ?? ""), at: "/model")
                try file.setAttribute("sha256", .string(report.model.sha256 ?? ""), at: "/model")
                try file.setAttribute("probability", .double(score.probability), at: "/model")
                try file.setAttribute("aggregation", .string(score.aggregation), at: "/model")
                for (name, value) in score.classProbabilities { try file.setAttribute("probability_\(name)", .double(value), at: "/model") }
                if !score.slices.isEmpty {
                    try file.writeArray("/model/slice_probability", values: score.slices.map { Float($0.probability) }, shape: [score.slices.count])
                    try file.writeArray("/model/slice_index", values: score.slices.map { Int32($0.z) }, shape: [score.slices.count])
                    try file.writeArray("/model/slice_counted", values: score.slices.map { UInt8($0.counted ? 1 : 0) }, shape: [score.slices.count])
                }
            }

            try file.createGroup("/provenance")
            try file.setAttribute("lungct_version", .string(report.lungct), at: "/provenance")
            try file.setAttribute(
                "model", .string(report.model.ran ? "\(report.model.name ?? "") sha256 \(report.model.sha256 ?? "")" : "none: \(report.model.reason)"),
                at: "/provenance")
            try file.setAttribute("study_hash", .string(report.study.studyHash), at: "/provenance")
            try file.setAttribute("input", .string("\(report.input.format), \(report.input.filesScanned) file(s), series \(report.study.seriesUID ?? "-")"), at: "/provenance")
            try file.setAttribute("warnings", .string(report.warnings.joined(separator: "\n")), at: "/provenance")
            try file.setAttribute("segmentation_notes", .string(report.segmentation.notes.joined(separator: "\n")), at: "/provenance")
            let timings = report.timingsSeconds.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
            try file.setAttribute("timings_seconds", .string(timings), at: "/provenance")
            try file.close()
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw .outputFailed("\(path): \(error)")
        }
        try AtomicFile.commit(partial, to: path)
    }
}
