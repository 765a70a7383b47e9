import Foundation

/// SplitMix64 (Steele, Lea & Flood, OOPSLA 2014; the seeding generator of xoshiro): a tiny,
/// fast generator whose output depends on the seed alone, on every platform and toolchain.
/// lungct uses it wherever a result must repeat for a seed: the phantom, network
/// initialisation, shuffling, dropout, augmentation and fold assignment.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [0, 1) as a Float, from the top 24 bits.
    public mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Standard normal, by the Box–Muller transform.
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextDouble(), 1e-300)
        let u2 = nextDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    /// Standard normal as a Float.
    public mutating func normal() -> Float { Float(nextGaussian()) }

    /// Fisher–Yates with this generator's own index draws: the standard library's
    /// `shuffle(using:)` does not promise the same permutation across toolchain versions.
    /// The modulo bias is below 2⁻⁴⁰ for any realistic count.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            array.swapAt(i, j)
        }
    }
}
