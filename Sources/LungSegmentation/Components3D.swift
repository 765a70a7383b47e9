/// 6-connected components of a 3D mask, by breadth-first flooding. The mask itself marks
/// visited voxels, so no label volume (300 MB at 512×512×300 as Int32) is needed.
struct Component3D {
    /// A voxel of the component, to flood it again from.
    var seed: Int
    var size: Int
    /// The lowest and highest slice (z) the component reaches.
    var slices: ClosedRange<Int>
}

enum Components3D {
    /// The components of the voxels equal to `value`, largest first. Visited voxels are set
    /// to `visited` in `mask`.
    static func find(in mask: inout [UInt8], size: (Int, Int, Int), value: UInt8, visited: UInt8) -> [Component3D] {
        var components: [Component3D] = []
        var queue = [Int32]()
        for start in 0..<mask.count where mask[start] == value {
            let (count, slices) = flood(&mask, size: size, from: start, match: value, set: visited, queue: &queue)
            components.append(Component3D(seed: start, size: count, slices: slices))
        }
        return components.sorted { $0.size > $1.size }
    }

    /// Sets every voxel 6-connected to `start` whose value is `match` to `set`; returns how many,
    /// and the slices they span (`start`'s alone when it does not match).
    @discardableResult
    static func flood(
        _ mask: inout [UInt8], size: (Int, Int, Int), from start: Int, match: UInt8, set: UInt8, queue: inout [Int32]
    ) -> (count: Int, slices: ClosedRange<Int>) {
        let (nx, ny, nz) = size
        let plane = nx * ny
        queue.removeAll(keepingCapacity: true)
        let startSlice = start / plane
        guard mask[start] == match else { return (0, startSlice...startSlice) }
        mask[start] = set
        queue.append(Int32(start))
        var head = 0
        var (lowest, highest) = (startSlice, startSlice)
        mask.withUnsafeMutableBufferPointer { m in
            while head < queue.count {
                let index = Int(queue[head])
                head += 1
                // Two divisions, not three: they are most of the cost of a visit.
                let z = index / plane
                let inPlane = index - z * plane
                let y = inPlane / nx
                let x = inPlane - y * nx
                (lowest, highest) = (min(lowest, z), max(highest, z))
                @inline(__always) func visit(_ neighbour: Int) {
                    if m[neighbour] == match {
                        m[neighbour] = set
                        queue.append(Int32(neighbour))
                    }
                }
                if x > 0 { visit(index - 1) }
                if x < nx - 1 { visit(index + 1) }
                if y > 0 { visit(index - nx) }
                if y < ny - 1 { visit(index + nx) }
                if z > 0 { visit(index - plane) }
                if z < nz - 1 { visit(index + plane) }
            }
        }
        return (queue.count, lowest...highest)
    }
}
