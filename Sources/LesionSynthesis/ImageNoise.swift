import SeededRandom
import VolumeCore

/// What the normal lung of this image is like, measured once per call on the lung samples:
/// the parenchyma's median density and its noise, as the robust standard deviation of the
/// residual after subtracting the mean of the four in-plane neighbours (what is left is noise
/// and the finest texture; vessels and edges are outliers the median absolute deviation ignores).
struct Background: Sendable {
    /// Used when the lungs hold no parenchyma sample: aerated lung at full inspiration.
    static let fallbackParenchymaHU = -850.0
    /// Used likewise: the residual of the COVID-CT-MD scans (normal001 15 HU, P001 17 HU).
    static let fallbackResidualSD = 15.0
    /// Parenchyma for these measurements: below it is air or noise, above it vessels or disease.
    static let parenchymaBand: ClosedRange<Int16> = -1000 ... -500
    /// The median absolute deviation of a normal distribution times this is its standard deviation.
    static let madToSD = 1.4826

    var parenchymaHU: Double
    var residualSD: Double

    init(ct: Volume<Int16>, lungs: Volume<UInt8>, places: LungPlaces) {
        let (nx, ny) = (ct.size.x, ct.size.y)
        var densities: [Double] = []
        var residuals: [Double] = []
        ct.voxels.withUnsafeBufferPointer { hu in
            lungs.voxels.withUnsafeBufferPointer { labels in
                for place in places.places {
                    let index = place.index
                    let (i, j) = (index % nx, (index / nx) % ny)
                    guard i > 0, i < nx - 1, j > 0, j < ny - 1, Self.parenchymaBand.contains(hu[index]) else {
                        continue
                    }
                    guard labels[index - 1] != 0, labels[index + 1] != 0, labels[index - nx] != 0,
                        labels[index + nx] != 0
                    else { continue }
                    let sum = Int(hu[index - 1]) + Int(hu[index + 1]) + Int(hu[index - nx]) + Int(hu[index + nx])
                    let mean = Double(sum) / 4
                    densities.append(Double(hu[index]))
                    residuals.append(Double(hu[index]) - mean)
                }
            }
        }
        guard !densities.isEmpty else {
            (parenchymaHU, residualSD) = (Self.fallbackParenchymaHU, Self.fallbackResidualSD)
            return
        }
        parenchymaHU = median(densities)
        let center = median(residuals)
        residualSD = Self.madToSD * median(residuals.map { abs($0 - center) })
    }
}

/// The median (the upper one of an even count); the array must not be empty.
func median(_ values: [Double]) -> Double {
    precondition(!values.isEmpty, "the median of nothing")
    var sorted = values
    sorted.sort()
    return sorted[sorted.count / 2]
}

/// Gaussian noise correlated between neighbouring pixels as CT noise is (the reconstruction
/// kernel blurs it): white noise filtered with [c, 1, c] along the two in-plane voxel axes.
/// With c = 1/4 the ratio of the noise's standard deviation to its neighbour residual is 1.45,
/// as measured in homogeneous soft tissue of the COVID-CT-MD scans (1.3–1.5; white noise would
/// give 0.89, [1, 2, 1] 2.35).
enum CorrelatedNoise {
    static let sideTap = 0.25

    /// The residual's standard deviation for unit white noise through the filter: the norm of
    /// (identity − mean of four neighbours) convolved with the 3×3 filter.
    static let residualGain: Double = {
        let taps = [sideTap, 1, sideTap].map { $0 / (1 + 2 * sideTap) }
        var filter = [[Double]](repeating: [Double](repeating: 0, count: 5), count: 5)
        for y in 0..<3 {
            for x in 0..<3 {
                let tap = taps[x] * taps[y]
                filter[y + 1][x + 1] += tap
                for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1)] { filter[y + 1 + dy][x + 1 + dx] -= tap / 4 }
            }
        }
        return filter.joined().reduce(0) { $0 + $1 * $1 }.squareRoot()
    }()

    /// Noise on a box of `size` voxels (x fastest), scaled so its neighbour residual has
    /// standard deviation `residualSD`.
    static func field(size: Size3, residualSD: Double, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let count = size.count
        var white = [Float](repeating: 0, count: count)
        for index in 0..<count { white[index] = rng.normal() }
        let taps = [sideTap, 1, sideTap].map { Float($0 / (1 + 2 * sideTap)) }
        let scale = Float(residualSD / residualGain)
        var along = [Float](repeating: 0, count: count)
        var result = [Float](repeating: 0, count: count)
        // Along x, then along y; a missing neighbour at the box's edge counts as the centre.
        for index in 0..<count {
            let i = index % size.x
            let west = i > 0 ? white[index - 1] : white[index]
            let east = i < size.x - 1 ? white[index + 1] : white[index]
            along[index] = taps[0] * west + taps[1] * white[index] + taps[2] * east
        }
        for index in 0..<count {
            let j = (index / size.x) % size.y
            let north = j > 0 ? along[index - size.x] : along[index]
            let south = j < size.y - 1 ? along[index + size.x] : along[index]
            result[index] = scale * (taps[0] * north + taps[1] * along[index] + taps[2] * south)
        }
        return result
    }
}
