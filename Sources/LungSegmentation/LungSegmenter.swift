import AppSupport
import Dispatch
import Foundation
import VolumeCore

/// Thresholds and sizes of the lung segmentation, each with the reason for its value.
public struct SegmentationParameters: Sendable {
    /// Body: everything denser than −500 HU (fat ≈ −100, muscle ≈ 40, lung ≈ −850). Hu, Hoffman
    /// & Reinhardt (IEEE TMI 20(6), 2001) find the optimal lung/body threshold near −500 HU.
    public var bodyThresholdHU: Int16 = -500
    /// Air-filled lung and airways inside the body: below −400 HU. Dense pathology above it is
    /// brought back by hole filling and the pleural closing.
    public var airThresholdHU: Int16 = -400
    /// Airway lumen thresholds tried in turn, strictest first: each grows the airway a little
    /// further, until the volume passes `maximumAirwayML`: then the growth has leaked into the
    /// lung and the previous threshold's airway is used (the explosion test of region-growing
    /// airway methods, e.g. van Rikxoort et al., Medical Physics 2009). Air is −1000 HU; lung
    /// parenchyma about −850, so a leak turns tens of mL into thousands.
    public var airwayThresholdsHU: [Int16] = Array(stride(from: -1000, through: -800, by: 20))
    /// Trachea and main bronchi hold about 30–80 mL in adults; more than 200 mL means a leak.
    public var maximumAirwayML: Double = 200
    /// Cross-section of the trachea where it is first found, mm²: adult tracheal diameters are
    /// 13–25 mm (≈ 130–490 mm²); the range is wider to allow partial volume and children.
    public var tracheaAreaMM2: ClosedRange<Double> = 60...900
    /// The trachea is within this distance (mm, left–right) of the body's centre.
    public var tracheaMaximumOffsetMM: Double = 30
    /// Airway walls are dilated by this much (mm) before removal so the partial-volume rim of
    /// the trachea does not stay attached to the lungs.
    public var airwayWallMM: Double = 2
    /// An air component inside the body smaller than this fraction of the largest is not lung
    /// (bowel gas, the stomach bubble, oesophageal air).
    public var minimumLungFraction: Double = 0.1
    /// Holes in a lung's slice up to this area (mm²) are filled: vessels, bronchi and dense
    /// lesions surrounded by lung (up to about 5 cm across). Larger "holes" are the top of the
    /// diaphragm's dome ringed by the lung bases, which is not lung.
    public var maximumHoleAreaMM2: Double = 2000
    /// Radius of the per-slice closing along each lung's border (mm), as a rolling ball of
    /// this radius would smooth it (Armato et al., Radiology 1999): small indentations by
    /// vessels and subpleural opacities are closed.
    public var pleuralClosingRadiusMM: Double = 10
    /// A bay between a lung and its convex hull (per slice) on the lung's outer side, whose
    /// mouth on the hull is at most this wide (mm), is filled: dense pathology touching the
    /// costal pleura (consolidation up to about 5 cm across). Bays on the mediastinal side
    /// (the heart's impression, the hilum) are never filled.
    public var maximumBayMouthMM: Double = 60

    public init() {}
}

/// Labels of a lung segmentation.
public enum LungLabel {
    public static let background: UInt8 = 0
    /// The patient's right lung.
    public static let right: UInt8 = 1
    /// The patient's left lung.
    public static let left: UInt8 = 2
}

/// The result of segmenting one CT volume.
public struct LungSegmentation: Sendable {
    /// On the input grid: 0 background, 1 right lung, 2 left lung.
    public var labels: Volume<UInt8>
    /// What the method noticed and how it coped, in sentences.
    public var notes: [String]
    /// Seconds per step, for the report.
    public var timings: [String: Double]
}

