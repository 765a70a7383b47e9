import AppSupport
import NeuralEngine

/// The radiograph classifier's input when the model asks for it (`normalization`): every image
/// brought to one appearance before the network sees it, so that resolution, borders, text,
/// markers and the display window stop telling where an image came from.
///
/// 1. The radiograph, normalised to 0...1 as every lungct input (`RadiographNormalization`), is
///    shrunk to `floorSize`×`floorSize`: the resolution of the coarsest training source (the
///    64 px NIH ChestX-ray14 films), so that a sharper source is not told apart by sharpness.
/// 2. The lung-field network finds the lung fields on that 64 px image.
/// 3. The image is cut to the lung fields' box, widened by `margin` pixels, and resized to the
///    model's input size.
/// 4. Intensities are re-normalised inside the lung fields: their 1st and 99th percentiles
///    become 0 and 1 (clipped). Pixels farther than `margin` from a lung field become 0.
///
/// Training (`lungct train --lung-field-crop`), evaluation and analysis go through this one
/// function, so a model sees the same thing in all three.
public enum LungFieldInput {
    /// The name a model file's input specification gives this preparation.
    public static let normalization =
        "lung-field crop: 64 px, lung-field box + 3 px, percentile 1-99 inside the lung fields to 0...1, 0 outside"
    /// The common resolution every image is brought down to first.
    public static let floorSize = 64
    /// Pixels (on the 64 px image) kept around the lung fields.
    public static let margin = 3
    /// Fewer lung-field pixels than this share of the 64 px image: no usable lung fields.
    public static let minimumLungShare = 0.04

    /// A crop box on the floorSize×floorSize image: columns x0..<x1, rows y0..<y1.
    public typealias Box = (x0: Int, y0: Int, x1: Int, y1: Int)

    /// The prepared input and where it lies on the 64 px image (for mapping a class-activation
    /// map back).
    public struct Prepared: Sendable {
        public var pixels: [Float]
        /// The crop box.
        public var box: Box
        /// The share of the 64 px image in the lung fields.
        public var lungShare: Double
    }

    /// Prepares a normalised width×height radiograph for a size×size input; throws when the
    /// lung-field network finds too little lung to crop to.
    public static func prepare(
        _ normalized: [Float], width: Int, height: Int, size: Int, lungFields: LoadedModel
    ) throws(LungCTError) -> Prepared {
        let n = floorSize
        let small = ModelInputPreparation.resize(normalized, width: width, height: height, to: n)
        let probability = LungFieldModel.probability(
            small, width: n, height: n, network: lungFields.network, size: lungFields.description.input.width)
        let lung = probability.map { $0 >= LungFieldModel.threshold }
        let share = Double(lung.filter { $0 }.count) / Double(n * n)
        guard share >= minimumLungShare else {
            throw .nothingToAnalyse(
                input: "radiograph",
                details: String(
                    format: "the lung-field network found lung in %.1f %% of the image (less than %.0f %%): "
                        + "not a frontal chest radiograph, or too unusual to crop to the lungs",
                    share * 100, minimumLungShare * 100))
        }
        let near = dilated(lung, side: n, by: margin)
        var box: Box = (x0: n, y0: n, x1: 0, y1: 0)
        for y in 0..<n {
            for x in 0..<n where near[y * n + x] {
                box = (min(box.x0, x), min(box.y0, y), max(box.x1, x + 1), max(box.y1, y + 1))
            }
        }
        let (cropWidth, cropHeight) = (box.x1 - box.x0, box.y1 - box.y0)
        var crop = [Float](repeating: 0, count: cropWidth * cropHeight)
        var cropLung = crop
        var cropNear = crop
        for y in 0..<cropHeight {
            for x in 0..<cropWidth {
                let source = (box.y0 + y) * n + box.x0 + x
                crop[y * cropWidth + x] = small[source]
                cropLung[y * cropWidth + x] = lung[source] ? 1 : 0
                cropNear[y * cropWidth + x] = near[source] ? 1 : 0
            }
        }
        let pixels = ModelInputPreparation.resize(crop, width: cropWidth, height: cropHeight, to: size)
        let inLung = ModelInputPreparation.resize(cropLung, width: cropWidth, height: cropHeight, to: size)
        let inNear = ModelInputPreparation.resize(cropNear, width: cropWidth, height: cropHeight, to: size)
        return Prepared(
            pixels: windowed(pixels, lung: inLung.map { $0 >= 0.5 }, keep: inNear.map { $0 >= 0.5 }), box: box,
            lungShare: share)
    }

