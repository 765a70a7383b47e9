import AppSupport
import ModelRuntime
import NeuralEngine
import VolumeCore

/// A classifier's answer for a picture: its class probabilities and the positive class's
/// per-location probability map.
public struct StudyScore: Sendable {
    /// The calibrated probability of the positive (COVID-19) class.
    public var probability: Double
    /// Every class's calibrated probability.
    public var classProbabilities: [String: Double]
    /// On the picture's grid: the positive class's per-location probability.
    public var map: Volume<Float>
    public var aggregation: String
}

/// Running the radiograph model on a picture. CT volumes go through the lesion network
/// (`LesionScoring`), never through a classifier of slice images.
public enum CovidScoring {
    /// The network up to its per-location logits: the model without its final global pooling.
    static func locationLogitsNetwork(_ model: LoadedModel) -> Sequential {
        Sequential(Array(model.network.layers.dropLast()))
    }

    /// Scores a radiograph (already normalised to 0...1 by `RadiographNormalization`, as the
    /// training images were), prepared as the model asks (`RadiographInput`): class
    /// probabilities and the positive class's activation map on the radiograph's grid.
    public static func scoreRadiograph(
        _ picture: Volume<Float>, model: LoadedModel, input preparation: RadiographInput = .whole
    ) throws(LungCTError) -> StudyScore {
        let input = model.description.input
        let (width, height) = (picture.size.x, picture.size.y)
        let plane = Array(picture.voxels[0..<(width * height)])
        let (pixels, box) = try preparation.prepare(plane, width: width, height: height, size: input.width)
        let maps = locationLogitsNetwork(model).infer(
            Tensor(shape: [1, 1, input.height, input.width], storage: pixels))
        let classes = model.description.classes
        let temperature = Float(model.description.temperature ?? 1)
        let positive = ModelInputPreparation.positiveClass(classes)
        let logits = ClassActivation.imageLogits(maps, image: 0, classes: classes.count)
        let probabilities = Activation.softmax(logits.map { $0 / temperature })
        let (_, location) = ClassActivation.locationProbabilities(
            maps, image: 0, classes: classes.count, positive: positive, temperature: temperature)
        var map = Volume(geometry: picture.geometry, repeating: Float(0))
        let enlarged: [Float]
        if let box {
            let onInput = ClassActivation.enlarge(
                location, width: maps.shape[3], height: maps.shape[2], toWidth: input.width, height: input.height)
            enlarged = LungFieldInput.mapBack(onInput, size: input.width, box: box, toWidth: width, height: height)
        } else {
            enlarged = ClassActivation.enlarge(
                location, width: maps.shape[3], height: maps.shape[2], toWidth: width, height: height)
        }
        for index in 0..<(width * height) { map.voxels[index] = enlarged[index] }
        var byClass: [String: Double] = [:]
        for (c, name) in classes.enumerated() { byClass[name] = Double(probabilities[c]) }
        return StudyScore(
            probability: Double(probabilities[positive]), classProbabilities: byClass, map: map,
            aggregation: "one image: the calibrated softmax of the model's \(classes.count) classes"
                + (box == nil ? "" : ", on the image cropped to its lung fields at 64 px"))
    }

    /// The index, on the input grid, along the axis closest to the patient's S axis, of the
    /// voxel nearest `point`.
    static func inputSliceIndex(of point: Vector3, in geometry: Geometry) -> Int {
        Int(geometry.continuousIndex(of: point)[superiorAxis(geometry)].rounded())
    }

    /// The grid axis closest to the patient's S axis: the one "slices" run along.
    static func superiorAxis(_ geometry: Geometry) -> Int {
        (0..<3).max { abs(geometry.direction[$0].z) < abs(geometry.direction[$1].z) } ?? 2
    }
}

/// A CT and its lung labels viewed in LPS (slices from inferior to superior, the radiological
/// convention), which the lesion grid is built on, and the way back to the grid they came on.
/// Most series are stored LPS already: then the volumes are used as they are, not copied.
struct LPSView {
    var hu: Volume<Int16>
    var lungs: Volume<UInt8>
    /// The input's orientation code and geometry.
    var stored: String
    var inputGeometry: Geometry

    init(hu input: Volume<Int16>, labels: Volume<UInt8>) throws(LungCTError) {
        stored = input.geometry.orientationCode
        inputGeometry = input.geometry
        do {
            hu = stored == "LPS" ? input : try input.reoriented(to: "LPS")
            lungs = stored == "LPS" ? labels : try labels.reoriented(to: "LPS")
        } catch {
            throw .inputFailed("cannot view the CT in LPS for the lesion network: \(error)")
        }
    }

    /// A map on the LPS grid, back on the input grid.
    func onInputGrid<Voxel>(_ map: Volume<Voxel>) throws(LungCTError) -> Volume<Voxel> {
        do {
            var back = stored == "LPS" ? map : try map.reoriented(to: stored)
            back.geometry = inputGeometry
            return back
        } catch {
            throw .inputFailed("cannot return a lesion map to the input grid: \(error)")
        }
    }
}
