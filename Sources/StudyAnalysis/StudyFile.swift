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

    /// Starts `study.h5` under a temporary name by writing the image on a background thread,
    /// so that compressing it overlaps the segmentation; `PendingStudyFile.finish` writes the
    /// rest, closes the file and renames it into place.
    public static func begin(path: String, image: Image, modality: String) -> PendingStudyFile {
        PendingStudyFile(path: path, image: image, modality: modality)
    }

    /// Writes the whole file at once.
    public static func write(
        to path: String, image: Image, labels: Volume<UInt8>, panel: LungPanel?, score: StudyScore? = nil,
        lesions: LesionAnalysis? = nil, report: AnalysisReport
    ) throws(LungCTError) {
        try begin(path: path, image: image, modality: report.study.modality)
            .finish(labels: labels, panel: panel, score: score, lesions: lesions, report: report)
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
            try file.writeDataset(
                imagePath, values: hu.voxels, shape: [g.size.z, g.size.y, g.size.x], gzipLevel: StudyFile.gzipLevel)
            try file.setAttribute("units", .string("HU"), at: imagePath)
            try file.setAttribute("modality", .string("CT"), at: imagePath)
        case .intensity(let intensity):
            let g = intensity.geometry
            try file.writeDataset(
                imagePath, values: intensity.voxels, shape: [g.size.z, g.size.y, g.size.x],
                gzipLevel: StudyFile.gzipLevel)
            try file.setAttribute("units", .string("normalised 0...1 (radiographs have no HU)"), at: imagePath)
            try file.setAttribute("modality", .string(modality.isEmpty ? "radiograph" : modality), at: imagePath)
        }
    }

    /// Waits for the image, writes labels, geometry, features, the lesion maps and features (a
    /// CT's `lesions`) or the radiograph model's map (`score`), and provenance, closes the file
    /// and renames it into place.
    public func finish(
        labels: Volume<UInt8>, panel: LungPanel?, score: StudyScore? = nil, lesions: LesionAnalysis? = nil,
        report: AnalysisReport
    ) throws(LungCTError) {
        done.wait()
        do throws(HDF5Error) {
            if let failure { throw failure }
            guard let file else { throw HDF5Error(operation: "create", file: partial, message: "no file") }
            let g = labels.geometry
            // Arrays are (z, y, x) so that numpy's last index is x, as in SimpleITK's GetArrayFromImage.
            let shape = [g.size.z, g.size.y, g.size.x]
            let writer = StudyFileWriter(file: file, shape: shape)
            try writer.geometry(g, direction: report.geometry.direction, at: imagePath)
            try writer.segmentation(labels, method: report.segmentation.method)
            try writer.features(panel)
            if let score { try writer.map(score) }
            if let lesions { try writer.lesions(lesions) }
            if report.model.ran { try writer.model(report.model) }
            try writer.provenance(report)
            try file.close()
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw .outputFailed("\(path): \(error)")
        }
        try AtomicFile.commit(partial, to: path)
    }
}
