import ModelStore
import VolumeCore

// How the lesion network sees a CT: the same grid in training and in analysis, so a network
// never meets a pixel size or a slice step it was not trained on. The study, viewed in LPS
// (radiological convention, slices from inferior to superior), is resampled over the lungs'
// bounding box to square pixels of `pixelMM` and axial planes `sliceStepMM` apart; each
// plane goes to the network with `contextSlices` planes on either side as extra channels
// (2.5D), each in the lung window mapped to 0...1.

/// An axis-aligned grid over the lungs of an LPS view, in that view's voxel coordinates.
public struct LesionGrid: Sendable {
    public var spec: LesionGridSpec
    /// The LPS view's size.
    public var source: Size3
    /// The source voxel coordinates of grid point (0, 0, 0), and source voxels per grid step.
    public var start: (x: Double, y: Double, z: Double)
    public var step: (x: Double, y: Double, z: Double)
    public var size: Size3
    /// The grid's geometry in patient space (LPS directions of the view; spacing in mm).
    public var geometry: Geometry

    /// The grid over the nonzero voxels of `lungs` (an LPS view), grown by the margin and kept
    /// inside the volume; nil when there is no lung.
    public init?(lungs: Volume<UInt8>, spec: LesionGridSpec = LesionGridSpec()) {
        let size = lungs.size
        let plane = size.x * size.y
        var low = (x: Int.max, y: Int.max, z: Int.max)
        var high = (x: -1, y: -1, z: -1)
        for z in 0..<size.z {
            for y in 0..<size.y {
                let row = z * plane + y * size.x
                for x in 0..<size.x where lungs.voxels[row + x] != 0 {
                    low = (min(low.x, x), min(low.y, y), min(low.z, z))
                    high = (max(high.x, x), max(high.y, y), max(high.z, z))
                }
            }
        }
        guard high.x >= 0 else { return nil }
        let spacing = lungs.geometry.spacing
        func range(_ lo: Int, _ hi: Int, _ voxelMM: Double, _ count: Int, _ stepMM: Double) -> (Double, Int) {
            let margin = spec.marginMM / voxelMM
            let first = max(0, Double(lo) - margin)
            let last = min(Double(count - 1), Double(hi) + margin)
            return (first, Int(((last - first) * voxelMM / stepMM).rounded(.down)) + 1)
        }
        let (x0, nx) = range(low.x, high.x, spacing.x, size.x, spec.pixelMM)
        let (y0, ny) = range(low.y, high.y, spacing.y, size.y, spec.pixelMM)
        let (z0, nz) = range(low.z, high.z, spacing.z, size.z, spec.sliceStepMM)
        self.spec = spec
        source = size
        start = (x0, y0, z0)
        step = (spec.pixelMM / spacing.x, spec.pixelMM / spacing.y, spec.sliceStepMM / spacing.z)
        self.size = Size3(nx, ny, nz)
        geometry = Geometry(
            size: self.size, spacing: Vector3(spec.pixelMM, spec.pixelMM, spec.sliceStepMM),
            origin: lungs.geometry.physicalPoint(i: x0, j: y0, k: z0), direction: lungs.geometry.direction)
    }

    /// The grid that is `geometry` itself (a volume already on a lesion grid, as training
    /// keeps its volumes): every step one voxel.
    public init(covering geometry: Geometry, spec: LesionGridSpec) {
        self.spec = spec
        source = geometry.size
        start = (0, 0, 0)
        step = (1, 1, 1)
        size = geometry.size
        self.geometry = geometry
    }

    /// `hu` (the LPS view) on the grid by trilinear interpolation; outside the volume: air.
    public func resample(_ hu: Volume<Int16>) -> Volume<Float> {
        var out = [Float](repeating: LesionGridSpec.outsideHU, count: size.count)
        let s = source
        let plane = s.x * s.y
        for k in 0..<size.z {
            let z = start.z + Double(k) * step.z
            let z0 = min(Int(z), s.z - 1)
            let (z1, fz) = (min(z0 + 1, s.z - 1), Float(z - Double(z0)))
            for j in 0..<size.y {
                let y = start.y + Double(j) * step.y
                let y0 = min(Int(y), s.y - 1)
                let (y1, fy) = (min(y0 + 1, s.y - 1), Float(y - Double(y0)))
                let base = (k * size.y + j) * size.x
                for i in 0..<size.x {
                    let x = start.x + Double(i) * step.x
                    let x0 = min(Int(x), s.x - 1)
                    let (x1, fx) = (min(x0 + 1, s.x - 1), Float(x - Double(x0)))
                    func at(_ xx: Int, _ yy: Int, _ zz: Int) -> Float { Float(hu.voxels[zz * plane + yy * s.x + xx]) }
                    let c00 = at(x0, y0, z0) + (at(x1, y0, z0) - at(x0, y0, z0)) * fx
                    let c10 = at(x0, y1, z0) + (at(x1, y1, z0) - at(x0, y1, z0)) * fx
                    let c01 = at(x0, y0, z1) + (at(x1, y0, z1) - at(x0, y0, z1)) * fx
                    let c11 = at(x0, y1, z1) + (at(x1, y1, z1) - at(x0, y1, z1)) * fx
                    let c0 = c00 + (c10 - c00) * fy
                    out[base + i] = c0 + (c01 + (c11 - c01) * fy - c0) * fz
                }
            }
        }
        return Volume(geometry: geometry, voxels: out)
    }

