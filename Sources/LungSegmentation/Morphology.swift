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

/// Slice-wise binary morphology: connected components, hole filling, and dilation / erosion /
/// closing by a disk through the exact Euclidean distance transform (Felzenszwalb &
/// Huttenlocher 2012), so the cost does not grow with the radius.
enum Morphology {
    /// Keeps the largest 4-connected component of `plane` (ties: the first found).
    static func largestComponent(_ plane: inout Plane) -> Int {
        var label = [Int32](repeating: 0, count: plane.count)
        var queue = [Int32]()
        queue.reserveCapacity(plane.count / 4)
        var best: Int32 = 0
        var bestSize = 0
        var next: Int32 = 0
        for start in 0..<plane.count where plane.pixels[start] != 0 && label[start] == 0 {
            next += 1
            let size = flood(plane, from: start, into: &label, value: next, queue: &queue)
            if size > bestSize {
                bestSize = size
                best = next
            }
        }
        for index in 0..<plane.count { plane.pixels[index] = label[index] == best && best != 0 ? 1 : 0 }
        return bestSize
    }

    /// Labels the 4-connected set of foreground pixels reachable from `start`; returns its size.
    private static func flood(
        _ plane: Plane, from start: Int, into label: inout [Int32], value: Int32, queue: inout [Int32]
    )
        -> Int
    {
        let w = plane.width
        let h = plane.height
        queue.removeAll(keepingCapacity: true)
        queue.append(Int32(start))
        label[start] = value
        var head = 0
        while head < queue.count {
            let index = Int(queue[head])
            head += 1
            let y = index / w
            let x = index - y * w
            if x > 0, plane.pixels[index - 1] != 0, label[index - 1] == 0 {
                label[index - 1] = value
                queue.append(Int32(index - 1))
            }
            if x < w - 1, plane.pixels[index + 1] != 0, label[index + 1] == 0 {
                label[index + 1] = value
                queue.append(Int32(index + 1))
            }
            if y > 0, plane.pixels[index - w] != 0, label[index - w] == 0 {
                label[index - w] = value
                queue.append(Int32(index - w))
            }
            if y < h - 1, plane.pixels[index + w] != 0, label[index + w] == 0 {
                label[index + w] = value
                queue.append(Int32(index + w))
            }
        }
        return queue.count
    }

    /// Sets every background pixel that cannot reach the image border through background
    /// (4-connected) to foreground: the holes of the mask. With `maximumArea`, only holes of at
    /// most that many pixels are filled.
    static func fillHoles(_ plane: inout Plane, maximumArea: Int = Int.max) {
        let w = plane.width
        let h = plane.height
        // 1 = foreground, 0 = background not yet reached, 2 = outside (reached from the border).
        var state = plane.pixels
        var queue = [Int32]()
        queue.reserveCapacity(plane.count / 2)
        func seed(_ index: Int) {
            if state[index] == 0 {
                state[index] = 2
                queue.append(Int32(index))
            }
        }
        for x in 0..<w {
            seed(x)
            seed((h - 1) * w + x)
        }
        for y in 0..<h {
            seed(y * w)
            seed(y * w + w - 1)
        }
        // Row runs: every background pixel of a reached run is reached, so each run is walked
        // once, left and right from a seed, and only its ends and the rows above and below
        // are looked at pixel by pixel (a scanline flood: no division per pixel).
        var head = 0
        while head < queue.count {
            let index = Int(queue[head])
            head += 1
            let y = index / w
            let row = y * w
            var left = index
            while left > row, state[left - 1] == 0 {
                left -= 1
                state[left] = 2
            }
            var right = index
            while right < row + w - 1, state[right + 1] == 0 {
                right += 1
                state[right] = 2
            }
            for pixel in left...right {
                if y > 0 { seed(pixel - w) }
                if y < h - 1 { seed(pixel + w) }
            }
        }
        if maximumArea == Int.max {
            for index in 0..<plane.count { plane.pixels[index] = state[index] == 2 ? 0 : 1 }
            return
        }
        // Measure each hole (the pixels still 0) and fill only the small ones.
        var holes = Plane(width: w, height: h)
        for index in 0..<plane.count where state[index] == 0 { holes.pixels[index] = 1 }
        var label = [Int32](repeating: 0, count: plane.count)
        var next: Int32 = 0
        for start in 0..<plane.count where holes.pixels[start] != 0 && label[start] == 0 {
            next += 1
            let size = flood(holes, from: start, into: &label, value: next, queue: &queue)
            if size <= maximumArea {
                for index in queue { plane.pixels[Int(index)] = 1 }
            }
        }
    }

