import Dispatch
import VolumeCore

/// The columns and rows that hold the body in some slice, with a margin: everything after the
/// body mask (air, airways, left and right, refinement) works inside this box, all slices
/// kept, and the labels are put back on the full grid at the end. A chest fills about half of
/// a 512×512 field of view, so each later pass touches about half the voxels.
///
/// The crop changes no label: every lung voxel is inside the body; the voxels keep their order
/// (z, then y, then x), so floods, component order and ties break as on the full grid; the
/// geometry moves with the box, so distances and the body's centre are the same; and the
/// margin, outside the body, is background connected all around the box, as the full plane's
/// background outside the body is, so "connected to the border" means the same.
struct BodyCrop {
    /// Voxels of background kept around the body's box on each side (clipped to the grid).
    static let margin = 8

    let full: Geometry
    let x: Range<Int>
    let y: Range<Int>

    /// The box of the body's voxels (`body`: 0 or 1 on `geometry`'s grid) plus `margin`; nil
    /// when there is no body voxel or the box is the whole plane anyway.
    init?(body: [UInt8], geometry: Geometry) {
        let (nx, ny) = (geometry.size.x, geometry.size.y)
        let planeSize = nx * ny
        guard planeSize > 0 else { return nil }
        // Per slice: the first and last column and row with body, or (nx, -1, ny, -1).
        var boxes = [SIMD4<Int>](repeating: SIMD4(nx, -1, ny, -1), count: geometry.size.z)
        body.withUnsafeBufferPointer { voxels in
            boxes.withUnsafeMutableBufferPointer { out in
                let (shared, slices) = (VoxelPointer(reading: voxels.baseAddress!), VoxelPointer(out.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: geometry.size.z) { k in
                    var box = SIMD4(nx, -1, ny, -1)
                    for j in 0..<ny {
                        let row = shared.base + k * planeSize + j * nx
                        guard let first = (0..<nx).first(where: { row[$0] != 0 }) else { continue }
                        let last = (0..<nx).last { row[$0] != 0 } ?? first
                        box = SIMD4(min(box[0], first), max(box[1], last), min(box[2], j), j)
                    }
                    slices[k] = box
                }
            }
        }
        let found = boxes.filter { $0[1] >= 0 }
        guard let first = found.first else { return nil }
        let box = found.reduce(first) {
            SIMD4(min($0[0], $1[0]), max($0[1], $1[1]), min($0[2], $1[2]), max($0[3], $1[3]))
        }
        let x = max(0, box[0] - Self.margin)..<min(nx, box[1] + 1 + Self.margin)
        let y = max(0, box[2] - Self.margin)..<min(ny, box[3] + 1 + Self.margin)
        guard x.count < nx || y.count < ny else { return nil }
        (full, self.x, self.y) = (geometry, x, y)
    }

    /// The box's grid: the same spacing and direction, the origin at the box's first voxel.
    var geometry: Geometry {
        Geometry(
            size: Size3(x.count, y.count, full.size.z), spacing: full.spacing,
            origin: full.physicalPoint(i: Double(x.lowerBound), j: Double(y.lowerBound), k: 0),
            direction: full.direction)
    }

    /// The box's voxels of a volume on the full grid.
    func cut<Voxel: BitwiseCopyable>(_ voxels: [Voxel]) -> [Voxel] {
        let (nx, ny, width) = (full.size.x, full.size.y, x.count)
        let count = width * y.count * full.size.z
        return [Voxel](unsafeUninitializedCapacity: count) { out, initialized in
            voxels.withUnsafeBufferPointer { source in
                for k in 0..<full.size.z {
                    for (row, j) in y.enumerated() {
                        let from = source.baseAddress! + (k * ny + j) * nx + x.lowerBound
                        (out.baseAddress! + (k * y.count + row) * width).initialize(from: from, count: width)
                    }
                }
            }
            initialized = count
        }
    }

    /// Labels on the box back on the full grid, 0 outside the box.
    func paste(_ labels: [UInt8]) -> [UInt8] {
        let (nx, ny, width) = (full.size.x, full.size.y, x.count)
        var out = [UInt8](repeating: 0, count: full.size.count)
        out.withUnsafeMutableBufferPointer { target in
            labels.withUnsafeBufferPointer { source in
                for k in 0..<full.size.z {
                    for (row, j) in y.enumerated() {
                        (target.baseAddress! + (k * ny + j) * nx + x.lowerBound).update(
                            from: source.baseAddress! + (k * y.count + row) * width, count: width)
                    }
                }
            }
        }
        return out
    }
}
