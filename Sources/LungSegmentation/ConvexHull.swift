/// The convex hull of a 2D mask and the "bays" between the mask and its hull.
enum ConvexHull {
    /// Pixels (row-major, width × height) inside the convex hull of the foreground's pixel
    /// centres, by Andrew's monotone chain and a half-plane test per pixel.
    /// With `tolerance` (pixels), points up to that distance outside an edge count as inside.
    static func fill(_ plane: Plane, tolerance: Double = 0) -> Plane {
        let w = plane.width
        let h = plane.height
        // Boundary pixels are enough to define the hull.
        var points: [(Int, Int)] = []
        for y in 0..<h {
            for x in 0..<w where plane.pixels[y * w + x] != 0 {
                let interior =
                    x > 0 && x < w - 1 && y > 0 && y < h - 1 && plane.pixels[y * w + x - 1] != 0
                    && plane.pixels[y * w + x + 1] != 0 && plane.pixels[(y - 1) * w + x] != 0
                    && plane.pixels[(y + 1) * w + x] != 0
                if !interior { points.append((x, y)) }
            }
        }
        var result = Plane(width: w, height: h)
        guard points.count >= 3 else {
            result.pixels = plane.pixels
            return result
        }
        let hull = monotoneChain(points)
        guard hull.count >= 3 else {
            result.pixels = plane.pixels
            return result
        }
        // Counter-clockwise hull: a point is inside when it is left of (or on) every edge.
        let edges = hull.indices.map { (hull[$0], hull[($0 + 1) % hull.count]) }
        // cross / |edge| is the signed distance to the edge's line.
        let slack = edges.map { (a, b) -> Int in
            let length = Double((b.0 - a.0) * (b.0 - a.0) + (b.1 - a.1) * (b.1 - a.1)).squareRoot()
            return Int((tolerance * length).rounded(.down))
        }
        var minY = h
        var maxY = -1
        for p in hull {
            minY = min(minY, p.1)
            maxY = max(maxY, p.1)
        }
        let reach = Int(tolerance.rounded(.up))
        for y in max(0, minY - reach)...min(h - 1, maxY + reach) {
            guard let span = insideSpan(row: y, edges: edges, slack: slack, width: w) else { continue }
            for x in span { result.pixels[y * w + x] = 1 }
        }
        return result
    }

    /// The pixels of row `y` inside every edge's half-plane (within its slack), as one run:
    /// the intersection of half-planes is convex, so each edge bounds x from one side. Edge
    /// a→b keeps x where (b.x − a.x)(y − a.y) − (b.y − a.y)(x − a.x) ≥ −slack, that is
    /// (b.y − a.y)(x − a.x) ≤ (b.x − a.x)(y − a.y) + slack; solved in integers with floor and
    /// ceiling division, so a row gets exactly the pixels a test of each pixel would give.
    static func insideSpan(row y: Int, edges: [((Int, Int), (Int, Int))], slack: [Int], width: Int)
        -> ClosedRange<Int>?
    {
        var low = 0
        var high = width - 1
        for (e, (a, b)) in edges.enumerated() {
            let dy = b.1 - a.1
            let bound = (b.0 - a.0) * (y - a.1) + slack[e]
            if dy > 0 {
                high = min(high, a.0 + floorDivision(bound, dy))
            } else if dy < 0 {
                low = max(low, a.0 - floorDivision(bound, -dy))
            } else if bound < 0 {
                return nil
            }
            if low > high { return nil }
        }
        return low...high
    }

    /// ⌊n / d⌋ for d > 0 (Swift's `/` truncates towards zero).
    @inline(__always)
    static func floorDivision(_ n: Int, _ d: Int) -> Int {
        let q = n / d
        return n % d != 0 && n < 0 ? q - 1 : q
    }

    /// Andrew's monotone chain: the hull vertices, counter-clockwise (y down, so "counter-
    /// clockwise" is in the image's own handedness), without collinear points.
    static func monotoneChain(_ input: [(Int, Int)]) -> [(Int, Int)] {
        let points = input.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        func cross(_ o: (Int, Int), _ a: (Int, Int), _ b: (Int, Int)) -> Int {
            (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
        }
        var lower: [(Int, Int)] = []
        for p in points {
            while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], p) <= 0 {
                lower.removeLast()
            }
            lower.append(p)
        }
        var upper: [(Int, Int)] = []
        for p in points.reversed() {
            while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], p) <= 0 {
                upper.removeLast()
            }
            upper.append(p)
        }
        return Array(lower.dropLast() + upper.dropLast())
    }
}
