import ModelRuntime
import VolumeCore

/// One view slice of the lesion network's class probabilities, interpolated separably from
/// the grid: the slice's plane between its two grid planes (made once), a row between its two
/// grid rows (`interpolateRow`), a voxel between its two grid points (`lesion(at:)`). The
/// arithmetic of `LesionGrid.onView`'s trilinear interpolation, in the order z, y, x.
final class SliceInterpolation {
    private let classCount: Int
    private let grid: Size3
    /// Per class, the grid plane at the slice: `grid.x * grid.y` values.
    private let plane: UnsafeMutableBufferPointer<Float>
    /// Per class, the current row: `grid.x` values.
    private let row: UnsafeMutableBufferPointer<Float>

    /// `values`: per class, one value per grid voxel (class after class); `planes`: where the
    /// slice lies between the grid's planes.
    init(
        values: VoxelPointer<Float>, classCount: Int, grid: Size3, planes: LesionGrid.AxisSample
    ) {
        self.classCount = classCount
        self.grid = grid
        let planeCount = grid.x * grid.y
        plane = .allocate(capacity: classCount * planeCount)
        row = .allocate(capacity: classCount * grid.x)
        for c in 0..<classCount {
            let low = values.base + c * grid.count + planes.low * planeCount
            let high = values.base + c * grid.count + planes.high * planeCount
            let out = plane.baseAddress! + c * planeCount
            for i in 0..<planeCount { out[i] = low[i] + (high[i] - low[i]) * planes.weight }
        }
    }

    deinit {
        plane.deallocate()
        row.deallocate()
    }

    /// Makes the row that lies between the plane's rows `rows.low` and `rows.high`.
    func interpolateRow(_ rows: LesionGrid.AxisSample) {
        let planeCount = grid.x * grid.y
        for c in 0..<classCount {
            let low = plane.baseAddress! + c * planeCount + rows.low * grid.x
            let high = plane.baseAddress! + c * planeCount + rows.high * grid.x
            let out = row.baseAddress! + c * grid.x
            for i in 0..<grid.x { out[i] = low[i] + (high[i] - low[i]) * rows.weight }
        }
    }

    /// At a voxel of the current row: the lesion probability (the classes' sum, clamped to
    /// 0...1, rounded down to a multiple of `LesionScoring.probabilityStep`) and the likelier
    /// class (1-based).
    @inline(__always)
    func lesion(at point: LesionGrid.AxisSample) -> (total: Float, bestClass: Int) {
        var (total, best, bestClass): (Float, Float, Int) = (0, -1, 0)
        for c in 0..<classCount {
            let values = row.baseAddress! + c * grid.x
            let v = values[point.low] + (values[point.high] - values[point.low]) * point.weight
            total += v
            if v > best { (best, bestClass) = (v, c + 1) }
        }
        let steps = LesionScoring.probabilitySteps
        return ((min(max(total, 0), 1) * steps).rounded(.down) / steps, bestClass)
    }
}
