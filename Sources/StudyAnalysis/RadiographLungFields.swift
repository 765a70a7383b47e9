import Foundation
import ModelRuntime
import Radiograph
import VolumeCore

/// A radiograph's lung fields as `analyze` finds them (the "segment" stage): labels 1 (the
/// patient's right) and 2 (left) on the radiograph's own grid from the lung-field network, or an
/// empty mask, said in the report, when no such model is there.
struct RadiographLungFields {
    /// On the radiograph's grid: 0 background, 1 right lung field, 2 left lung field.
    var labels: Volume<UInt8>
    /// The network that found them; nil: none was loaded and `labels` is empty.
    var model: LoadedModel?

    /// The warning (report.json, overview) when no lung-field model was loaded.
    static let missingWarning =
        "no radiograph lung-field model (Weights/\(LungFieldModel.fileName)): no lung fields were drawn, "
        + "lung_mask.nii.gz is empty and the class-activation map is not limited to the lungs"

    /// The lung fields of a normalised radiograph (0...1) with `model`, or none without one.
    static func find(_ normalized: Volume<Float>, model: LoadedModel?) -> RadiographLungFields {
        guard let model else {
            return RadiographLungFields(labels: Volume(geometry: normalized.geometry, repeating: UInt8(0)), model: nil)
        }
        return RadiographLungFields(labels: LungFieldModel.segment(normalized, model: model), model: model)
    }

    /// The pixels in either lung field.
    var pixelCounts: (right: Int, left: Int) {
        var (right, left) = (0, 0)
        for label in labels.voxels {
            if label == LungFields.rightLung { right += 1 } else if label == LungFields.leftLung { left += 1 }
        }
        return (right, left)
    }

    /// The class-activation map kept inside the lung fields (0 elsewhere), when there are lung
    /// fields; unchanged when there are none (no model, or nothing found). The image's
    /// probability is the network's and does not change.
    func maskingMap(_ score: StudyScore) -> StudyScore {
        guard model != nil, labels.voxels.contains(where: { $0 != 0 }) else { return score }
        var masked = score
        for index in masked.map.voxels.indices where labels.voxels[index] == 0 { masked.map.voxels[index] = 0 }
        masked.aggregation += "; the map is shown inside the lung fields only"
        return masked
    }

    /// The report's segmentation part.
    var segmentationReport: AnalysisReport.Segmentation {
        guard let model else {
            return .init(method: "none", labels: ["0": "background"], notes: [Self.missingWarning])
        }
        let (right, left) = pixelCounts
        var notes = [
            "lung fields from the radiograph lung-field network \(URL(fileURLWithPath: model.path).lastPathComponent) "
                + "(SHA-256 \(model.sha256)) on the radiograph's own grid",
            "sides assume the usual display of a chest radiograph (PA or AP): the patient's right on the image's left",
            "right lung field \(right) pixels, left lung field \(left) pixels",
        ]
        if right == 0 || left == 0 {
            notes.append("fewer than two lung fields found: check the image (is it a frontal chest radiograph?)")
        }
        return .init(
            method: "lung-field U-Net", labels: ["0": "background", "1": "right lung field", "2": "left lung field"],
            notes: notes)
    }

    /// lung_mask.nii.gz's description.
    var maskDescription: String {
        model == nil ? "lungct: no radiograph lung-field model, mask empty" : "lungct lung fields: 1 right, 2 left"
    }

    /// The overview's line about the lung fields.
    var overviewLine: String {
        guard model != nil else { return "No lung fields drawn: no radiograph lung-field model." }
        let (right, left) = pixelCounts
        return "Lung fields (patient's right on the image's left): right \(right) px, left \(left) px"
    }
}