    /// Squared Euclidean distance (mm²) from every pixel to the nearest foreground pixel
    /// (0 on the foreground), for pixels `spacingX` by `spacingY` mm.
    static func squaredDistanceToForeground(_ plane: Plane, spacingX: Double, spacingY: Double) -> [Float] {
        let w = plane.width
        let h = plane.height
        let infinity = Float.greatestFiniteMagnitude / 4
        var grid = plane.pixels.map { $0 != 0 ? Float(0) : infinity }
        var line = [Float](repeating: 0, count: max(w, h))
        var out = [Float](repeating: 0, count: max(w, h))
        var vertices = [Int](repeating: 0, count: max(w, h))
        var bounds = [Float](repeating: 0, count: max(w, h) + 1)
        // Columns, then rows (the transform is separable).
        for x in 0..<w {
            for y in 0..<h { line[y] = grid[y * w + x] }
            transform1D(line, count: h, spacing: Float(spacingY), out: &out, vertices: &vertices, bounds: &bounds)
            for y in 0..<h { grid[y * w + x] = out[y] }
        }
        for y in 0..<h {
            for x in 0..<w { line[x] = grid[y * w + x] }
            transform1D(line, count: w, spacing: Float(spacingX), out: &out, vertices: &vertices, bounds: &bounds)
            for x in 0..<w { grid[y * w + x] = out[x] }
        }
        return grid
    }

    /// The 1D lower envelope of parabolas (Felzenszwalb & Huttenlocher, "Distance Transforms
    /// of Sampled Functions", Theory of Computing 8, 2012), with sample spacing in mm.
    private static func transform1D(
        _ f: [Float], count n: Int, spacing s: Float, out: inout [Float], vertices v: inout [Int],
        bounds z: inout [Float]
    ) {
        let infinity = Float.greatestFiniteMagnitude / 4
        let s2 = s * s
        var k = 0
        // Skip leading samples at infinity: they are not parabola vertices.
        var first = 0
        while first < n, f[first] >= infinity { first += 1 }
        if first == n {
            for q in 0..<n { out[q] = infinity }
            return
        }
        v[0] = first
        z[0] = -infinity
        z[1] = infinity
        for q in (first + 1)..<max(first + 1, n) where f[q] < infinity {
            var intersection: Float
            repeat {
                let p = v[k]
                intersection = ((f[q] + s2 * Float(q * q)) - (f[p] + s2 * Float(p * p))) / (2 * s2 * Float(q - p))
                if intersection <= z[k] { k -= 1 } else { break }
            } while k >= 0
            k += 1
            v[k] = q
            z[k] = intersection
            z[k + 1] = infinity
        }
        k = 0
        for q in 0..<n {
            while z[k + 1] < Float(q) { k += 1 }
            let d = Float(q - v[k]) * s
            out[q] = d * d + f[v[k]]
        }
    }

    /// Morphological closing by a disk of `radius` mm: dilation, then erosion. Foreground
    /// touching the image edge is treated as continuing beyond it, so the edge erodes nothing
    /// that dilation did not add.
    static func close(_ plane: Plane, radius: Double, spacingX: Double, spacingY: Double) -> Plane {
        let r2 = Float(radius * radius)
        let toForeground = squaredDistanceToForeground(plane, spacingX: spacingX, spacingY: spacingY)
        var dilated = Plane(width: plane.width, height: plane.height)
        for index in 0..<plane.count { dilated.pixels[index] = toForeground[index] <= r2 ? 1 : 0 }
        var background = Plane(width: plane.width, height: plane.height)
        for index in 0..<plane.count { background.pixels[index] = dilated.pixels[index] == 0 ? 1 : 0 }
        let toBackground = squaredDistanceToForeground(background, spacingX: spacingX, spacingY: spacingY)
        var closed = Plane(width: plane.width, height: plane.height)
        for index in 0..<plane.count { closed.pixels[index] = toBackground[index] > r2 ? 1 : 0 }
        return closed
    }
}
