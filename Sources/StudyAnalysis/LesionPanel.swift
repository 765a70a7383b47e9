import AppSupport
import Dispatch
import VolumeCore

// The lung panel's lesion part: how much of each lung the lesion mask fills, how dense, where
// (periphery, upper/middle/lower zone, one lung or both) and a CT severity score. Lobes are not
// segmented, so the thirds of each lung's cranio-caudal extent stand in for them.

/// One lung's (or both lungs') lesion measures.
public struct LesionMeasures: Codable, Sendable, Equatable {
    /// Lesion volume: the lesion mask's voxels in this lung, mL.
    public var lesionML: Double
    /// The same per lesion class (the model's class names after background), mL.
    public var classML: [String: Double]
    /// Percentage of opacity: lesion volume / lung volume × 100.
    public var opacityPercent: Double
    /// Percentage of high opacity: lesion voxels above `LesionPanel.highOpacityHU` / lung
    /// volume × 100.
    public var highOpacityPercent: Double
    /// Share of the lesion volume in the periphery (`LesionPanel.peripheryDefinition`); nil
    /// without lesion.
    public var peripheralFraction: Double?
    /// Shares of the lesion volume in the upper, middle and lower zone; nil without lesion.
    public var zoneFractions: ZoneFractions?
    /// CT severity points: 0–5 per zone (`LesionPanel.severityPoints`), summed: 0–15 for one
    /// lung, 0–30 for both.
    public var severity: Int
}

/// Shares of a lesion volume by zone: the thirds of each lung's cranio-caudal extent.
public struct ZoneFractions: Codable, Sendable, Equatable {
    public var upper: Double
    public var middle: Double
    public var lower: Double
}

/// One zone's part of the severity score.
public struct SeverityZone: Codable, Sendable, Equatable {
    /// "right" or "left" (the patient's).
    public var lung: String
    /// "upper", "middle" or "lower".
    public var zone: String
    /// Lesion volume / the zone's lung volume × 100.
    public var involvedPercent: Double
    /// 0–5 (`LesionPanel.severityPoints`).
    public var points: Int
}

/// The lesion measures per lung and for both, and the severity score's zones.
public struct LesionPanel: Codable, Sendable, Equatable {
    public var right: LesionMeasures
    public var left: LesionMeasures
    public var total: LesionMeasures
    /// Both lungs hold at least `bilateralMinimumML` of lesion.
    public var bilateral: Bool
    /// The six zones of the severity score, right lung first, upper first.
    public var zones: [SeverityZone]

    /// Lesion voxels denser than this are high opacity (consolidation rather than ground glass):
    /// the −200 HU of issue 12, within the −300 HU upper end of ground glass and the
    /// −100..+50 HU of consolidation that lesion synthesis uses.
    public static let highOpacityHU = -200
    /// A lung counts towards "bilateral" from this lesion volume on: half a millilitre, some
    /// 150 voxels of 1.5 mm, so that a few stray voxels do not make a lesion bilateral.
    public static let bilateralMinimumML = 0.5
    /// The upper bounds of severity points 1 to 4 as fractions of a zone's volume (5 above the
    /// last): 0 none, 1 < 5 %, 2 5–25 %, 3 25–50 %, 4 50–75 %, 5 > 75 %, the per-lobe scale of
    /// Pan et al. (Radiology 2020), applied to zones.
    public static let severityBounds = [0.05, 0.25, 0.50, 0.75]
    public static let zoneNames = ["lower", "middle", "upper"]

    public static let peripheryDefinition =
        "share of the lesion volume in the outer third of the lung: per axial slice and lung, a lesion voxel is "
        + "peripheral when its in-plane distance to the nearest voxel outside that lung (8-neighbour chamfer distance in "
        + "mm; the other lung and the slice's edge count as outside) is at most a third of the largest such distance in "
        + "that lung on that slice"
    public static let zoneDefinition =
        "upper, middle and lower thirds of each lung's cranio-caudal extent (its first to its last axial slice with "
        + "lung); the severity score's six zones stand in for the five lobes, which lungct does not segment"
    public static let bilateralDefinition =
        "both lungs hold at least \(bilateralMinimumML) mL of lesion"

    /// The severity points of a zone with this fraction of its volume involved.
    public static func severityPoints(_ fraction: Double) -> Int {
        guard fraction > 0 else { return 0 }
        if fraction < severityBounds[0] { return 1 }
        return 2 + severityBounds.dropFirst().filter { fraction > $0 }.count
    }

    /// Measures `lesions` (nonzero: a lesion of class `value`, named `classes[value - 1]`) inside
    /// `lungs` (1 right, 2 left) on `hu`, all three on one LPS view (slices from inferior to
    /// superior, as `LPSView` gives them).
    public static func measure(hu: Volume<Int16>, lungs: Volume<UInt8>, lesions: Volume<UInt8>, classes: [String])
        -> LesionPanel
    {
        measureWithSlices(hu: hu, lungs: lungs, lesions: lesions, classes: classes).panel
    }

