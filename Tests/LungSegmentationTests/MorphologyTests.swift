import SeededRandom
import Testing

@testable import LungSegmentation

/// The hull fill before row spans: every pixel of the hull's rows (extended by the tolerance)
/// tested against every edge.
private func hullByPixelTest(_ plane: Plane, tolerance: Double) -> Plane {
    let (w, h) = (plane.width, plane.height)
    var points: [(Int, Int)] = []
    for y in 0..<h {
        for x in 0..<w where plane.pixels[y * w + x] != 0 { points.append((x, y)) }
    }
    let hull = ConvexHull.monotoneChain(points)
    guard hull.count >= 3 else { return plane }
    let edges = hull.indices.map { (hull[$0], hull[($0 + 1) % hull.count]) }
    var result = Plane(width: w, height: h)
    let reach = Int(tolerance.rounded(.up))
    let rows = hull.map(\.1)
    for y in max(0, rows.min()! - reach)...min(h - 1, rows.max()! + reach) {
        for x in 0..<w {
            let inside = edges.allSatisfy { a, b in
                let length = Double((b.0 - a.0) * (b.0 - a.0) + (b.1 - a.1) * (b.1 - a.1)).squareRoot()
                let slack = Int((tolerance * length).rounded(.down))
                return (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0) >= -slack
            }
            if inside { result.pixels[y * w + x] = 1 }
        }
    }
    return result
}

/// A few random blobs (discs of random centres and radii) in a w×h plane.
private func blobs(width w: Int, height h: Int, random: inout SplitMix64) -> Plane {
    var plane = Plane(width: w, height: h)
    for _ in 0..<Int.random(in: 1...4, using: &random) {
        let (cx, cy) = (Int.random(in: 0..<w, using: &random), Int.random(in: 0..<h, using: &random))
        let r = Int.random(in: 0...max(1, min(w, h) / 3), using: &random)
        for y in 0..<h {
            for x in 0..<w where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r { plane.pixels[y * w + x] = 1 }
        }
    }
    return plane
}

@Test(arguments: [0.0, 2.0])
func hullRowSpansFillExactlyThePixelsTheHalfPlaneTestsAccept(tolerance: Double) {
    var random = SplitMix64(seed: 7)
    for _ in 0..<300 {
        let plane = blobs(
            width: Int.random(in: 3...40, using: &random), height: Int.random(in: 3...40, using: &random),
            random: &random)
        #expect(
            ConvexHull.fill(plane, tolerance: tolerance).pixels == hullByPixelTest(plane, tolerance: tolerance).pixels)
    }
}

@Test func aTriangleIsFilledAndNothingOutsideIt() {
    // Right triangle with vertices (0,0), (8,0), (0,8) in a 10×10 plane: x + y ≤ 8 inside.
    var plane = Plane(width: 10, height: 10)
    for (x, y) in [(0, 0), (8, 0), (0, 8)] { plane.pixels[y * 10 + x] = 1 }
    let filled = ConvexHull.fill(plane)
    for y in 0..<10 {
        for x in 0..<10 { #expect((filled.pixels[y * 10 + x] != 0) == (x + y <= 8), "pixel (\(x), \(y))") }
    }
}

/// The closing by a disk, by definition: dilation = some foreground pixel within the radius,
/// closing = no background pixel of the dilation within the radius (pixels outside the plane
/// are not background); on anisotropic pixels.
private func closingByDefinition(_ plane: Plane, radius: Double, spacingX: Double, spacingY: Double) -> Plane {
    let (w, h) = (plane.width, plane.height)
    func near(_ mask: [UInt8], _ value: UInt8, _ x: Int, _ y: Int) -> Bool {
        for v in 0..<h {
            for u in 0..<w where mask[v * w + u] == value {
                let (dx, dy) = (Double(u - x) * spacingX, Double(v - y) * spacingY)
                if dx * dx + dy * dy <= radius * radius { return true }
            }
        }
        return false
    }
    var dilated = [UInt8](repeating: 0, count: w * h)
    for y in 0..<h {
        for x in 0..<w where near(plane.pixels, 1, x, y) { dilated[y * w + x] = 1 }
    }
    var closed = Plane(width: w, height: h)
    for y in 0..<h {
        for x in 0..<w where !near(dilated, 0, x, y) { closed.pixels[y * w + x] = 1 }
    }
    return closed
}

@Test(arguments: [(3.0, 1.0, 1.0), (5.0, 0.7, 1.0), (2.5, 1.0, 0.6)])
func closingByADiskMatchesItsDefinition(radius: Double, spacingX: Double, spacingY: Double) {
    var random = SplitMix64(seed: 11)
    for _ in 0..<40 {
        let plane = blobs(
            width: Int.random(in: 4...24, using: &random), height: Int.random(in: 4...24, using: &random),
            random: &random)
        let closed = Morphology.close(plane, radius: radius, spacingX: spacingX, spacingY: spacingY)
        #expect(
            closed.pixels == closingByDefinition(plane, radius: radius, spacingX: spacingX, spacingY: spacingY).pixels)
    }
}

