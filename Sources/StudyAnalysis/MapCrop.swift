import DICOMObjects
import VolumeCore

/// The Parametric Map's grid: the box of the source grid that holds every lung voxel and every
/// non-zero probability, so the map loses nothing (the probability is 0 outside the lungs) and
/// a 512×512×300 study's float32 map is not 315 MB of mostly zeros. Its frames keep the source
/// grid's spacing and orientation and reference the source slices they lie on.
enum MapCrop {
    struct Box: Equatable {
        var low: Size3
        var high: Size3
        var size: Size3 { Size3(high.x - low.x + 1, high.y - low.y + 1, high.z - low.z + 1) }
    }

    /// The box, or nil when nothing is non-zero (the map is then written on the whole grid).
    static func box(_ probability: Volume<Float>, lungs: Volume<UInt8>) -> Box? {
        let size = probability.size
        guard lungs.size == size else { return nil }
        var low = Size3(size.x, size.y, size.z)
        var high = Size3(-1, -1, -1)
        probability.voxels.withUnsafeBufferPointer { p in
            lungs.voxels.withUnsafeBufferPointer { l in
                for z in 0..<size.z {
                    for y in 0..<size.y {
                        let row = (z * size.y + y) * size.x
                        var first = -1
                        var last = -1
                        for x in 0..<size.x where p[row + x] != 0 || l[row + x] != 0 {
                            if first < 0 { first = x }
                            last = x
                        }
                        guard first >= 0 else { continue }
                        low = Size3(min(low.x, first), min(low.y, y), min(low.z, z))
                        high = Size3(max(high.x, last), max(high.y, y), max(high.z, z))
                    }
                }
            }
        }
        return high.x < 0 ? nil : Box(low: low, high: high)
    }

    /// `probability` and `source` cut to `box`: the box's voxels, its slices' references, and a
    /// geometry whose first voxel is the box's first.
    static func cut(_ probability: Volume<Float>, source: SourceSeries, to box: Box) -> (Volume<Float>, SourceSeries) {
        let size = box.size
        let full = probability.size
        var voxels = [Float](repeating: 0, count: size.x * size.y * size.z)
        for z in 0..<size.z {
            for y in 0..<size.y {
                let from = ((box.low.z + z) * full.y + box.low.y + y) * full.x + box.low.x
                let to = (z * size.y + y) * size.x
                for x in 0..<size.x { voxels[to + x] = probability.voxels[from + x] }
            }
        }
        var geometry = probability.geometry
        geometry.origin = geometry.physicalPoint(i: Double(box.low.x), j: Double(box.low.y), k: Double(box.low.z))
        geometry.size = size
        var cutSource = source
        cutSource.geometry = geometry
        cutSource.sliceReferences = Array(source.sliceReferences[box.low.z...box.high.z])
        return (Volume(geometry: geometry, voxels: voxels), cutSource)
    }
}
