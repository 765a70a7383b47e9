import AppSupport
import Foundation
import HDF5Store
import ModelRuntime
import NIfTIIO
import Phantom
import TestSupport
import Testing
import VolumeCore

@testable import StudyAnalysis

/// Two box lungs in an LPS volume of 1 × 1 × 2 mm voxels (2 µL each), both 12 × 18 voxels in
/// plane: the right (label 1) on slices 3..<27, the left (label 2) on 6..<24. In a 12 × 18 box
/// the distance to the border is min(x + 1, 12 − x, y + 1, 18 − y) mm, at most 6, so the
/// periphery (a third of that) is the ring of the two outer voxels: 104 of 216 voxels a slice.
struct BoxLungs {
    static let right = (x: 2, z: 3..<27)
    static let left = (x: 22, z: 6..<24)
    static let y0 = 5
    var hu: Volume<Int16>
    var lungs: Volume<UInt8>
    var lesions: Volume<UInt8>

    init() {
        let geometry = Geometry(size: Size3(40, 30, 30), spacing: Vector3(1, 1, 2), origin: .zero)
        hu = Volume(geometry: geometry, repeating: -1000)
        lungs = Volume(geometry: geometry, repeating: 0)
        lesions = Volume(geometry: geometry, repeating: 0)
        for (label, box) in [(UInt8(1), Self.right), (2, Self.left)] {
            for z in box.z {
                for y in Self.y0..<(Self.y0 + 18) {
                    for x in box.x..<(box.x + 12) {
                        lungs[x, y, z] = label
                        hu[x, y, z] = -850
                    }
                }
            }
        }
    }

    /// Marks `value` (and sets `hu`) on slice `z` of the lung starting at column `x0`: its
    /// outer ring (`ring`) or the rest (its core).
    mutating func mark(x0: Int, z: Int, ring: Bool, value: UInt8, hu huValue: Int16 = -600) {
        for ly in 0..<18 {
            for lx in 0..<12 where (lx < 2 || lx >= 10 || ly < 2 || ly >= 16) == ring {
                lesions[x0 + lx, Self.y0 + ly, z] = value
                hu[x0 + lx, Self.y0 + ly, z] = huValue
            }
        }
    }
}

@Test func theLesionPanelOfAHandMadeMaskOnBoxLungs() throws {
    var box = BoxLungs()
    // Right: ground glass in the ring of its 8 lower slices, dense consolidation in the core of
    // its top 2; left: ground glass in the ring of 2 middle slices (0.416 mL); and lesion
    // outside the lungs, which does not count.
    for z in 3...10 { box.mark(x0: BoxLungs.right.x, z: z, ring: true, value: 1) }
    for z in 25...26 { box.mark(x0: BoxLungs.right.x, z: z, ring: false, value: 2, hu: -100) }
    for z in 14...15 { box.mark(x0: BoxLungs.left.x, z: z, ring: true, value: 1) }
    for x in 16..<20 { box.lesions[x, 10, 10] = 1 }
    let classes = ["ground-glass", "consolidation"]
    let panel = LesionPanel.measure(hu: box.hu, lungs: box.lungs, lesions: box.lesions, classes: classes)

    let right = panel.right
    #expect(abs(right.lesionML - 1056 * 0.002) < 1e-9)
    #expect(abs(right.classML["ground-glass"]! - 832 * 0.002) < 1e-9)
    #expect(abs(right.classML["consolidation"]! - 224 * 0.002) < 1e-9)
    #expect(abs(right.opacityPercent - 100.0 * 1056 / 5184) < 1e-9)
    #expect(abs(right.highOpacityPercent - 100.0 * 224 / 5184) < 1e-9)
    #expect(abs(right.peripheralFraction! - 832.0 / 1056) < 1e-9)
    #expect(right.zoneFractions == ZoneFractions(upper: 224.0 / 1056, middle: 0, lower: 832.0 / 1056))
    // Zones of 8 slices (1728 voxels): lower 48 % → 3, middle 0 → 0, upper 13 % → 2.
    #expect(panel.zones.filter { $0.lung == "right" }.map(\.points) == [2, 0, 3])
    #expect(right.severity == 5)

    let left = panel.left
    #expect(abs(left.lesionML - 0.416) < 1e-9 && left.peripheralFraction == 1)
    #expect(left.zoneFractions == ZoneFractions(upper: 0, middle: 1, lower: 0))
    #expect(left.severity == 2 && left.highOpacityPercent == 0)
    #expect(!panel.bilateral, "0.416 mL is under the \(LesionPanel.bilateralMinimumML) mL of a lung's share")

    let total = panel.total
    #expect(abs(total.opacityPercent - 100.0 * 1264 / (5184 + 3888)) < 1e-9)
    #expect(abs(total.peripheralFraction! - 1040.0 / 1264) < 1e-9)
    #expect(abs(total.zoneFractions!.lower - 832.0 / 1264) < 1e-9)
    #expect(total.severity == 7)

    // A third slice on the left (0.624 mL) makes the lesions bilateral.
    box.mark(x0: BoxLungs.left.x, z: 16, ring: true, value: 1)
    #expect(LesionPanel.measure(hu: box.hu, lungs: box.lungs, lesions: box.lesions, classes: classes).bilateral)
}

