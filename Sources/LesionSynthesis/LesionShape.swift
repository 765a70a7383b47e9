import Foundation
import SeededRandom
import VolumeCore

/// A smooth random field in patient space: a sum of plane waves with random directions,
/// wavelengths and phases, scaled to unit variance; evaluated at any point in mm, so it is the
/// same on any voxel grid. It moves lesion margins (seen as outlines, a few waves look random
/// enough; as a texture they would look striped, see `LatticeNoise`).
struct SmoothField: Sendable {
    static let waveCount = 8

    struct Wave: Sendable {
        var vector: Vector3
        var phase: Double
    }

    var waves: [Wave]

    init(wavelengthMM: ClosedRange<Double>, rng: inout SplitMix64) {
        waves = (0..<Self.waveCount).map { _ in
            let direction = randomDirection(&rng)
            let wavelength = rng.uniform(in: wavelengthMM)
            return Wave(vector: (2 * .pi / wavelength) * direction, phase: rng.uniform(in: 0...(2 * .pi)))
        }
    }

    /// About N(0, 1) at a random point; mostly within ±2.5.
    func value(at point: Vector3) -> Double {
        var sum = 0.0
        for wave in waves { sum += cos(wave.vector.dot(point) + wave.phase) }
        return sum * (2 / Double(waves.count)).squareRoot()
    }
}

/// A uniformly random unit vector.
func randomDirection(_ rng: inout SplitMix64) -> Vector3 {
    while true {
        let v = Vector3(rng.nextGaussian(), rng.nextGaussian(), rng.nextGaussian())
        if v.length > 1e-6 { return v.normalized }
    }
}

/// An ellipsoid at any orientation.
struct Lobe: Sendable {
    var center: Vector3
    /// Rows are the ellipsoid's axes: `toLocal * (p − center)` gives its own coordinates.
    var toLocal: Matrix3
    var radii: Vector3

    init(center: Vector3, radii: Vector3, rng: inout SplitMix64) {
        let first = randomDirection(&rng)
        var second = randomDirection(&rng)
        second = (second - second.dot(first) * first).normalized
        if second.length < 0.5 { second = first.cross(Vector3(0.6, 0.8, 0)).normalized }
        let third = first.cross(second)
        self.center = center
        self.toLocal = Matrix3(columns: first, second, third).transposed
        self.radii = radii
    }

    /// Approximately the signed distance to the surface, mm (negative inside): the distance
    /// along the ray from the centre, exact on the surface and for spheres.
    func signedDistance(_ point: Vector3) -> Double {
        let local = toLocal * (point - center)
        let scaled = Vector3(local.x / radii.x, local.y / radii.y, local.z / radii.z).length
        guard scaled > 1e-9 else { return -min(radii.x, radii.y, radii.z) }
        return local.length * (1 - 1 / scaled)
    }
}

/// A lesion's outline: a few overlapping ellipsoids (round to lobulated), their surface moved
/// in and out by a smooth random field (irregular margins).
struct LesionShape: Sendable {
    /// Further lobes beside the main one (0 to this many): round to lobulated to patchy.
    static let maximumExtraLobes = 3
    /// Main lobe radii as fractions of the drawn radius: flattened along its third axis (which a
    /// subpleural lesion turns towards the chest wall, so it spreads along the pleura).
    static let mainAxes: [ClosedRange<Double>] = [0.8...1.3, 0.7...1.2, 0.4...0.8]
    /// Extra lobes: centred this far from the main one and this large, in drawn radii.
    static let extraOffset = 0.4...0.9
    static let extraAxes = 0.4...0.8
    /// The margin's random displacement (one standard deviation), in drawn radii.
    static let roughness = 0.05...0.2
    /// The displacement's wavelengths, in drawn radii (at least `shortestMarginWaveMM`).
    static let marginWavelength = 0.6...1.5
    static let shortestMarginWaveMM = 3.0
    /// How far the displacement can reach, in standard deviations: a sum of n unit cosines
    /// scaled by √(2/n) never exceeds √(2n).
    static let roughnessReach = (2 * Double(SmoothField.waveCount)).squareRoot()

    var center: Vector3
    var lobes: [Lobe]
    var margin: SmoothField
    var roughnessMM: Double

    init(center: Vector3, diameterMM: Double, rng: inout SplitMix64) {
        let radius = diameterMM / 2
        let main = Vector3(
            radius * rng.uniform(in: Self.mainAxes[0]), radius * rng.uniform(in: Self.mainAxes[1]),
            radius * rng.uniform(in: Self.mainAxes[2]))
        var lobes = [Lobe(center: center, radii: main, rng: &rng)]
        let extra = Int(rng.nextDouble() * Double(Self.maximumExtraLobes + 1))
        for _ in 0..<extra {
            let offset = (radius * rng.uniform(in: Self.extraOffset)) * randomDirection(&rng)
            let radii = Vector3(
                radius * rng.uniform(in: Self.extraAxes), radius * rng.uniform(in: Self.extraAxes),
                radius * rng.uniform(in: Self.extraAxes))
            lobes.append(Lobe(center: center + offset, radii: radii, rng: &rng))
        }
        self.center = center
        self.lobes = lobes
        roughnessMM = radius * rng.uniform(in: Self.roughness)
        let shortest = max(Self.shortestMarginWaveMM, Self.marginWavelength.lowerBound * radius)
        margin = SmoothField(
            wavelengthMM: shortest...max(shortest, Self.marginWavelength.upperBound * radius), rng: &rng)
    }

