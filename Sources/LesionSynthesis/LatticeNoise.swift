import Foundation
import SeededRandom
import VolumeCore

/// Value noise: random values at the points of a cubic lattice in patient space (a hash of the
/// point, so nothing is stored), interpolated with smoothstep weights. It makes isotropic blobs
/// about one lattice step across; a sum of a few plane waves at one scale looks striped.
struct LatticeNoise: Sendable {
    /// The standard deviation of the raw noise: corner values uniform in [−1, 1] have variance
    /// 1/3; smoothstep interpolation keeps E[(1 − s)² + s²] = 26/35 of it per axis, so
    /// √((26/35)³ / 3) ≈ 0.3698.
    static let rawSD = ((26.0 / 35) * (26.0 / 35) * (26.0 / 35) / 3).squareRoot()

    var latticeMM: Double
    var seed: UInt64
    /// 1, or less where voxels average the blobs away (`averaged`).
    var amplitude = 1.0

    init(latticeMM: ClosedRange<Double>, rng: inout SplitMix64) {
        self.latticeMM = rng.uniform(in: latticeMM)
        seed = rng.next()
    }

    /// About unit variance.
    func value(at point: Vector3) -> Double {
        let p = Vector3(point.x / latticeMM, point.y / latticeMM, point.z / latticeMM)
        let base = (p.x.rounded(.down), p.y.rounded(.down), p.z.rounded(.down))
        let (a, b, c) = (Int(base.0), Int(base.1), Int(base.2))
        let t = (smooth(p.x - base.0), smooth(p.y - base.1), smooth(p.z - base.2))
        var sum = 0.0
        for corner in 0..<8 {
            let (dx, dy, dz) = (corner & 1, (corner >> 1) & 1, (corner >> 2) & 1)
            var hash = SplitMix64(seed: latticeHash(a + dx, b + dy, c + dz, seed: seed))
            let weight =
                (dx == 1 ? t.0 : 1 - t.0) * (dy == 1 ? t.1 : 1 - t.1) * (dz == 1 ? t.2 : 1 - t.2)
            sum += weight * (2 * hash.nextDouble() - 1)
        }
        return amplitude * sum / Self.rawSD
    }

    /// The noise as the voxels of `geometry` see it: blobs smaller than a voxel fade as partial
    /// volume makes them fade (each axis scaled by the box average of a wave half a lattice step
    /// long, a sinc).
    func averaged(over geometry: Geometry) -> LatticeNoise {
        var noise = self
        noise.amplitude = (0..<3).reduce(1.0) { product, axis in
            let x = Double.pi * geometry.spacing[axis] / (2 * latticeMM)
            return product * max(0, sin(x) / x)
        }
        return noise
    }
}

func smooth(_ t: Double) -> Double { t * t * (3 - 2 * t) }

/// A well-mixed 64-bit value for lattice point (a, b, c) and a seed: a seed for SplitMix64.
func latticeHash(_ a: Int, _ b: Int, _ c: Int, seed: UInt64) -> UInt64 {
    var state = seed
    state ^= UInt64(bitPattern: Int64(a)) &* 0x9E37_79B9_7F4A_7C15
    state ^= UInt64(bitPattern: Int64(b)) &* 0xC2B2_AE3D_27D4_EB4F
    state ^= UInt64(bitPattern: Int64(c)) &* 0x1656_67B1_9E37_79F9
    return state
}
