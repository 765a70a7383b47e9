import AppSupport
import Dispatch
import Foundation
import ModelRuntime
import ModelStore
import NeuralEngine
import Radiograph
import StudyInput
import VolumeCore

/// A model's answer for one study: the study probability, the slices behind it and the
/// per-voxel probability map on the input grid.
public struct StudyScore: Sendable {
    /// The calibrated probability of the positive (COVID-19) class for the study.
    public var probability: Double
    /// Every class's calibrated probability (radiographs; CT: from the study probability).
    public var classProbabilities: [String: Double]
    /// CT: every scored slice, input-grid order; empty for radiographs.
    public var slices: [AnalysisReport.SliceProbability]
    /// On the input grid: the positive class's per-location probability, 0 outside the lungs
    /// (CT) or over the whole picture (radiographs).
    public var map: Volume<Float>
    public var aggregation: String
    public var notes: [String]
}

/// Running the shipped models on a study.
public enum CovidScoring {
    /// The window the CT slices are shown to the model in: the lung window.
    public static let window = HUWindow.lung
    /// Slices with less lung than this fraction of the largest lung slice are scored and
    /// mapped but do not count towards the study probability: the training images are
    /// mid-thorax slices, and apices and bases are mostly partial volume.
    public static let minimumLungAreaFraction = 0.25
    /// The study probability is the mean of this top fraction of the counted slices.
    public static let topFraction = 0.25
    /// Margin around the lungs' bounding box, as a fraction of its size on each side: the
    /// training images are cropped to the thorax, chest wall included.
    public static let cropMargin = 0.08

    public static let ctAggregation =
        "mean of the highest quarter of the calibrated slice probabilities, over the slices whose lung area is at least "
        + "a quarter of the largest slice's; the slice probabilities are temperature-calibrated on held-out slice images, "
        + "the study rule is not calibrated on CT volumes (no labelled COVID-19 CT volumes were available)"

    /// Scores a CT: every axial slice with lung (in an LPS view, so the image is in the
    /// radiological convention the training images use), windowed, cropped to the lungs'
    /// bounding box plus a margin, normalised and resized as `ImageFolder` prepares training
    /// images. Nil when there is no lung.
    public static func scoreCT(hu: Volume<Int16>, labels: Volume<UInt8>, model: LoadedModel) throws(LungCTError)
        -> StudyScore?
    {
        let view = try LPSView(hu: hu, labels: labels)
        guard let extent = LungExtent(view.lungs) else { return nil }
        let crop = extent.crop(margin: cropMargin, within: view.hu.size)
        let scored = extent.slicesWithLung
        let inferred = inferSlices(scored, of: view, crop: crop, model: model)
        let map = try view.onInputGrid(inferred.map)
        let counted = extent.countedSlices(minimumFraction: minimumLungAreaFraction)
        let slices = sliceReport(scored, probabilities: inferred.sliceProbability, counted: counted, view: view)
        let input = model.description.input
        return ctStudyScore(
            slices, map: map, model: model,
            note:
                "\(scored.count) slices with lung scored, \(counted.count) counted; crop \(crop.width)×\(crop.height) voxels around the lungs, "
                + "lung window L\(Int(window.center)) W\(Int(window.width)), resized to \(input.width)×\(input.height)")
    }

    /// The slices' model probabilities and, inside the lungs, the per-location probability
    /// enlarged onto the crop, on the LPS grid. Slices go through the network
    /// `InferenceBatches.size` at a time.
    static func inferSlices(_ scored: [Int], of view: LPSView, crop: SliceCrop, model: LoadedModel) -> SliceInference {
        let mapsNetwork = locationLogitsNetwork(model)
        let input = model.description.input
        let temperature = Float(model.description.temperature ?? 1)
        let positive = ModelInputPreparation.positiveClass(model.description.classes)
        let classes = model.description.classes.count
        var result = SliceInference(
            map: Volume(geometry: view.hu.geometry, repeating: Float(0)),
            sliceProbability: [Double](repeating: 0, count: view.hu.size.z))
        for range in InferenceBatches.ranges(scored.count) {
            let batch = Array(scored[range])
            let pixels = modelInputs(view.hu, slices: batch, crop: crop, size: input.width)
            let maps = mapsNetwork.infer(Tensor(shape: [batch.count, 1, input.height, input.width], storage: pixels))
            for (row, z) in batch.enumerated() {
                let (image, location) = ClassActivation.locationProbabilities(
                    maps, image: row, classes: classes, positive: positive, temperature: temperature)
                result.sliceProbability[z] = image
                paint(
                    location, width: maps.shape[3], height: maps.shape[2], slice: z, crop: crop, lungs: view.lungs,
                    into: &result.map)
            }
        }
        return result
    }

    /// The model inputs of several slices, one after the other, each prepared on its own core.
    static func modelInputs(_ lps: Volume<Int16>, slices: [Int], crop: SliceCrop, size: Int) -> [Float] {
        let prepared = Slots<[Float]>(count: slices.count, initial: [])
        DispatchQueue.concurrentPerform(iterations: slices.count) { row in
            prepared.set(row, modelInput(lps, slice: slices[row], crop: crop, size: size))
        }
        return (0..<slices.count).flatMap { prepared.get($0) }
    }