/// Classical lung segmentation on HU, in the spirit of Hu et al. (2001): body mask, air inside
/// the body, airway removal by region growing with leak control, left/right separation,
/// hole filling and a pleural closing so vessels and dense pathology stay inside.
public enum LungSegmenter {
    public static func segment(_ input: Volume<Int16>, parameters: SegmentationParameters = .init()) -> LungSegmentation
    {
        var timings: [String: Double] = [:]
        var clock = Date()
        func lap(_ name: String) {
            timings[name] = Date().timeIntervalSince(clock)
            clock = Date()
        }
        // The method reasons in patient directions (top slice, left-right), so it works on an
        // LPS copy when the input is stored another way, and maps the labels back.
        let originalCode = input.geometry.orientationCode
        let hu = originalCode == "LPS" ? input : (try? input.reoriented(to: "LPS")) ?? input
        var notes: [String] = []
        let g = hu.geometry

        // 1. Body, slice by slice: the largest tissue region, holes filled.
        var body = bodyMask(hu, thresholdHU: parameters.bodyThresholdHU)
        lap("body")

        // The rest works in the body's box (`BodyCrop`: the same labels, about half the voxels).
        let crop = BodyCrop(body: body, geometry: g)
        let box = crop?.geometry ?? g
        let boxHU = crop.map { Volume(geometry: $0.geometry, voxels: $0.cut(hu.voxels)) } ?? hu
        if let crop { body = crop.cut(body) }

        // 2. Air inside the body, and its large 3D components.
        var lungs = lungAir(hu: boxHU, body: body, parameters: parameters, notes: &notes)
        lap("air")

        // 3. Airways: found at the top, grown down with leak control, removed with their wall.
        let airwayWall = removeAirways(from: &lungs, hu: boxHU, body: body, parameters: parameters, notes: &notes)
        lap("airways")

        // 4. Right and left: two components by their side, or one split where they touch.
        var labels = label(lungs: &lungs, geometry: box, parameters: parameters, notes: &notes)
        lungs = []
        lap("left-right")

        // 5. Per lung and slice: holes filled (vessels, lesions inside) and a closing along the
        //    pleura (lesions touching it), never into the other lung or outside the body.
        refine(&labels, body: body, airways: airwayWall, geometry: box, parameters: parameters)
        if let crop { labels = crop.paste(labels) }
        lap("refine")

        var volume = Volume(geometry: g, voxels: labels)
        if originalCode != "LPS", let back = try? volume.reoriented(to: originalCode) { volume = back }
        return LungSegmentation(labels: volume, notes: notes, timings: timings)
    }

    /// Replaces each slice of `volume` (slices of `planeSize` voxels) by what `work` makes of
    /// it (nil: the slice stays as it is), slices on all cores: each worker reads and writes
    /// only its own slice, in place, so no second volume is allocated (fresh memory costs more
    /// than the work in some passes). `work` gets a read-only view of the slice.
    static func updateSlices(
        of volume: inout [UInt8], planeSize: Int, _ work: @Sendable (_ k: Int, _ slice: SliceView) -> [UInt8]?
    ) {
        guard planeSize > 0 else { return }
        volume.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let voxels = VoxelPointer(base)
            DispatchQueue.concurrentPerform(iterations: buffer.count / planeSize) { k in
                let first = voxels.base + k * planeSize
                guard let result = work(k, SliceView(start: first, count: planeSize)) else { return }
                precondition(result.count == planeSize, "a slice's result must fill the slice")
                first.update(from: result, count: planeSize)
            }
        }
    }
}

/// A read-only view of one slice of a volume that a parallel pass updates (`updateSlices`):
/// valid only inside that pass's work closure.
struct SliceView: @unchecked Sendable {
    let start: UnsafePointer<UInt8>
    let count: Int

    init(start: UnsafeMutablePointer<UInt8>, count: Int) { (self.start, self.count) = (UnsafePointer(start), count) }

    subscript(index: Int) -> UInt8 { start[index] }
    var isAllZero: Bool { UnsafeRawBufferPointer(start: start, count: count).isAllZero }
    var array: [UInt8] { Array(UnsafeBufferPointer(start: start, count: count)) }
}
