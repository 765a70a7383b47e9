import Dispatch
import Foundation
import VolumeCore

/// Stages 1 and 2 of `LungSegmenter.segment`: the body, then the air inside it that is lung.
extension LungSegmenter {
    /// The body, slice by slice: the largest region denser than `thresholdHU`, holes filled, so
    /// that the lungs (dark, but inside it) belong to it and the table and air around do not.
    /// Found on each row's runs, not pixel by pixel (`RunComponents.body`).
    static func bodyMask(_ hu: Volume<Int16>, thresholdHU: Int16) -> [UInt8] {
        let g = hu.geometry
        guard g.size.count > 0 else { return [] }
        let (nx, ny) = (g.size.x, g.size.y)
        let planeSize = nx * ny
        var body = [UInt8](unsafeUninitializedCapacity: g.size.count) { $1 = g.size.count }
        hu.voxels.withUnsafeBufferPointer { v in
            body.withUnsafeMutableBufferPointer { b in
                let (source, target) = (VoxelPointer(reading: v.baseAddress!), VoxelPointer(b.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: g.size.z) { k in
                    RunComponents.body(
                        source.base + k * planeSize, width: nx, height: ny, above: thresholdHU,
                        into: target.base + k * planeSize)
                }
            }
        }
        return body
    }

    /// Air inside the body, and its large 3D components. The components are found after a
    /// one-voxel in-plane erosion, so thin partial-volume bridges (lung to bowel gas through the
    /// diaphragm, lung to lung at the junction lines) do not join them; the kept components are
    /// then dilated back within the air.
    static func lungAir(
        hu: Volume<Int16>, body: [UInt8], parameters: SegmentationParameters, notes: inout [String]
    ) -> [UInt8] {
        let g = hu.geometry
        let size = (g.size.x, g.size.y, g.size.z)
        let voxelML = g.voxelVolume / 1000
        var air = airInside(body: body, hu: hu, below: parameters.airThresholdHU)
        var core = erodeInPlane(air, size: size)
        let components = Components3D.find(in: &core, size: size, value: 1, visited: 2)
        var queue = [Int32]()
        guard let largest = components.first else {
            notes.append("no air inside the body: no lungs found")
            return [UInt8](repeating: 0, count: air.count)
        }
        let kept = components.filter { Double($0.size) >= parameters.minimumLungFraction * Double(largest.size) }
        for component in kept {
            Components3D.flood(&core, size: size, from: component.seed, match: 2, set: 3, queue: &queue)
        }
        for index in 0..<core.count { core[index] = core[index] == 3 ? 1 : 0 }
        dilateInPlane(&core, size: size, steps: 1)
        // The lungs: the air the kept components, dilated back, cover (air is reused for them).
        for index in 0..<air.count { air[index] &= core[index] }
        let dropped = components.count - kept.count
        if dropped > 0 {
            let ml = Double(components.dropFirst(kept.count).reduce(0) { $0 + $1.size }) * voxelML
            notes.append(
                String(
                    format: "%d small air region(s) inside the body ignored (%.1f mL in all: bowel or stomach gas)",
                    dropped, ml))
        }
        return air
    }

    /// 1 where the body holds a voxel darker than `threshold`. Slices on all cores.
    static func airInside(body: [UInt8], hu: Volume<Int16>, below threshold: Int16) -> [UInt8] {
        let planeSize = hu.geometry.size.x * hu.geometry.size.y
        var air = [UInt8](repeating: 0, count: body.count)
        body.withUnsafeBufferPointer { body in
            hu.voxels.withUnsafeBufferPointer { voxels in
                air.withUnsafeMutableBufferPointer { air in
                    guard let b = body.baseAddress, let v = voxels.baseAddress, let a = air.baseAddress else { return }
                    let (inBody, values, out) = (VoxelPointer(reading: b), VoxelPointer(reading: v), VoxelPointer(a))
                    DispatchQueue.concurrentPerform(iterations: hu.geometry.size.z) { k in
                        for index in (k * planeSize)..<((k + 1) * planeSize) {
                            out[index] = inBody[index] != 0 && values[index] < threshold ? 1 : 0
                        }
                    }
                }
            }
        }
        return air
    }
}