    /// Puts one slice's per-location probability map (width×height), bilinearly enlarged onto
    /// the crop, into `map`, inside the lungs only.
    static func paint(
        _ location: [Float], width: Int, height: Int, slice z: Int, crop: SliceCrop, lungs: Volume<UInt8>,
        into map: inout Volume<Float>
    ) {
        let enlarged = ClassActivation.enlarge(
            location, width: width, height: height, toWidth: crop.width, height: crop.height)
        let size = lungs.size
        let plane = size.x * size.y
        for y in 0..<crop.height {
            for x in 0..<crop.width {
                let index = z * plane + (crop.y0 + y) * size.x + crop.x0 + x
                if lungs.voxels[index] != 0 { map.voxels[index] = enlarged[y * crop.width + x] }
            }
        }
    }

    /// The report's entry for each scored slice: its index and S position as the input counts
    /// them, its probability, and whether it counts towards the study probability.
    static func sliceReport(_ scored: [Int], probabilities: [Double], counted: Set<Int>, view: LPSView)
        -> [AnalysisReport.SliceProbability]
    {
        let size = view.hu.size
        return scored.map { z in
            let point = view.hu.geometry.physicalPoint(i: Double(size.x / 2), j: Double(size.y / 2), k: Double(z))
            return AnalysisReport.SliceProbability(
                z: inputSliceIndex(of: point, in: view.inputGeometry),
                positionMM: point.z.rounded(places: ReportPrecision.slicePosition),
                probability: probabilities[z], counted: counted.contains(z))
        }
    }

    /// The CT's score from its slices (`studyProbability`): the positive class gets the study
    /// probability and the other class the rest.
    static func ctStudyScore(
        _ slices: [AnalysisReport.SliceProbability], map: Volume<Float>, model: LoadedModel, note: String
    ) -> StudyScore {
        let study = studyProbability(slices)
        let names = model.description.classes
        let positive = ModelInputPreparation.positiveClass(names)
        // A binary model's other class gets the rest; with more classes, "other" does.
        let rest = names.count == 2 ? names[1 - positive] : "other"
        return StudyScore(
            probability: study, classProbabilities: [names[positive]: study, rest: 1 - study], slices: slices, map: map,
            aggregation: ctAggregation, notes: [note])
    }

    /// The network up to its per-location logits: the model without its final global pooling.
    static func locationLogitsNetwork(_ model: LoadedModel) -> Sequential {
        Sequential(Array(model.network.layers.dropLast()))
    }

    /// One slice as the model sees it: the crop in the lung window, normalised between its
    /// 0.5th and 99.5th percentiles (as `RadiographNormalization.normalizeByPercentiles` does,
    /// found here from a histogram of the integer HU instead of a sort, which gives the same
    /// values since the window is monotonic), resized to size×size.
    static func modelInput(
        _ lps: Volume<Int16>, slice z: Int, crop: SliceCrop, size: Int
    ) -> [Float] {
        let low = Int(window.lower)
        let high = Int(window.upper)
        let plane = lps.size.x * lps.size.y
        var clamped = [Int](repeating: 0, count: crop.width * crop.height)
        var histogram = [Int](repeating: 0, count: high - low + 1)
        for y in 0..<crop.height {
            let row = z * plane + (crop.y0 + y) * lps.size.x + crop.x0
            for x in 0..<crop.width {
                let value = min(high, max(low, Int(lps.voxels[row + x]))) - low
                clamped[y * crop.width + x] = value
                histogram[value] += 1
            }
        }
        // The k-th smallest value, k as RadiographNormalization picks it.
        func nth(_ k: Int) -> Int {
            var seen = 0
            for (value, count) in histogram.enumerated() {
                seen += count
                if seen > k { return value }
            }
            return histogram.count - 1
        }
        let n = clamped.count
        let (p0, p1) = (
            nth(Int(RadiographNormalization.lowerPercentile * Double(n - 1))),
            nth(Int(RadiographNormalization.upperPercentile * Double(n - 1)))
        )
        // Windowed values are (v − low)/width; normalising them between the percentiles' windowed
        // values is the same as normalising v between p0 and p1.
        let span = Float(p1 > p0 ? p1 - p0 : Int(window.width))
        let normalized = clamped.map { min(1, max(0, Float($0 - p0) / span)) }
        return ModelInputPreparation.resize(normalized, width: crop.width, height: crop.height, to: size)
    }