    /// `measure`, and each slice's counts (`SliceLesionCounts`).
    static func measureWithSlices(
        hu: Volume<Int16>, lungs: Volume<UInt8>, lesions: Volume<UInt8>, classes: [String]
    ) -> (panel: LesionPanel, slices: [SliceLesionCounts]) {
        precondition(hu.size == lungs.size && hu.size == lesions.size, "the lesions are not on the CT's grid")
        let slices = SliceLesionCounts.count(hu: hu, lungs: lungs, lesions: lesions, classes: classes.count)
        let voxelML = hu.geometry.voxelVolume / 1000
        let perLung = (0..<2).map { lung in
            LungTally(slices: slices, lung: lung, classes: classes.count)
        }
        func measures(_ tally: LungTally) -> LesionMeasures {
            let lesion = tally.zoneLesion.reduce(0, +)
            let lung = tally.zoneLung.reduce(0, +)
            let percent = { (count: Int) in lung > 0 ? 100 * Double(count) / Double(lung) : 0 }
            let share = { (count: Int) in Double(count) / Double(lesion) }
            return LesionMeasures(
                lesionML: Double(lesion) * voxelML,
                classML: Dictionary(
                    uniqueKeysWithValues: classes.enumerated().map { ($1, Double(tally.classes[$0]) * voxelML) }),
                opacityPercent: percent(lesion), highOpacityPercent: percent(tally.high),
                peripheralFraction: lesion > 0 ? share(tally.peripheral) : nil,
                zoneFractions: lesion > 0
                    ? ZoneFractions(
                        upper: share(tally.zoneLesion[2]), middle: share(tally.zoneLesion[1]),
                        lower: share(tally.zoneLesion[0])) : nil,
                severity: tally.zonePoints.reduce(0, +))
        }
        let zones = zip(["right", "left"], perLung).flatMap { name, tally in
            (0..<3).reversed().map { zone in
                SeverityZone(
                    lung: name, zone: zoneNames[zone],
                    involvedPercent: tally.zoneLung[zone] > 0
                        ? 100 * Double(tally.zoneLesion[zone]) / Double(tally.zoneLung[zone]) : 0,
                    points: tally.zonePoints[zone])
            }
        }
        let right = measures(perLung[0])
        let left = measures(perLung[1])
        let panel = LesionPanel(
            right: right, left: left, total: measures(perLung[0] + perLung[1]),
            bilateral: right.lesionML >= bilateralMinimumML && left.lesionML >= bilateralMinimumML, zones: zones)
        return (panel, slices)
    }
}

/// One lung's counts over its zones (or both lungs' summed).
struct LungTally {
    /// Per zone (0 lower, 1 middle, 2 upper): lung voxels, lesion voxels, severity points.
    var zoneLung = [0, 0, 0]
    var zoneLesion = [0, 0, 0]
    var zonePoints = [0, 0, 0]
    var high = 0
    var peripheral = 0
    var classes: [Int]

    /// Lung `lung` (0 right, 1 left): its zones are the thirds of the slices from its first to
    /// its last with lung.
    init(slices: [SliceLesionCounts], lung: Int, classes count: Int) {
        classes = [Int](repeating: 0, count: count)
        let withLung = slices.indices.filter { slices[$0].lung[lung] > 0 }
        guard let first = withLung.first, let last = withLung.last else { return }
        for z in first...last {
            let counts = slices[z]
            let zone = min(2, (z - first) * 3 / (last - first + 1))
            zoneLung[zone] += counts.lung[lung]
            zoneLesion[zone] += counts.lesion[lung]
            high += counts.high[lung]
            peripheral += counts.peripheral[lung]
            for c in 0..<count { classes[c] += counts.classes[lung * count + c] }
        }
        zonePoints = (0..<3).map { zone in
            zoneLung[zone] > 0 ? LesionPanel.severityPoints(Double(zoneLesion[zone]) / Double(zoneLung[zone])) : 0
        }
    }

    private init(classes: [Int]) { self.classes = classes }

    /// Both lungs: counts and points added.
    static func + (a: LungTally, b: LungTally) -> LungTally {
        var sum = LungTally(classes: zip(a.classes, b.classes).map(+))
        sum.zoneLung = zip(a.zoneLung, b.zoneLung).map(+)
        sum.zoneLesion = zip(a.zoneLesion, b.zoneLesion).map(+)
        sum.zonePoints = zip(a.zonePoints, b.zonePoints).map(+)
        sum.high = a.high + b.high
        sum.peripheral = a.peripheral + b.peripheral
        return sum
    }
}
