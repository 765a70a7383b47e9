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
    /// and the slices they span (`start`'s alone when it does not match). A scanline flood:
    /// each x run is filled in one walk, and each run of matching voxels next to it (in the
    /// rows above and below, and the slices before and after) is pushed once, as one seed;
    /// `queue` is the seed stack.
    @discardableResult
    static func flood(
        _ mask: inout [UInt8], size: (Int, Int, Int), from start: Int, match: UInt8, set: UInt8, queue: inout [Int32]
    ) -> (count: Int, slices: ClosedRange<Int>) {
        let (nx, ny, nz) = size
        let plane = nx * ny
        queue.removeAll(keepingCapacity: true)
        let startSlice = start / plane
        guard mask[start] == match, match != set else { return (0, startSlice...startSlice) }
        queue.append(Int32(start))
        var count = 0
        var (lowest, highest) = (startSlice, startSlice)
        mask.withUnsafeMutableBufferPointer { m in
            // Pushes the first voxel of each run of matching voxels in row `row` over columns
            // `left...right`.
            @inline(__always) func pushRuns(row: Int, _ left: Int, _ right: Int) {
                var inRun = false
                for i in (row + left)...(row + right) {
                    if m[i] == match {
                        if !inRun { queue.append(Int32(i)) }
                        inRun = true
                    } else {
                        inRun = false
                    }
                }
            }
            while let seed = queue.popLast().map(Int.init) {
                guard m[seed] == match else { continue }  // filled since it was pushed
                let z = seed / plane
                let y = (seed - z * plane) / nx
                let row = z * plane + y * nx
                var (left, right) = (seed - row, seed - row)
                while left > 0, m[row + left - 1] == match { left -= 1 }
                while right < nx - 1, m[row + right + 1] == match { right += 1 }
                for i in (row + left)...(row + right) { m[i] = set }
                count += right - left + 1
                (lowest, highest) = (min(lowest, z), max(highest, z))
                if y > 0 { pushRuns(row: row - nx, left, right) }
                if y < ny - 1 { pushRuns(row: row + nx, left, right) }
                if z > 0 { pushRuns(row: row - plane, left, right) }
                if z < nz - 1 { pushRuns(row: row + plane, left, right) }
            }
        }
        return (count, lowest...highest)
    }
}