    /// Signed distance to the outline, mm (negative inside). Where it must exceed `cutoff`,
    /// a cheaper value above `cutoff` is returned (the margin's field is not evaluated).
    func signedDistance(_ point: Vector3, cutoff: Double = .infinity) -> Double {
        var nearest = Double.infinity
        for lobe in lobes { nearest = min(nearest, lobe.signedDistance(point)) }
        if nearest - Self.roughnessReach * roughnessMM > cutoff { return nearest }
        return nearest + roughnessMM * margin.value(at: point - center)
    }

    /// The same shape turned about its centre so that the main lobe's flat axis points along
    /// `direction` (a unit vector).
    func turned(flatAxisAlong direction: Vector3) -> LesionShape {
        let main = lobes[0].toLocal.transposed
        let rotation = Rotation(from: main[2], to: direction)
        var shape = self
        for index in shape.lobes.indices {
            let lobe = shape.lobes[index]
            let axes = lobe.toLocal.transposed
            shape.lobes[index].center = center + rotation.apply(lobe.center - center)
            shape.lobes[index].toLocal =
                Matrix3(
                    columns: rotation.apply(axes[0]), rotation.apply(axes[1]), rotation.apply(axes[2])
                ).transposed
        }
        return shape
    }

    /// The box (LPS mm) outside which `signedDistance` exceeds `margin`: each lobe's bounding box
    /// grown by the margin and the margin field's reach. (The lobes' distance along the ray is
    /// never less than the true distance, so the box holds every point it can accept.)
    func bounds(margin: Double) -> (low: Vector3, high: Vector3) {
        let grow = margin + Self.roughnessReach * roughnessMM
        var low = Vector3(.infinity, .infinity, .infinity)
        var high = -low
        for lobe in lobes {
            let axes = lobe.toLocal.transposed
            for axis in 0..<3 {
                var square = 0.0
                for (index, radius) in [lobe.radii.x, lobe.radii.y, lobe.radii.z].enumerated() {
                    let projected = radius * axes[index][axis]
                    square += projected * projected
                }
                let half = square.squareRoot() + grow
                low[axis] = min(low[axis], lobe.center[axis] - half)
                high[axis] = max(high[axis], lobe.center[axis] + half)
            }
        }
        return (low, high)
    }
}

/// The rotation that takes one unit vector to another (Rodrigues' formula).
struct Rotation {
    var axis: Vector3
    var cosine: Double
    var from: Vector3

    init(from a: Vector3, to b: Vector3) {
        from = a
        axis = a.cross(b)
        cosine = a.dot(b)
    }

    func apply(_ x: Vector3) -> Vector3 {
        if cosine < -1 + 1e-9 {
            // Opposite vectors: half a turn about any axis perpendicular to `from`.
            let helper = abs(from.x) < 0.9 ? Vector3(1, 0, 0) : Vector3(0, 1, 0)
            let k = from.cross(helper).normalized
            return 2 * k.dot(x) * k - x
        }
        return cosine * x + axis.cross(x) + (axis.dot(x) / (1 + cosine)) * axis
    }
}

/// Crazy paving's thin bright lines (thickened interlobular septa and intralobular lines): the
/// faces of a random 3D Voronoi tessellation, which an axial slice cuts into polygons. Seeds
/// are one per cubic cell, jittered by a hash of the cell, so no state is stored.
struct Septa: Sendable {
    /// Polygon size, mm: secondary pulmonary lobules are 1–2.5 cm across; crazy paving's
    /// polygons are that size or smaller (intralobular lines).
    static let cellMM = 5.0...10.0
    /// Half the line thickness, mm (thickened septa are about 1–1.5 mm).
    static let halfWidthMM = 0.4...0.7

    var cellMM: Double
    var halfWidthMM: Double
    var seed: UInt64

    init(rng: inout SplitMix64) {
        cellMM = rng.uniform(in: Self.cellMM)
        halfWidthMM = rng.uniform(in: Self.halfWidthMM)
        seed = rng.next()
    }

    /// 1 on a line, falling off as a Gaussian of the distance to the nearest Voronoi face.
    func value(at point: Vector3) -> Double {
        let cell = Vector3(point.x / cellMM, point.y / cellMM, point.z / cellMM)
        let base = (Int(cell.x.rounded(.down)), Int(cell.y.rounded(.down)), Int(cell.z.rounded(.down)))
        var (first, second) = (Double.infinity, Double.infinity)
        var (nearest, next) = (Vector3.zero, Vector3.zero)
        for dz in -1...1 {
            for dy in -1...1 {
                for dx in -1...1 {
                    let site = self.site(base.0 + dx, base.1 + dy, base.2 + dz)
                    let offset = point - site
                    let d2 = offset.dot(offset)
                    if d2 < first {
                        (second, next) = (first, nearest)
                        (first, nearest) = (d2, site)
                    } else if d2 < second {
                        (second, next) = (d2, site)
                    }
                }
            }
        }
        // Distance to the bisecting plane of the two nearest sites.
        let separation = (next - nearest).length
        guard separation > 0 else { return 0 }
        let distance = (second - first) / (2 * separation)
        let t = distance / halfWidthMM
        return exp(-t * t)
    }

    /// The seed point of cell (a, b, c), mm.
    func site(_ a: Int, _ b: Int, _ c: Int) -> Vector3 {
        var hash = SplitMix64(seed: latticeHash(a, b, c, seed: seed))
        return Vector3(
            (Double(a) + hash.nextDouble()) * cellMM, (Double(b) + hash.nextDouble()) * cellMM,
            (Double(c) + hash.nextDouble()) * cellMM)
    }
}
