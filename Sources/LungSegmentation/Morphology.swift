import Foundation

/// A 2D binary image (one slice of a mask), row-major, 0 or 1.
struct Plane {
    var width: Int
    var height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, pixels: [UInt8]? = nil) {
        self.width = width
        self.height = height
        self.pixels = pixels ?? [UInt8](repeating: 0, count: width * height)
    }

    var count: Int { width * height }
}

/// Slice-wise binary morphology: connected components and hole filling by scanline floods, and
/// dilation / erosion / closing by a disk from per-column distances.
enum Morphology {
    /// Keeps the largest 4-connected component of `plane` (ties: the first found).
    static func largestComponent(_ plane: inout Plane) -> Int {
        var stack = [Int32]()
        var (bestStart, bestSize) = (-1, 0)
        // Every component is flooded 1 → 2 and measured; the largest is flooded again 2 → 3.
        for start in 0..<plane.count where plane.pixels[start] == 1 {
            let size = floodRuns(&plane, from: start, match: 1, set: 2, stack: &stack)
            if size > bestSize { (bestStart, bestSize) = (start, size) }
        }
        if bestStart >= 0 { floodRuns(&plane, from: bestStart, match: 2, set: 3, stack: &stack) }
        for index in 0..<plane.count { plane.pixels[index] = plane.pixels[index] == 3 ? 1 : 0 }
        return bestSize
    }

    /// Sets the 4-connected pixels equal to `match` reachable from `start` to `set` and returns
    /// how many. A scanline flood: each row run is walked once, left and right from a seed, and
    /// only the rows above and below it are looked at pixel by pixel.
    @discardableResult
    static func floodRuns(_ plane: inout Plane, from start: Int, match: UInt8, set: UInt8, stack: inout [Int32])
        -> Int
    {
        let (w, h) = (plane.width, plane.height)
        guard plane.pixels[start] == match, match != set else { return 0 }
        stack.removeAll(keepingCapacity: true)
        stack.append(Int32(start))
        plane.pixels[start] = set
        var count = 0
        plane.pixels.withUnsafeMutableBufferPointer { p in
            while let seed = stack.popLast().map(Int.init) {
                let y = seed / w
                let row = y * w
                var (left, right) = (seed, seed)
                while left > row, p[left - 1] == match {
                    left -= 1
                    p[left] = set
                }
                while right < row + w - 1, p[right + 1] == match {
                    right += 1
                    p[right] = set
                }
                count += right - left + 1
                for pixel in left...right {
                    if y > 0, p[pixel - w] == match {
                        p[pixel - w] = set
                        stack.append(Int32(pixel - w))
                    }
                    if y < h - 1, p[pixel + w] == match {
                        p[pixel + w] = set
                        stack.append(Int32(pixel + w))
                    }
                }
            }
        }
        return count
    }

    /// Sets every background pixel that cannot reach the image border through background
    /// (4-connected) to foreground: the holes of the mask. With `maximumArea`, only holes of at
    /// most that many pixels are filled.
    static func fillHoles(_ plane: inout Plane, maximumArea: Int = Int.max) {
        let (w, h) = (plane.width, plane.height)
        // 1 = foreground, 0 = background not yet reached, 2 = outside (reached from the border),
        // 3 = a hole too large to fill.
        var state = plane
        var stack = [Int32]()
        for index in Array(0..<w) + Array(((h - 1) * w)..<(h * w)) + (0..<h).flatMap({ [$0 * w, $0 * w + w - 1] })
        where state.pixels[index] == 0 {
            floodRuns(&state, from: index, match: 0, set: 2, stack: &stack)
        }
        // Measure each hole (the pixels still 0, flooded to 3) and fill the small ones (flooded
        // again, 3 → 1).
        for start in 0..<state.count where state.pixels[start] == 0 {
            if maximumArea == Int.max || floodRuns(&state, from: start, match: 0, set: 3, stack: &stack) <= maximumArea
            {
                floodRuns(&state, from: start, match: state.pixels[start], set: 1, stack: &stack)
            }
        }
        for index in 0..<plane.count { plane.pixels[index] = state.pixels[index] == 1 ? 1 : 0 }
    }