@Test func severityPointsFollowTheScale() {
    let cases: [(Double, Int)] = [
        (0, 0), (0.001, 1), (0.049, 1), (0.05, 2), (0.25, 2), (0.2501, 3), (0.5, 3), (0.75, 4), (0.76, 5), (1, 5),
    ]
    for (fraction, points) in cases { #expect(LesionPanel.severityPoints(fraction) == points, "\(fraction)") }
}

@Test func thePatternScoreFollowsItsRule() {
    var box = BoxLungs()
    for z in BoxLungs.right.z { box.mark(x0: BoxLungs.right.x, z: z, ring: true, value: 1) }
    let panel = LesionPanel.measure(
        hu: box.hu, lungs: box.lungs, lesions: box.lesions, classes: ["ground-glass", "consolidation"])
    let score = CovidPatternScore(panel)
    // Unilateral, all peripheral, a third in the lower zone.
    let opacity = 100.0 * 24 * 104 / (5184 + 3888)
    let expected = (1 - exp(-opacity / 5)) * (0.4 + 0.15 * 1 + 0.15 * (8.0 / 24))
    #expect(abs(score.value - expected) < 1e-12)
    #expect(score.features["bilateral"] == 0 && !score.calibrated && score.rule.contains("uncalibrated"))
}

/// The phantom's own lesion mask: its lesions touch the pleura and are small beside the lung, so
/// they lie in the periphery (all of them on this phantom), and the volumes are the mask's.
@Test func thePhantomsPleuralLesionsArePeripheral() throws {
    let phantom = testPhantom(size: 96, slices: 40, spacing: 5, lesions: 4, seed: 2).phantom
    let panel = LesionPanel.measure(
        hu: phantom.ct, lungs: phantom.lungs, lesions: phantom.lesionMask, classes: ["ground-glass", "consolidation"])
    let voxelML = phantom.ct.geometry.voxelVolume / 1000
    var perLung = [0, 0, 0]
    for (lesion, lung) in zip(phantom.lesionMask.voxels, phantom.lungs.voxels) where lesion != 0 {
        perLung[Int(lung)] += 1
    }
    #expect(abs(panel.right.lesionML - Double(perLung[1]) * voxelML) < 1e-9)
    #expect(abs(panel.left.lesionML - Double(perLung[2]) * voxelML) < 1e-9)
    #expect(
        panel.bilateral == (min(perLung[1], perLung[2]) > 0 && min(panel.right.lesionML, panel.left.lesionML) >= 0.5))
    let peripheral = try #require(panel.total.peripheralFraction)
    #expect(peripheral > 0.9, "peripheral fraction \(peripheral)")
}

/// analyze with a lesion model that finds ground glass everywhere: every output holds the
/// lesion maps, study.h5 stores them as documented and report.json's figures agree.
@Test func analyzeWritesTheLesionOutputs() throws {
    let (out, report) = try analyzeLesionPhantom(with: try lesionModel(everywhere: 1))
    let lesions = try #require(report.lesions)
    #expect(report.model.ran && report.model.probability == lesions.score.value.rounded(places: 4))
    #expect(report.model.classProbabilities == nil && report.outputs["lesionMask"] != nil)
    #expect(report.timingsSeconds["lesions"] != nil && report.timingsSeconds["lesions.network"] != nil)
    let lungMask = try NIfTI.read(out + OutputFile.lungMask).0.asInt16
    let probability = try NIfTI.read(out + OutputFile.probability).0.asFloat
    let mask = try NIfTI.read(out + OutputFile.lesionMask).0.asInt16
    #expect(zip(lungMask.voxels, mask.voxels).allSatisfy { $1 == ($0 == 0 ? 0 : 1) })
    #expect(zip(lungMask.voxels, probability.voxels).allSatisfy { $0 == 0 ? $1 == 0 : $1 > 0.999 })

    let file = try HDF5File(openingForReading: out + OutputFile.study)
    defer { try? file.close() }
    #expect(try file.readDataset("/maps/lesion_probability", as: Float.self).values == probability.voxels)
    #expect(try file.readDataset("/segmentation/lesions", as: UInt8.self).values == mask.voxels.map { UInt8($0) })
    guard case .double(let opacity) = try file.attribute("opacity_percent", at: "/features/total"),
        case .int(let severity) = try file.attribute("severity_total", at: "/lesions"),
        case .double(let score) = try file.attribute("probability", at: "/model")
    else {
        Issue.record("a lesion attribute has the wrong type")
        return
    }
    #expect(abs(opacity - 100) < 1e-9 && severity == 30 && score == report.model.probability)
    #expect(try file.readDataset("/lesions/slice_lesion_ml", as: Float.self).shape[0] > 0)
}

@Test(.enabled(if: pythonWithH5py != nil, "needs a Python with h5py (make test provides one)"))
func h5pyReadsTheLesionMaps() throws {
    let out = try analyzeLesionPhantom(with: try lesionModel(everywhere: 2)).out
    let script = """
        import h5py, numpy, sys
        f = h5py.File(sys.argv[1], "r")
        lungs = f["segmentation/lungs"][()]; lesions = f["segmentation/lesions"][()]
        p = f["maps/lesion_probability"][()]
        assert lesions.dtype == numpy.uint8 and p.dtype == numpy.float32 and p.shape == lungs.shape
        assert (lesions == numpy.where(lungs > 0, 2, 0)).all() and (p[lungs == 0] == 0).all()
        assert "2 consolidation" in f["segmentation/lesions"].attrs["labels"]
        assert f["lesions"].attrs["severity_total"] == 30 and f["features/left"].attrs["opacity_percent"] == 100
        assert 0 <= f["lesions"].attrs["covid_pattern_score"] <= 1
        print(int(f["lesions"].attrs["severity_total"]), float(f["model"].attrs["probability"]))
        """
    let run = try runProcess(try #require(pythonWithH5py), ["-c", script, out + OutputFile.study])
    #expect(run.status == 0, "h5py could not read the lesion maps as documented: \(run.stdout) \(run.stderr)")
}