    /// Scores a radiograph (already normalised to 0...1 by `RadiographNormalization`, as the
    /// training images were): class probabilities and the positive class's activation map.
    public static func scoreRadiograph(_ picture: Volume<Float>, model: LoadedModel) -> StudyScore {
        let input = model.description.input
        let (width, height) = (picture.size.x, picture.size.y)
        let pixels = ModelInputPreparation.resize(
            Array(picture.voxels[0..<(width * height)]), width: width, height: height, to: input.width)
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
        let enlarged = ClassActivation.enlarge(
            location, width: maps.shape[3], height: maps.shape[2], toWidth: width, height: height)
        for index in 0..<(width * height) { map.voxels[index] = enlarged[index] }
        var byClass: [String: Double] = [:]
        for (c, name) in classes.enumerated() { byClass[name] = Double(probabilities[c]) }
        return StudyScore(
            probability: Double(probabilities[positive]), classProbabilities: byClass, slices: [], map: map,
            aggregation: "one image: the calibrated softmax of the model's \(classes.count) classes",
            notes: [
                "class-activation map of \(classes[positive]): per-location calibrated probability, enlarged to the picture"
            ])
    }

    /// The study rule (`ctAggregation`): the mean of the highest quarter (at least one) of the
    /// counted slices' probabilities; 0 when no slice counts.
    public static func studyProbability(_ slices: [AnalysisReport.SliceProbability]) -> Double {
        let ranked = slices.filter(\.counted).map(\.probability).sorted(by: >)
        guard !ranked.isEmpty else { return 0 }
        let top = max(1, Int((Double(ranked.count) * topFraction).rounded(.up)))
        return ranked.prefix(top).reduce(0, +) / Double(top)
    }

    /// The index, on the input grid, along the axis closest to the patient's S axis, of the
    /// voxel nearest `point`.
    static func inputSliceIndex(of point: Vector3, in geometry: Geometry) -> Int {
        let index = geometry.continuousIndex(of: point)
        let axis = (0..<3).max { abs(geometry.direction[$0].z) < abs(geometry.direction[$1].z) } ?? 2
        return Int(index[axis].rounded())
    }
}

/// The rectangle of an axial slice the model sees: `width`×`height` voxels from (x0, y0).
typealias SliceCrop = (x0: Int, y0: Int, width: Int, height: Int)

/// What the network said about a CT's slices, on the LPS grid.
struct SliceInference {
    /// The positive class's per-location probability, 0 outside the lungs.
    var map: Volume<Float>
    /// Per LPS slice: the image's calibrated probability (0 for slices not scored).
    var sliceProbability: [Double]
}

/// A CT and its lung labels viewed in LPS, the radiological convention the training images use,
/// and the way back to the grid they came on. Most series are stored LPS already: then the
/// volumes are used as they are, not copied.
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
            throw .inputFailed("cannot view the CT in LPS for the model: \(error)")
        }
    }

    /// A map on the LPS grid, back on the input grid.
    func onInputGrid(_ map: Volume<Float>) throws(LungCTError) -> Volume<Float> {
        do {
            var back = stored == "LPS" ? map : try map.reoriented(to: stored)
            back.geometry = inputGeometry
            return back
        } catch {
            throw .inputFailed("cannot return the probability map to the input grid: \(error)")
        }
    }
}

/// Where the lungs are in an LPS view: each axial slice's lung area and the lungs' bounding
/// box in the axial plane, over all slices.
struct LungExtent {
    /// Lung voxels per slice.
    var area: [Int]
    /// The largest slice's lung voxels (> 0).
    var largest: Int
    var box: (x0: Int, y0: Int, x1: Int, y1: Int)

    /// Nil when there is no lung.
    init?(_ lungs: Volume<UInt8>) {
        let size = lungs.size
        let plane = size.x * size.y
        var area = [Int](repeating: 0, count: size.z)
        var box = (x0: Int.max, y0: Int.max, x1: -1, y1: -1)
        for z in 0..<size.z {
            for y in 0..<size.y {
                for x in 0..<size.x where lungs.voxels[z * plane + y * size.x + x] != 0 {
                    area[z] += 1
                    box = (min(box.x0, x), min(box.y0, y), max(box.x1, x), max(box.y1, y))
                }
            }
        }
        guard let largest = area.max(), largest > 0 else { return nil }
        self.area = area
        self.largest = largest
        self.box = box
    }

    /// The slices with any lung, in order: the ones the model scores.
    var slicesWithLung: [Int] { area.indices.filter { area[$0] > 0 } }

    /// The slices with at least `minimumFraction` of the largest slice's lung area.
    func countedSlices(minimumFraction: Double) -> Set<Int> {
        Set(slicesWithLung.filter { Double(area[$0]) >= minimumFraction * Double(largest) })
    }

    /// The bounding box grown by `margin` of its size on each side, kept inside the slice.
    func crop(margin: Double, within size: Size3) -> SliceCrop {
        let marginX = Int((Double(box.x1 - box.x0 + 1) * margin).rounded())
        let marginY = Int((Double(box.y1 - box.y0 + 1) * margin).rounded())
        let (x0, y0) = (max(0, box.x0 - marginX), max(0, box.y0 - marginY))
        let (x1, y1) = (min(size.x - 1, box.x1 + marginX), min(size.y - 1, box.y1 + marginY))
        return (x0: x0, y0: y0, width: x1 - x0 + 1, height: y1 - y0 + 1)
    }
}