    /// Per pixel, the squared distance (mm²) to the nearest foreground pixel of its own column,
    /// for rows `spacingY` mm apart; `farAway` where the column has none. Two scans of the
    /// rows (down, then up) serve all columns at once.
    static func squaredColumnDistances(_ plane: Plane, spacingY: Double) -> [Float] {
        let (w, h) = (plane.width, plane.height)
        var grid = [Float](repeating: farAway, count: w * h)
        var run = [Int](repeating: -1, count: w)  // pixels since the last foreground (-1: none yet)
        for rows in [Array(0..<h), Array((0..<h).reversed())] {
            run.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
            for y in rows {
                for x in 0..<w {
                    run[x] = plane.pixels[y * w + x] != 0 ? 0 : (run[x] < 0 ? -1 : run[x] + 1)
                    if run[x] >= 0 {
                        let d = Float(run[x]) * Float(spacingY)
                        grid[y * w + x] = min(grid[y * w + x], d * d)
                    }
                }
            }
        }
        return grid
    }

    /// "No foreground in this column": larger than any squared distance in a slice, and
    /// finite, so adding a squared offset to it stays finite.
    static let farAway = Float.greatestFiniteMagnitude / 4

    /// 1 where some foreground pixel of `plane` lies within `radius` mm (Euclidean, pixels
    /// `spacingX` by `spacingY` mm), else 0: the dilation by a disk. Each pixel takes the
    /// smallest (dx·spacingX)² + column distance over the columns dx away that can be in
    /// reach; the same sums an exact distance transform (Felzenszwalb & Huttenlocher 2012)
    /// forms, but only within the disk's width, so a row costs the disk's width in vector
    /// passes and the result does not depend on how ties between parabolas are resolved.
    static func withinRadius(of plane: Plane, radius: Double, spacingX: Double, spacingY: Double) -> Plane {
        let (w, h) = (plane.width, plane.height)
        let r2 = Float(radius * radius)
        // One column more than the disk's half-width: its sum is above r² whatever the rounding.
        let reach = min(w - 1, Int((radius / spacingX).rounded(.down)) + 1)
        let offsets = (0...max(0, reach)).map { dx -> Float in
            let d = Float(dx) * Float(spacingX)
            return d * d
        }
        let columns = squaredColumnDistances(plane, spacingY: spacingY)
        var result = Plane(width: w, height: h)
        let best = UnsafeMutablePointer<Float>.allocate(capacity: max(1, w))
        defer { best.deallocate() }
        columns.withUnsafeBufferPointer { columns in
            guard let first = columns.baseAddress else { return }
            for y in 0..<h {
                let row = first + y * w
                best.update(from: row, count: w)
                // Neighbours dx to the left, then dx to the right: pointer offsets, so the loops
                // have no index arithmetic to check and run as vector instructions.
                for dx in stride(from: 1, through: reach, by: 1) {
                    let (offset, count) = (offsets[dx], w - dx)
                    let (shifted, ahead) = (best + dx, row + dx)
                    for x in 0..<count { shifted[x] = min(shifted[x], row[x] + offset) }
                    for x in 0..<count { best[x] = min(best[x], ahead[x] + offset) }
                }
                for x in 0..<w where best[x] <= r2 { result.pixels[y * w + x] = 1 }
            }
        }
        return result
    }

    /// Morphological closing by a disk of `radius` mm: dilation, then erosion (the pixels with
    /// no background of the dilation within the radius). Foreground touching the image edge is
    /// treated as continuing beyond it, so the edge erodes nothing that dilation did not add.
    static func close(_ plane: Plane, radius: Double, spacingX: Double, spacingY: Double) -> Plane {
        var background = withinRadius(of: plane, radius: radius, spacingX: spacingX, spacingY: spacingY)
        for index in 0..<background.count { background.pixels[index] ^= 1 }
        var closed = withinRadius(of: background, radius: radius, spacingX: spacingX, spacingY: spacingY)
        for index in 0..<closed.count { closed.pixels[index] ^= 1 }
        return closed
    }
}
