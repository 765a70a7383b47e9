import SeededRandom

/// The values of the truth volume `SyntheticLesions.insert` returns: the same as lungct's
/// `lesion_mask.nii.gz` (DESIGN.md, Outputs).
public enum LesionLabel {
    public static let none: UInt8 = 0
    public static let groundGlass: UInt8 = 1
    public static let consolidation: UInt8 = 2
}

/// What `SyntheticLesions.insert` draws: how many lesions, how large, how dense, and where.
/// Every range is sampled uniformly unless its comment says otherwise; every probability is
/// clamped to 0...1. Decoding fills a key that is absent with its default, so a training
/// configuration names only what it changes.
///
/// The defaults follow what chest CT of COVID-19 pneumonia shows: multifocal ground-glass
/// opacities, some with consolidation, fewer with crazy paving; bilateral, peripheral and
/// posterior, lower lobes most often. Figures behind them: ground glass in 87 %, peripheral
/// distribution in 82 %, posterior in 82 %, peribronchovascular (central) in 8 % of 552
/// patients (Sari, Iran; PMC7355135); lower lobes involved in 86–87 % of 63 patients (Haseli
/// et al., Arch Acad Emerg Med 2020); bilateral disease in 28 % of early and 88 % of late
/// scans (Bernheim et al., Radiology 2020). The place mix is deliberately less extreme than
/// those figures (central and unilateral lesions are common enough) so that a network trained
/// on it learns the pattern rather than the place.
public struct SyntheticLesionOptions: Sendable, Codable, Equatable {
    /// Lesions per call (multifocal). Overlapping lesions merge, as confluent ones do.
    public var lesionCount: ClosedRange<Int> = 1...6
    /// The diameter of a lesion's main lobe in mm, drawn log-uniformly (small nodular ground glass
    /// of 1 cm to patches of 6 cm; further lobes make a lesion up to about 1.6 times longer).
    public var diameterMM: ClosedRange<Double> = 10...60

    /// The share of lesions that are consolidation (the rest are ground glass).
    public var consolidationProbability = 0.3
    /// The share of consolidations with a ground-glass rim (the "halo" of mixed lesions).
    public var haloProbability = 0.7
    /// The share of ground-glass lesions with crazy paving (thin bright septal lines).
    public var crazyPavingProbability = 0.2

    /// The density a ground-glass lesion brings lung tissue to, HU (the range), drawn
    /// towards the faint end (the square of a uniform draw: median a quarter of the way up, as
    /// most ground glass is faint; P001's measures about −600 HU). Raised where needed to
    /// `minimumContrastHU` above the parenchyma around it.
    public var groundGlassHU: ClosedRange<Double> = -750 ... -300
    /// The density of consolidation, HU (unenhanced soft tissue to fluid with cells).
    public var consolidationHU: ClosedRange<Double> = -100...50
    /// How patchy ground glass is: the density it adds varies by this fraction (one standard
    /// deviation of a smooth random texture) around its mean, never below nothing.
    public var groundGlassPatchiness: ClosedRange<Double> = 0.15...0.35
    /// The amplitude of consolidation's smooth inner texture, HU (one standard deviation).
    public var consolidationTextureHU: ClosedRange<Double> = 10...25
    /// How much brighter than its ground glass a crazy-paving line is, HU.
    public var septaHU: ClosedRange<Double> = 80...180
    /// The width of a ground-glass lesion's soft border as a fraction of its radius (ill-defined
    /// margins that fade over a third of the lesion or so), at least 3 mm.
    public var groundGlassEdgeFraction: ClosedRange<Double> = 0.25...0.6
    /// The width of a consolidation's border in mm (sharper than ground glass).
    public var consolidationEdgeMM: ClosedRange<Double> = 2...5

    /// The share of lesions centred in the outer third of the lung (peripheral, subpleural);
    /// the rest are centred in the inner two thirds (central).
    public var peripheralProbability = 0.7
    /// The share of calls that put every lesion in one lung.
    public var unilateralProbability = 0.25
    /// How much more likely the lung base is than the apex: a place's weight grows linearly
    /// from 1 at the apex to 1 + `basalWeight` at the base (0: no preference).
    public var basalWeight = 2.0
    /// How much more likely the back is than the front, in the same way (0: no preference).
    public var posteriorWeight = 2.0

    /// Scales the noise added where a lesion replaces tissue: 1 matches the image's own noise
    /// (estimated in the lung parenchyma), 0 adds none.
    public var noiseScale = 1.0
    /// A ground-glass lesion is at least this much denser than the parenchyma around it, HU, so
    /// that every lesion is visible (dependent lung can be −700 HU already).
    public var minimumContrastHU = 150.0
    /// A voxel is in the truth when the lesion weighs at least one half there and its density
    /// change there (texture and the structures it surrounds aside) is at least this, HU.
    public var truthMinimumChangeHU = 100.0

    public init() {}
}

extension SyntheticLesionOptions {
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func read<Value: Decodable>(_ key: CodingKeys, into value: inout Value) throws {
            if let decoded = try container.decodeIfPresent(Value.self, forKey: key) { value = decoded }
        }
        try read(.lesionCount, into: &lesionCount)
        try read(.diameterMM, into: &diameterMM)
        try read(.consolidationProbability, into: &consolidationProbability)
        try read(.haloProbability, into: &haloProbability)
        try read(.crazyPavingProbability, into: &crazyPavingProbability)
        try read(.groundGlassHU, into: &groundGlassHU)
        try read(.consolidationHU, into: &consolidationHU)
        try read(.groundGlassPatchiness, into: &groundGlassPatchiness)
        try read(.consolidationTextureHU, into: &consolidationTextureHU)
        try read(.septaHU, into: &septaHU)
        try read(.groundGlassEdgeFraction, into: &groundGlassEdgeFraction)
        try read(.consolidationEdgeMM, into: &consolidationEdgeMM)
        try read(.peripheralProbability, into: &peripheralProbability)
        try read(.unilateralProbability, into: &unilateralProbability)
        try read(.basalWeight, into: &basalWeight)
        try read(.posteriorWeight, into: &posteriorWeight)
        try read(.noiseScale, into: &noiseScale)
        try read(.minimumContrastHU, into: &minimumContrastHU)
        try read(.truthMinimumChangeHU, into: &truthMinimumChangeHU)
    }
}

extension SplitMix64 {
    /// Uniform in `range`.
    mutating func uniform(in range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextDouble()
    }

    /// Whether an event of probability `p` (clamped to 0...1) happens; always one draw.
    mutating func chance(_ p: Double) -> Bool {
        nextDouble() < min(1, max(0, p))
    }
}