    /// Labels (the LPS view's lungs, or any label volume on it) on the grid: nearest voxel.
    public func resample(labels: Volume<UInt8>) -> Volume<UInt8> {
        let s = source
        var out = [UInt8](repeating: 0, count: size.count)
        for k in 0..<size.z {
            let z = min(s.z - 1, Int((start.z + Double(k) * step.z).rounded()))
            for j in 0..<size.y {
                let y = min(s.y - 1, Int((start.y + Double(j) * step.y).rounded()))
                for i in 0..<size.x {
                    let x = min(s.x - 1, Int((start.x + Double(i) * step.x).rounded()))
                    out[(k * size.y + j) * size.x + i] = labels.voxels[(z * s.y + y) * s.x + x]
                }
            }
        }
        return Volume(geometry: geometry, voxels: out)
    }

    /// The network's input for grid plane `k`: planes k − c ... k + c (clamped at the ends) of
    /// `hu` (on this grid), windowed to 0...1, channel after channel.
    public func input(_ hu: Volume<Float>, plane k: Int) -> [Float] {
        let planeSize = size.x * size.y
        let low = Float(spec.windowLowHU)
        let scale = 1 / Float(spec.windowHighHU - spec.windowLowHU)
        var out = [Float](repeating: 0, count: spec.channels * planeSize)
        for c in 0..<spec.channels {
            let z = min(max(k + c - spec.contextSlices, 0), size.z - 1)
            for p in 0..<planeSize {
                out[c * planeSize + p] = min(max((hu.voxels[z * planeSize + p] - low) * scale, 0), 1)
            }
        }
        return out
    }

    /// Values on this grid (one per grid voxel) back on the LPS view, by trilinear
    /// interpolation; 0 outside the grid.
    public func onView(_ values: [Float], geometry view: Geometry) -> Volume<Float> {
        var out = [Float](repeating: 0, count: source.count)
        let n = size
        for z in 0..<source.z {
            let gz = (Double(z) - start.z) / step.z
            guard gz >= -0.5, gz <= Double(n.z) - 0.5 else { continue }
            let z0 = min(max(Int(gz.rounded(.down)), 0), n.z - 1)
            let (z1, fz) = (min(z0 + 1, n.z - 1), Float(min(max(gz - Double(z0), 0), 1)))
            for y in 0..<source.y {
                let gy = (Double(y) - start.y) / step.y
                guard gy >= -0.5, gy <= Double(n.y) - 0.5 else { continue }
                let y0 = min(max(Int(gy.rounded(.down)), 0), n.y - 1)
                let (y1, fy) = (min(y0 + 1, n.y - 1), Float(min(max(gy - Double(y0), 0), 1)))
                for x in 0..<source.x {
                    let gx = (Double(x) - start.x) / step.x
                    guard gx >= -0.5, gx <= Double(n.x) - 0.5 else { continue }
                    let x0 = min(max(Int(gx.rounded(.down)), 0), n.x - 1)
                    let (x1, fx) = (min(x0 + 1, n.x - 1), Float(min(max(gx - Double(x0), 0), 1)))
                    func at(_ i: Int, _ j: Int, _ k: Int) -> Float { values[(k * n.y + j) * n.x + i] }
                    let c0 = at(x0, y0, z0) + (at(x1, y0, z0) - at(x0, y0, z0)) * fx
                    let c1 = at(x0, y1, z0) + (at(x1, y1, z0) - at(x0, y1, z0)) * fx
                    let c2 = at(x0, y0, z1) + (at(x1, y0, z1) - at(x0, y0, z1)) * fx
                    let c3 = at(x0, y1, z1) + (at(x1, y1, z1) - at(x0, y1, z1)) * fx
                    let near = c0 + (c1 - c0) * fy
                    out[(z * source.y + y) * source.x + x] = near + (c2 + (c3 - c2) * fy - near) * fz
                }
            }
        }
        return Volume(geometry: view, voxels: out)
    }
}
