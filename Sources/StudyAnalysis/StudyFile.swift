import AppSupport
import Dispatch
import Foundation
import HDF5Store
import LungSegmentation
import ModelRuntime
import StudyInput
import VolumeCore

/// `study.h5`: the image, the lung labels, geometry, the lung panel, the lesion maps and
/// features or the radiograph model's map, and provenance, readable by h5py with no custom code.
/// The schema is in the README ("study.h5").
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

    /// How the volumes' chunks are deflated. Shuffled, a CT's volumes are runs (the high bytes
    /// of HU, zeros outside the lungs, labels) and noise (the low bytes), which zlib's run-length
    /// strategy codes as well as its default one at a fraction of the work. Measured per volume
    /// against the default strategy at level 1, on a 512×512×300 phantom and three real CTs
    /// (popi-00, P001, A0001): HU in half the time and 3-5 % smaller, the lesion probability
    /// 10-30 % faster and 4-8 % smaller, the labels about as fast and 55 % smaller.
    public static let deflateStrategy = HDF5DeflateStrategy.runLength

    /// Starts `study.h5` under a temporary name by writing the image on a background thread,
    /// so that compressing it overlaps the segmentation; `PendingStudyFile.addLabels` queues the
    /// lung labels as soon as they exist, and `finish` writes the rest, closes the file and
    /// renames it into place.
    public static func begin(path: String, image: Image, modality: String) -> PendingStudyFile {
        PendingStudyFile(path: path, image: image, modality: modality)
    }

    /// Writes the whole file at once.
    public static func write(
        to path: String, image: Image, labels: Volume<UInt8>, panel: LungPanel?, score: StudyScore? = nil,
        lesions: LesionAnalysis? = nil, report: AnalysisReport
    ) throws(LungCTError) {
        let file = begin(path: path, image: image, modality: report.study.modality)
        file.addLabels(labels)
        try file.finish(panel: panel, score: score, lesions: lesions, report: report)
    }
}

/// A study.h5 being written in the background, part by part as the analysis produces them:
/// the image first, then the lung labels, then the rest.
public final class PendingStudyFile: @unchecked Sendable {
    // Every HDF5 call on the file runs on `queue`, a serial queue, in the order the parts were
    // queued, so the file is never used from two threads at once; `file` and `failure` are
    // touched only there. `labelsAdded` and `finished` are touched only by the thread that drives
    // the analysis.
    let path: String
    let partial: String
    let image: StudyFile.Image
    /// (z, y, x), the shape of every volume dataset: the image's.
    let shape: [Int]
    private let queue = DispatchQueue(label: "lungct.study-file")
    private var file: HDF5File?
    private var failure: HDF5Error?
    private var labelsAdded = false
    private var finished = false

    init(path: String, image: StudyFile.Image, modality: String) {
        self.path = path
        self.image = image
        partial = AtomicFile.partialPath(for: path)
        let g = image.geometry
        // Arrays are (z, y, x) so that numpy's last index is x, as in SimpleITK's GetArrayFromImage.
        shape = [g.size.z, g.size.y, g.size.x]
        queue.async { [self] in
            do throws(HDF5Error) {
                let file = try HDF5File(creating: partial)
                self.file = file
                try writeImage(file, modality: modality)
            } catch {
                failure = error
            }
        }
    }

    /// Runs `part` on the file after every part queued before it; after a failure, nothing more
    /// is written (`finish` reports the first failure).
    private func enqueue(_ part: @escaping @Sendable (HDF5File) throws(HDF5Error) -> Void) {
        queue.async { [self] in
            guard failure == nil, let file else { return }
            do throws(HDF5Error) { try part(file) } catch { failure = error }
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
            try StudyFileWriter(file: file, shape: shape).volume(imagePath, hu.voxels, parallel: false)
            try file.setAttribute("units", .string("HU"), at: imagePath)
            try file.setAttribute("modality", .string("CT"), at: imagePath)
        case .intensity(let intensity):
            try StudyFileWriter(file: file, shape: shape).volume(imagePath, intensity.voxels, parallel: false)
            try file.setAttribute("units", .string("normalised 0...1 (radiographs have no HU)"), at: imagePath)
            try file.setAttribute("modality", .string(modality.isEmpty ? "radiograph" : modality), at: imagePath)
        }
    }

    /// Queues `/segmentation/lungs` (its attributes come with `finish`), so that a CT's labels
    /// are compressed while the lesion network runs. Call it once, before `finish`.
    public func addLabels(_ labels: Volume<UInt8>) {
        precondition(!labelsAdded, "\(path): lung labels added twice")
        precondition(labels.geometry.size == image.geometry.size, "\(path): labels and image differ in size")
        labelsAdded = true
        let shape = shape
        enqueue { file throws(HDF5Error) in try StudyFileWriter(file: file, shape: shape).labels(labels) }
    }

    /// Writes geometry, the lung labels' attributes, features, the lesion maps and features (a
    /// CT's `lesions`) or the radiograph model's map (`score`), and provenance after the parts
    /// already queued, closes the file and renames it into place.
    public func finish(
        panel: LungPanel?, score: StudyScore? = nil, lesions: LesionAnalysis? = nil, report: AnalysisReport
    ) throws(LungCTError) {
        precondition(labelsAdded, "\(path): finish before addLabels")
        precondition(!finished, "\(path): finished twice")
        finished = true
        let (shape, imagePath, geometry) = (shape, imagePath, image.geometry)
        enqueue { file throws(HDF5Error) in
            let writer = StudyFileWriter(file: file, shape: shape)
            try writer.geometry(geometry, direction: report.geometry.direction, at: imagePath)
            try writer.segmentation(method: report.segmentation.method)
            try writer.features(panel)
            if let score { try writer.map(score) }
            if let lesions { try writer.lesions(lesions) }
            if report.model.ran { try writer.model(report.model) }
            try writer.provenance(report)
            try file.close()
        }
        let failure = queue.sync { () -> HDF5Error? in
            defer { file = nil }
            if self.failure == nil, file == nil {
                return HDF5Error(operation: "create", file: partial, message: "no file")
            }
            return self.failure
        }
        if let failure {
            try? FileManager.default.removeItem(atPath: partial)
            throw .outputFailed("\(path): \(failure)")
        }
        try AtomicFile.commit(partial, to: path)
    }

    /// For an analysis that failed before `finish`: waits for the parts already queued, closes
    /// the file and removes it. Does nothing after `finish`.
    public func abandon() {
        guard !finished else { return }
        finished = true
        queue.sync { file = nil }
        try? FileManager.default.removeItem(atPath: partial)
    }
}

extension StudyFile.Image {
    /// The image's geometry, which every volume in the file shares.
    var geometry: Geometry {
        switch self {
        case .hu(let hu): hu.geometry
        case .intensity(let intensity): intensity.geometry
        }
    }
}