@Test func holesUpToTheAreaAreFilledAndLargerOnesAndTheOutsideAreNot() {
    // A 12×8 ring with a 1-pixel hole and a 3×2 hole; a gap in the border opens nothing.
    let rows = [
        "............",
        ".##########.",
        ".#.########.",
        ".#####...##.",
        ".#####...##.",
        ".##########.",
        "............",
        "............",
    ]
    var plane = Plane(width: 12, height: 8, pixels: rows.flatMap { $0.map { $0 == "#" ? 1 : 0 } })
    var small = plane
    Morphology.fillHoles(&small, maximumArea: 1)
    #expect(small.pixels[2 * 12 + 2] == 1)
    #expect(small.pixels[3 * 12 + 6] == 0)
    #expect(small.pixels[0] == 0)
    Morphology.fillHoles(&plane)
    #expect(plane.pixels[3 * 12 + 6] == 1 && plane.pixels[4 * 12 + 8] == 1)
    #expect(plane.pixels.filter { $0 != 0 }.count == 10 * 5)
}

@Test func theLargestComponentIsKept() {
    let rows = ["#...#", "#...#", "....#", "#...#"]
    var plane = Plane(width: 5, height: 4, pixels: rows.flatMap { $0.map { $0 == "#" ? 1 : 0 } })
    #expect(Morphology.largestComponent(&plane) == 4)
    #expect(plane.pixels == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])
}

/// 6-connected components by a plain breadth-first search: (size, lowest z, highest z), largest first.
private func componentsByBFS(_ mask: [UInt8], size: (Int, Int, Int)) -> [[Int]] {
    let (nx, ny, nz) = size
    var seen = [Bool](repeating: false, count: mask.count)
    var result: [[Int]] = []
    for start in mask.indices where mask[start] != 0 && !seen[start] {
        var queue = [start]
        seen[start] = true
        var head = 0
        while head < queue.count {
            let i = queue[head]
            head += 1
            let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny))
            for (dx, dy, dz) in [(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)] {
                let (u, v, w) = (x + dx, y + dy, z + dz)
                guard (0..<nx).contains(u), (0..<ny).contains(v), (0..<nz).contains(w) else { continue }
                let j = (w * ny + v) * nx + u
                if mask[j] != 0 && !seen[j] {
                    seen[j] = true
                    queue.append(j)
                }
            }
        }
        let slices = queue.map { $0 / (nx * ny) }
        result.append([queue.count, slices.min() ?? 0, slices.max() ?? 0])
    }
    return result.sorted { $0[0] > $1[0] }
}

@Test func scanlineComponentsMatchABreadthFirstSearch() {
    var random = SplitMix64(seed: 5)
    for _ in 0..<60 {
        let size = (
            Int.random(in: 1...12, using: &random), Int.random(in: 1...9, using: &random),
            Int.random(in: 1...7, using: &random)
        )
        let density = Double.random(in: 0.2...0.7, using: &random)
        var mask = (0..<(size.0 * size.1 * size.2)).map { _ in
            UInt8(Double.random(in: 0..<1, using: &random) < density ? 1 : 0)
        }
        let expected = componentsByBFS(mask, size: size)
        let found = Components3D.find(in: &mask, size: size, value: 1, visited: 2)
        #expect(found.map(\.size) == expected.map { $0[0] })
        // Equal sizes may come in either order: compare the multiset of (size, slices).
        #expect(
            found.map { "\($0.size) \($0.slices)" }.sorted() == expected.map { "\($0[0]) \($0[1])...\($0[2])" }.sorted()
        )
        #expect(!mask.contains(1))
    }
}
