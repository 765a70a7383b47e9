import VolumeCore

/// The attenuation bands of the 3D Slicer Lung CT Analyzer (Rudolph Bittner et al., the
/// "LungCTAnalyzer" extension of 3D Slicer), in HU, lower bound inclusive, upper exclusive.
public enum AttenuationBand: String, CaseIterable, Codable, Sendable {
    /// Below −950 HU: emphysema (the −950 HU threshold is the standard emphysema index, RA-950).
    case emphysema
    /// −950 to −750 HU: normally inflated lung.
    case inflated
    /// −750 to −400 HU: infiltrated (ground glass).
    case infiltrated
    /// −400 to 0 HU: collapsed (consolidation, atelectasis).
    case collapsed
    /// Above 0 HU: vessels.
    case vessels

    /// Where emphysema ends and inflated lung begins, HU: the Lung CT Analyzer's limit, which
    /// is also the standard emphysema index threshold (RA-950).
    public static let inflatedFromHU = -950
    /// Where inflated lung ends and infiltrated (ground-glass) lung begins, HU (Lung CT Analyzer).
    public static let infiltratedFromHU = -750
    /// Where infiltrated lung ends and collapsed lung begins, HU (Lung CT Analyzer).
    public static let collapsedFromHU = -400
    /// Where collapsed lung ends and vessels begin, HU (Lung CT Analyzer): water's density.
    public static let vesselsFromHU = 0

    public var range: (lower: Double, upper: Double) {
        switch self {
        case .emphysema: (-Double.infinity, Double(Self.inflatedFromHU))
        case .inflated: (Double(Self.inflatedFromHU), Double(Self.infiltratedFromHU))
        case .infiltrated: (Double(Self.infiltratedFromHU), Double(Self.collapsedFromHU))
        case .collapsed: (Double(Self.collapsedFromHU), Double(Self.vesselsFromHU))
        case .vessels: (Double(Self.vesselsFromHU), Double.infinity)
        }
    }

    static func of(_ hu: Int) -> AttenuationBand {
        if hu < inflatedFromHU { return .emphysema }
        if hu < infiltratedFromHU { return .inflated }
        if hu < collapsedFromHU { return .infiltrated }
        if hu < vesselsFromHU { return .collapsed }
        return .vessels
    }
}

/// A HU histogram with fixed bins.
public struct HUHistogram: Codable, Sendable, Equatable {
    /// Lower edge of the first bin; values below it are counted in the first bin.
    public var firstBinHU: Int
    public var binWidthHU: Int
    /// Values at or above the last bin's lower edge are counted in the last bin.
    public var counts: [Int]

    /// −1024 to +200 HU in 8 HU bins (153 bins): lung density lives below +200, and 8 HU is
    /// finer than CT noise in lung.
    public static let lungRange = (first: -1024, width: 8, count: 153)
}

/// The lung panel of one lung or both.
public struct LungMeasures: Codable, Sendable {
    public var voxels: Int
    public var volumeML: Double
    /// Mean lung density, HU.
    public var meanHU: Double
    /// The 15th percentile of the HU distribution ("Perc15", a standard CT emphysema measure).
    public var percentile15HU: Double
    /// Fraction of the lung's voxels in each attenuation band, keyed by band name.
    public var bandFractions: [String: Double]
    /// Volume (mL) in each band.
    public var bandVolumesML: [String: Double]
    public var histogram: HUHistogram
}

/// The lung panel: per lung and total.
public struct LungPanel: Codable, Sendable {
    public var right: LungMeasures
    public var left: LungMeasures
    public var total: LungMeasures

    /// Measures the lungs labelled in `labels` (1 right, 2 left) on `hu` (same grid).
    public static func measure(hu: Volume<Int16>, labels: Volume<UInt8>) -> LungPanel {
        precondition(hu.geometry.size == labels.geometry.size, "labels must be on the CT's grid")
        let spec = HUHistogram.lungRange
        // Exact counts over the full int16 range, from which percentiles are read exactly.
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 65536), count: 3)
        var sums = [0, 0, 0]
        hu.voxels.withUnsafeBufferPointer { v in
            labels.voxels.withUnsafeBufferPointer { l in
                for index in 0..<v.count {
                    let label = Int(l[index])
                    guard label == 1 || label == 2 else { continue }
                    let value = Int(v[index])
                    counts[label][value + 32768] += 1
                    sums[label] += value
                }
            }
        }
        for bin in 0..<65536 { counts[0][bin] = counts[1][bin] + counts[2][bin] }
        sums[0] = sums[1] + sums[2]
        let voxelML = hu.geometry.voxelVolume / 1000

        func measures(_ which: Int) -> LungMeasures {
            let exact = counts[which]
            let total = exact.reduce(0, +)
            var bandCounts: [AttenuationBand: Int] = [:]
            var histogram = [Int](repeating: 0, count: spec.count)
            var percentile15 = Double.nan
            var cumulative = 0
            let target = Int((0.15 * Double(total)).rounded(.up))
            for bin in 0..<65536 where exact[bin] > 0 {
                let value = bin - 32768
                bandCounts[AttenuationBand.of(value), default: 0] += exact[bin]
                let h = min(spec.count - 1, max(0, (value - spec.first) / spec.width))
                histogram[h] += exact[bin]
                if percentile15.isNaN, cumulative + exact[bin] >= max(1, target) { percentile15 = Double(value) }
                cumulative += exact[bin]
            }
            var fractions: [String: Double] = [:]
            var volumes: [String: Double] = [:]
            for band in AttenuationBand.allCases {
                let count = bandCounts[band] ?? 0
                fractions[band.rawValue] = total > 0 ? Double(count) / Double(total) : 0
                volumes[band.rawValue] = Double(count) * voxelML
            }
            return LungMeasures(
                voxels: total, volumeML: Double(total) * voxelML,
                meanHU: total > 0 ? Double(sums[which]) / Double(total) : .nan,
                percentile15HU: percentile15, bandFractions: fractions, bandVolumesML: volumes,
                histogram: HUHistogram(firstBinHU: spec.first, binWidthHU: spec.width, counts: histogram))
        }
        return LungPanel(right: measures(1), left: measures(2), total: measures(0))
    }
}
