import AppSupport
import ModelStore
import NeuralEngine
import Radiograph
import VolumeCore

/// The radiograph lung-field network (`Weights/cxr-lung-fields.h5`, `lungct train --task
/// lung-fields`): a U-Net that gives each pixel of a radiograph, shrunk to its input size, the
/// probability of lying in a lung field. Training, evaluation and analysis prepare the picture
/// the same way, here.
public enum LungFieldModel {
    /// The shipped file name in `Weights/`.
    public static let fileName = "cxr-lung-fields.h5"
    /// Words of the card's task that make a model a lung-field model (`ModelKind.lungFields`).
    public static let taskWords = "lung fields"
    /// The classes, in the network's output order.
    public static let classes = ["background", "lung"]
    /// Pixels at or above this lung probability are lung field.
    public static let threshold: Float = 0.5

    /// The network's input: the radiograph normalised to 0...1 (`RadiographNormalization`),
    /// resized to size×size as every lungct network's input (`ModelInputPreparation.resize`).
    public static func input(_ normalized: [Float], width: Int, height: Int, size: Int) -> [Float] {
        ModelInputPreparation.resize(normalized, width: width, height: height, to: size)
    }

    /// The lung probability on the picture's own width×height grid: the network's output at its
    /// input size, enlarged bilinearly.
    public static func probability(
        _ normalized: [Float], width: Int, height: Int, network: Sequential, size: Int
    ) -> [Float] {
        let pixels = input(normalized, width: width, height: height, size: size)
        let output = network.segmentationProbabilities(Tensor(shape: [1, 1, size, size], storage: pixels))
        let plane = size * size
        let lung = Array(output.storage[plane..<(2 * plane)])
        return ClassActivation.enlarge(lung, width: size, height: size, toWidth: width, height: height)
    }

    /// Lung-field labels (`LungFields`: 1 right, 2 left) on a normalised radiograph's own grid.
    public static func segment(_ normalized: Volume<Float>, model: LoadedModel) -> Volume<UInt8> {
        let (width, height) = (normalized.size.x, normalized.size.y)
        let plane = Array(normalized.voxels[0..<(width * height)])
        var map = Volume(geometry: normalized.geometry, repeating: Float(0))
        let lung = probability(
            plane, width: width, height: height, network: model.network, size: model.description.input.width)
        for index in 0..<(width * height) { map.voxels[index] = lung[index] }
        return LungFields.labels(probability: map, threshold: threshold)
    }

    /// Refuses a lung-field model `analyze` cannot feed: one gray square input prepared as
    /// `ModelInputPreparation` does, two output classes per pixel.
    public static func check(_ description: ModelDescription, path: String) throws(LungCTError) {
        let input = description.input
        guard input.channels == 1, input.width == input.height, input.width >= 8,
            input.normalization == ModelInputPreparation.normalization, description.classes.count == 2,
            description.layers.last?.kind == "conv2d", description.layers.last?.outputChannels == 2
        else {
            throw .modelInvalid(
                "\(path): not a lung-field network lungct can apply (one gray square input normalised as "
                    + "\"\(ModelInputPreparation.normalization)\", two classes per pixel); train one with "
                    + "lungct train --task lung-fields")
        }
    }
}