    /// `pixels` with the lung's 1st and 99th percentiles mapped to 0 and 1 (clipped), and 0
    /// where `keep` is false.
    static func windowed(_ pixels: [Float], lung: [Bool], keep: [Bool]) -> [Float] {
        var values = pixels.indices.filter { lung[$0] }.map { pixels[$0] }
        if values.isEmpty { values = pixels }
        values.sort()
        let low = values[Int(Double(values.count - 1) * 0.01)]
        let high = values[Int(Double(values.count - 1) * 0.99)]
        let range = max(high - low, 1e-3)
        return pixels.indices.map { keep[$0] ? max(0, min(1, (pixels[$0] - low) / range)) : 0 }
    }

    /// The mask grown by `radius` pixels (a square neighbourhood), on a side×side grid.
    static func dilated(_ mask: [Bool], side: Int, by radius: Int) -> [Bool] {
        var rows = mask
        for y in 0..<side {
            for x in 0..<side where !mask[y * side + x] {
                let (x0, x1) = (max(0, x - radius), min(side - 1, x + radius))
                rows[y * side + x] = (x0...x1).contains { mask[y * side + $0] }
            }
        }
        var result = rows
        for y in 0..<side {
            for x in 0..<side where !rows[y * side + x] {
                let (y0, y1) = (max(0, y - radius), min(side - 1, y + radius))
                result[y * side + x] = (y0...y1).contains { rows[$0 * side + x] }
            }
        }
        return result
    }

    /// A map on the model's size×size input put back on the width×height radiograph: enlarged
    /// onto the crop box of the 64 px image (0 outside it), then onto the radiograph's grid.
    public static func mapBack(
        _ map: [Float], size: Int, box: Box, toWidth width: Int, height: Int
    ) -> [Float] {
        let n = floorSize
        let (cropWidth, cropHeight) = (box.x1 - box.x0, box.y1 - box.y0)
        let onCrop = ClassActivation.enlarge(map, width: size, height: size, toWidth: cropWidth, height: cropHeight)
        var onFloor = [Float](repeating: 0, count: n * n)
        for y in 0..<cropHeight {
            for x in 0..<cropWidth { onFloor[(box.y0 + y) * n + box.x0 + x] = onCrop[y * cropWidth + x] }
        }
        return ClassActivation.enlarge(onFloor, width: n, height: n, toWidth: width, height: height)
    }
}

/// How a radiograph classifier's input is prepared, from its model file: the whole image
/// (`ModelInputPreparation`) or the lung-field crop (`LungFieldInput`, which needs the
/// lung-field network).
public enum RadiographInput: Sendable {
    case whole
    case lungFieldCrop(LoadedModel)

    /// The preparation a model's input normalisation names; a lung-field crop without a
    /// lung-field network is refused.
    public static func forModel(normalization: String, lungFields: LoadedModel?, path: String) throws(LungCTError)
        -> RadiographInput
    {
        guard normalization == LungFieldInput.normalization else { return .whole }
        guard let lungFields else {
            throw .modelInvalid(
                "\(path): the model sees radiographs cropped to their lung fields, and no lung-field network "
                    + "(Weights/\(LungFieldModel.fileName)) is loaded")
        }
        return .lungFieldCrop(lungFields)
    }

    /// A normalised width×height picture as the network's size×size input, and for the lung-field
    /// crop its box on the 64 px image (`LungFieldInput.mapBack` takes a map back through it).
    public func prepare(_ normalized: [Float], width: Int, height: Int, size: Int) throws(LungCTError) -> (
        pixels: [Float], box: LungFieldInput.Box?
    ) {
        switch self {
        case .whole: return (ModelInputPreparation.resize(normalized, width: width, height: height, to: size), nil)
        case .lungFieldCrop(let model):
            let prepared = try LungFieldInput.prepare(
                normalized, width: width, height: height, size: size, lungFields: model)
            return (prepared.pixels, prepared.box)
        }
    }
}
