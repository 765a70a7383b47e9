import AppSupport
import Foundation
import LesionSynthesis
import LungSegmentation
import ModelRuntime
import ModelStore
import NeuralEngine
import SeededRandom
import StudyInput
import VolumeCore

// Label-free lesion training (the idea of Yao et al., "Label-Free Segmentation of COVID-19
// Lesions in Lung CT", IEEE TMI 2021): normal CTs, on the lesion grid, receive fresh synthetic
// lesions for every batch (`SyntheticLesions`), and a U-Net learns to find them per pixel. No
// CT with real lesions is used in training.

/// One normal CT on its lesion grid: the material lesions are inserted into.
public struct LesionTrainingVolume: Sendable {
    public var name: String
    /// HU and lung labels (right 1, left 2) on the study's `LesionGrid`.
    public var hu: Volume<Int16>
    public var lungs: Volume<UInt8>
    /// The grid planes that hold lung.
    public var lungPlanes: [Int]
}

/// How the lesion network is trained; stored in its card.
public struct LesionTrainingOptions: Sendable, Codable {
    public var grid = LesionGridSpec()
    public var synthesis = SyntheticLesionOptions()
    /// Square crops of this many pixels (a multiple of 2^depth) are what the network trains on.
    public var crop = 128
    /// Crops per batch, taken from `volumesPerBatch` freshly lesioned volumes.
    public var batchSize = 8
    public var volumesPerBatch = 2
    /// Crops centred on a lesion pixel of their plane (the rest anywhere in the lungs), so that
    /// lesions are not rare in what the network sees.
    public var lesionCentredFraction = 0.5
    public var width = 16
    public var depth = 3
    public var seed: UInt64 = 1
    /// Validation batches drawn once from the validation volumes (fixed lesions).
    public var validationBatches = 16
    public var training = SegmentationTrainingOptions()

    public init() {
        training.loss = SegmentationLoss(
            crossEntropyWeight: 1, diceWeight: 1, classWeights: nil, diceClasses: [1, 2], smoothing: 1)
    }

    /// Background, ground glass, consolidation (`LesionLabel`).
    public static let classes = ["background", "ground-glass", "consolidation"]
}

public enum LesionTraining {
    /// A CT (any input `lungct analyze` takes) loaded, its lungs segmented, and both put on
    /// the lesion grid.
    public static func prepare(_ path: String, grid spec: LesionGridSpec) throws(LungCTError) -> LesionTrainingVolume {
        guard let input = try Inspection.loadCT(path) else {
            throw .usage("\(path): not a CT volume; lesion training takes normal CT studies")
        }
        let labels = LungSegmenter.segment(input).labels
        let hu: Volume<Int16>
        let lungs: Volume<UInt8>
        do {
            hu = try input.reoriented(to: "LPS")
            lungs = try labels.reoriented(to: "LPS")
        } catch {
            throw .inputFailed("\(path): cannot view the CT in LPS: \(error)")
        }
        guard let grid = LesionGrid(lungs: lungs, spec: spec) else {
            throw .nothingToAnalyse(input: path, details: "no lung was found in it")
        }
        let onGrid = grid.resample(hu).map { Int16(max(-1024, min(3071, $0.rounded()))) }
        let lungsOnGrid = grid.resample(labels: lungs)
        let plane = grid.size.x * grid.size.y
        let planes = (0..<grid.size.z).filter { k in
            lungsOnGrid.voxels[(k * plane)..<((k + 1) * plane)].contains { $0 != 0 }
        }
        let name = URL(fileURLWithPath: path).lastPathComponent
        return LesionTrainingVolume(name: name, hu: onGrid, lungs: lungsOnGrid, lungPlanes: planes)
    }

    /// Training batch `index` of `epoch`: fresh lesions in `volumesPerBatch` volumes, then crops.
    /// Depends only on its arguments, so a run repeats exactly.
    public static func batch(
        _ volumes: [LesionTrainingVolume], options: LesionTrainingOptions, epoch: Int, index: Int
    ) -> SegmentationBatch {
        var rng = SplitMix64(seed: options.seed &+ UInt64(epoch) &* 1_000_003 &+ UInt64(index) &* 7919)
        return crops(volumes, options: options, rng: &rng)
    }

    /// Fixed validation batches from `volumes` (their own seed, apart from training's).
    public static func validation(_ volumes: [LesionTrainingVolume], options: LesionTrainingOptions)
        -> [SegmentationBatch]
    {
        guard !volumes.isEmpty else { return [] }
        var rng = SplitMix64(seed: options.seed ^ 0x5EED_0F_7A11)
        return (0..<options.validationBatches).map { _ in crops(volumes, options: options, rng: &rng) }
    }

