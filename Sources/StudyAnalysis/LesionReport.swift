import AppSupport
import Foundation
import ModelRuntime
import ModelStore

/// report.json's `lesions`: what the HU lesion network found in a CT, the lung panel's lesion
/// part, the CT severity score and the COVID-19 pattern score with the features it used.
public struct LesionReport: Codable, Sendable {
    public struct Model: Codable, Sendable {
        public var name: String
        public var sha256: String
        /// The grid the CT was resampled to for the network.
        public var grid: LesionGridSpec
        public var classes: [String]
    }
    public struct Severity: Codable, Sendable {
        /// 0–30: the six zones' points.
        public var total: Int
        public var maximum: Int
        public var zones: [SeverityZone]
        public var method: String
    }
    /// An axial slice's lesion, for the slices with the most.
    public struct Slice: Codable, Sendable {
        /// Index on the input grid along the axis closest to the patient's S axis, 0-based.
        public var z: Int
        /// Position along the patient's S axis, mm.
        public var positionMM: Double
        public var lesionML: Double
        /// The highest lesion probability inside the lungs on the slice.
        public var maxProbability: Double
    }

    public var model: Model
    /// The meaning of the lesion mask's values (lesion_mask.nii.gz, /segmentation/lesions).
    public var maskLabels: [String: String]
    /// Lesion volume, percentages of opacity and high opacity, distribution, per lung and both.
    public var panel: LesionPanel
    public var severity: Severity
    public var score: CovidPatternScore
    /// The axial slices with the most lesion (at most `Analyzer.reportedTopSlices`).
    public var topSlices: [Slice]
    /// How the distribution features are defined.
    public var definitions: [String: String]
    public var notes: [String]

    /// Slice lesion volumes are reported to a microlitre.
    static let millilitrePlaces = 3
}

/// The study's COVID-19 pattern score: a documented rule on the lesion features, not a
/// probability. Typical COVID-19 pneumonia on CT is bilateral, peripheral ground glass (the
/// RSNA expert consensus, Simpson et al., Radiology: Cardiothoracic Imaging 2020), mostly in the
/// lower lobes (Shi et al., Lancet Infectious Diseases 2020); the rule multiplies how much lung
/// is opacified by how typical the distribution is. Its constants were chosen beforehand, not
/// fitted: there are no labelled COVID-19 CT volumes to calibrate it on, so its value ranks
/// studies and is not a chance.
public struct CovidPatternScore: Codable, Sendable {
    public var value: Double
    /// Always false: no labelled volumes to calibrate on.
    public var calibrated: Bool
    public var rule: String
    /// The features the rule used, and its two terms.
    public var features: [String: Double]

    /// Percentage of opacity at which the extent term reaches 1 − 1/e (63 %): the first step of
    /// the severity scale (a lobe under 5 % involved scores 1; Pan et al., Radiology 2020), so
    /// that a few percent of opacified lung already counts and 15 % gives 95 %.
    public static let extentScalePercent = 5.0
    /// Typicality = base + bilateral·w + peripheral fraction·w + lower-zone fraction·w, 0.4 to 1:
    /// a unilateral, central, upper lesion keeps 40 % of its extent term; bilaterality weighs
    /// most, the periphery and the bases equally.
    public static let typicalityBase = 0.4
    public static let bilateralWeight = 0.3
    public static let peripheralWeight = 0.15
    public static let lowerZoneWeight = 0.15

    public static let rule =
        "extent × typicality, 0 to 1; extent = 1 − exp(−opacityPercent / \(extentScalePercent)); typicality = "
        + "\(typicalityBase) + \(bilateralWeight)·bilateral + \(peripheralWeight)·peripheralFraction + "
        + "\(lowerZoneWeight)·lowerZoneFraction (both lungs); an uncalibrated score, not a probability: no labelled "
        + "COVID-19 CT volumes were available to calibrate it on"

    /// The score of a lesion panel.
    public init(_ panel: LesionPanel) {
        let total = panel.total
        let opacity = total.opacityPercent
        let bilateral = panel.bilateral ? 1.0 : 0
        let peripheral = total.peripheralFraction ?? 0
        let lower = total.zoneFractions?.lower ?? 0
        let extent = 1 - exp(-opacity / Self.extentScalePercent)
        let typicality =
            Self.typicalityBase + Self.bilateralWeight * bilateral + Self.peripheralWeight * peripheral
            + Self.lowerZoneWeight * lower
        value = extent * typicality
        calibrated = false
        rule = Self.rule
        features = [
            "opacityPercent": opacity, "bilateral": bilateral, "peripheralFraction": peripheral,
            "lowerZoneFraction": lower, "extent": extent, "typicality": typicality,
        ]
    }
}
