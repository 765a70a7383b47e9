import AppSupport
import Dispatch
import NeuralEngine
import VolumeCore

/// Running the lesion network over a CT on its grid: what analysis and evaluation share.
public enum LesionInference {
    /// Planes per call of the network: enough to give both cores work (the engine splits a
    /// batch between them), few enough that a batch's activations stay near 200 MB on a
    /// 224×224 plane with the shipped width of 16.
    public static let planesPerBatch = 8

    /// The lesion classes' per-pixel probabilities on `grid`: for each class after the first
    /// (background), `grid.size.count` values; 0 on the planes not in `planes` (which must be
    /// grid planes). `hu` is the study on the grid (`LesionGrid.resample`).
    public static func probabilities(_ model: LoadedModel, hu: Volume<Float>, grid: LesionGrid, planes: [Int])
        -> [[Float]]
    {
        let classes = model.description.classes.count
        let plane = grid.size.x * grid.size.y
        let channels = grid.spec.channels
        var lesion = [[Float]](repeating: [Float](repeating: 0, count: grid.size.count), count: classes - 1)
        for start in stride(from: 0, to: planes.count, by: planesPerBatch) {
            let batch = Array(planes[start..<min(planes.count, start + planesPerBatch)])
            let inputs = Slots<[Float]>(count: batch.count, initial: [])
            DispatchQueue.concurrentPerform(iterations: batch.count) { row in
                inputs.set(row, grid.input(hu, plane: batch[row]))
            }
            let input = Tensor(
                shape: [batch.count, channels, grid.size.y, grid.size.x],
                storage: (0..<batch.count).flatMap { inputs.get($0) })
            let output = model.network.segmentationProbabilities(input)
            output.storage.withUnsafeBufferPointer { values in
                for (row, k) in batch.enumerated() {
                    for c in 1..<classes {
                        let from = (row * classes + c) * plane
                        lesion[c - 1].withUnsafeMutableBufferPointer { target in
                            for p in 0..<plane { target[k * plane + p] = values[from + p] }
                        }
                    }
                }
            }
        }
        return lesion
    }

    /// The grid planes the network is run on: those holding lung in `lungsOnGrid` (the view's
    /// lungs on the grid), and one more on each side, which the view's lung voxels between a
    /// plane with lung and one without are interpolated from.
    public static func planes(withLung lungsOnGrid: Volume<UInt8>) -> [Int] {
        let size = lungsOnGrid.size
        let plane = size.x * size.y
        let withLung = (0..<size.z).filter { k in
            lungsOnGrid.voxels[(k * plane)..<((k + 1) * plane)].contains { $0 != 0 }
        }
        let grown = Set(withLung.flatMap { [$0 - 1, $0, $0 + 1] }).filter { (0..<size.z).contains($0) }
        return grown.sorted()
    }
}

extension LesionGrid {
    /// Where a view voxel lies on the grid along one axis: the grid points on either side of it
    /// and the weight of the upper one, as `onView` interpolates.
    public struct AxisSample: Sendable {
        public var low: Int
        public var high: Int
        public var weight: Float
    }

    /// For each voxel of the view along `axis` (0 x, 1 y, 2 z): its grid neighbours, or nil
    /// when it lies more than half a step outside the grid (where `onView` gives 0).
    public func axisSamples(_ axis: Int) -> [AxisSample?] {
        let (count, first, stepSize, points): (Int, Double, Double, Int) =
            switch axis {
            case 0: (source.x, start.x, step.x, size.x)
            case 1: (source.y, start.y, step.y, size.y)
            default: (source.z, start.z, step.z, size.z)
            }
        return (0..<count).map { voxel in
            let g = (Double(voxel) - first) / stepSize
            guard g >= -0.5, g <= Double(points) - 0.5 else { return nil }
            let low = min(max(Int(g.rounded(.down)), 0), points - 1)
            return AxisSample(
                low: low, high: min(low + 1, points - 1), weight: Float(min(max(g - Double(low), 0), 1)))
        }
    }
}