    static func crops(_ volumes: [LesionTrainingVolume], options: LesionTrainingOptions, rng: inout SplitMix64)
        -> SegmentationBatch
    {
        let side = options.crop
        let channels = options.grid.channels
        let perVolume = max(1, options.batchSize / max(1, options.volumesPerBatch))
        var input: [Float] = []
        var labels: [UInt8] = []
        var weights: [Float] = []
        var count = 0
        while count < options.batchSize {
            let volume = volumes[Int(rng.next() % UInt64(volumes.count))]
            var hu = volume.hu
            let truth = SyntheticLesions.insert(
                into: &hu, lungs: volume.lungs, options: options.synthesis, using: &rng)
            let grid = LesionGrid(covering: volume.hu.geometry, spec: options.grid)
            let floatHU = hu.map(Float.init)
            for _ in 0..<min(perVolume, options.batchSize - count) {
                let (k, x0, y0) = cropPlace(volume, truth: truth, side: side, options: options, rng: &rng)
                let flip = rng.next() & 1 == 1
                let full = grid.input(floatHU, plane: k)
                for c in 0..<channels {
                    input += window(full, channel: c, grid.size, x0, y0, side, flip)
                }
                let plane = k * grid.size.x * grid.size.y
                for y in 0..<side {
                    for x in 0..<side {
                        let sx = flip ? side - 1 - x : x
                        let (gx, gy) = (x0 + sx, y0 + y)
                        let inside = gx >= 0 && gy >= 0 && gx < grid.size.x && gy < grid.size.y
                        let index = plane + gy * grid.size.x + gx
                        labels.append(inside ? truth.voxels[index] : 0)
                        weights.append(inside && volume.lungs.voxels[index] != 0 ? 1 : 0)
                    }
                }
                count += 1
            }
        }
        return SegmentationBatch(
            input: Tensor(shape: [count, channels, side, side], storage: input), labels: labels, weights: weights)
    }

    /// A plane with lung and the corner of a crop: on a lesion pixel of the plane for
    /// `lesionCentredFraction` of crops when the plane has one, else on a lung pixel.
    static func cropPlace(
        _ volume: LesionTrainingVolume, truth: Volume<UInt8>, side: Int, options: LesionTrainingOptions,
        rng: inout SplitMix64
    ) -> (Int, Int, Int) {
        let size = volume.hu.size
        let plane = size.x * size.y
        let wantLesion = rng.nextDouble() < options.lesionCentredFraction
        var candidates: [Int] = []
        if wantLesion {
            let lesionPlanes = volume.lungPlanes.filter { k in
                truth.voxels[(k * plane)..<((k + 1) * plane)].contains { $0 != 0 }
            }
            if let k = lesionPlanes.randomElement(using: &rng) {
                candidates = (0..<plane).filter { truth.voxels[k * plane + $0] != 0 }.map { k * plane + $0 }
            }
        }
        if candidates.isEmpty {
            let k = volume.lungPlanes.randomElement(using: &rng) ?? size.z / 2
            candidates = (0..<plane).filter { volume.lungs.voxels[k * plane + $0] != 0 }.map { k * plane + $0 }
        }
        let centre = candidates.randomElement(using: &rng) ?? (size.z / 2) * plane
        let (k, x, y) = (centre / plane, (centre % plane) % size.x, (centre % plane) / size.x)
        let jitter = side / 4
        let x0 = x - side / 2 + Int(rng.next() % UInt64(2 * jitter + 1)) - jitter
        let y0 = y - side / 2 + Int(rng.next() % UInt64(2 * jitter + 1)) - jitter
        return (k, x0, y0)
    }

    /// One channel of a plane's input, cut to the crop (0 outside the plane), mirrored in x if
    /// asked.
    static func window(_ full: [Float], channel c: Int, _ size: Size3, _ x0: Int, _ y0: Int, _ side: Int, _ flip: Bool)
        -> [Float]
    {
        var out = [Float](repeating: 0, count: side * side)
        let planeSize = size.x * size.y
        for y in 0..<side where y0 + y >= 0 && y0 + y < size.y {
            for x in 0..<side {
                let gx = x0 + (flip ? side - 1 - x : x)
                if gx >= 0 && gx < size.x { out[y * side + x] = full[c * planeSize + (y0 + y) * size.x + gx] }
            }
        }
        return out
    }
}
