import Foundation
import LungSegmentation
import NIfTIIO
import Phantom
import TestSupport
import Testing
import VolumeCore

/// Dice of two binary masks.
func dice(_ a: [Bool], _ b: [Bool]) -> Double {
    var both = 0
    var sum = 0
    for index in a.indices {
        if a[index] && b[index] { both += 1 }
        if a[index] { sum += 1 }
        if b[index] { sum += 1 }
    }
    return sum == 0 ? 1 : 2 * Double(both) / Double(sum)
}

struct PhantomCase: CustomTestStringConvertible, Sendable {
    var size: Int
    var slices: Int
    var spacing: Double
    var seed: UInt64
    var testDescription: String { "\(size)²×\(slices) @ \(spacing) mm, seed \(seed)" }
}

@Test(arguments: [
    PhantomCase(size: 128, slices: 60, spacing: 5, seed: 1),
    PhantomCase(size: 192, slices: 100, spacing: 3, seed: 2),
    PhantomCase(size: 256, slices: 40, spacing: 7.5, seed: 3),
])
func phantomLungsWithPleuralLesionsAreSegmented(case c: PhantomCase) {
    let p = testPhantom(size: c.size, slices: c.slices, spacing: c.spacing, lesions: 4, seed: c.seed).phantom
    let result = LungSegmenter.segment(p.ct)
    let found = result.labels.voxels.map { $0 != 0 }
    let truth = p.lungs.voxels.map { $0 != 0 }
    let score = dice(found, truth)
    #expect(score >= 0.98, "Dice \(score); notes: \(result.notes)")
    // Each lung on its own side, with its own label.
    for label in [LungLabel.right, LungLabel.left] {
        let perLung = dice(result.labels.voxels.map { $0 == label }, p.lungs.voxels.map { $0 == label })
        #expect(perLung >= 0.97, "label \(label) Dice \(perLung)")
    }
    // Dense lesions touching the pleura stay inside the mask.
    let lesionVoxels = p.lesionMask.voxels.indices.filter { p.lesionMask.voxels[$0] != 0 }
    let inside = lesionVoxels.filter { result.labels.voxels[$0] != 0 }.count
    let fraction = Double(inside) / Double(max(1, lesionVoxels.count))
    #expect(fraction >= 0.99, "lesion voxels inside the mask: \(fraction)")
    print("phantom \(c.testDescription): Dice \(score), lesion voxels inside \(fraction)")
    #expect(result.notes.contains { $0.contains("trachea and main bronchi removed") }, "\(result.notes)")
}

@Test func segmentationFollowsTheGeometryNotTheStorageOrder() throws {
    let p = testPhantom(size: 96, slices: 40, spacing: 6, lesions: 2, seed: 4).phantom
    let flipped = try p.ct.reoriented(to: "RAI")
    let result = LungSegmenter.segment(flipped)
    #expect(result.labels.geometry.orientationCode == "RAI")
    let back = try result.labels.reoriented(to: "LPS")
    let score = dice(back.voxels.map { $0 == LungLabel.right }, p.lungs.voxels.map { $0 == LungLabel.right })
    #expect(score >= 0.97)
}

@Test func aSingleSliceIsSegmented() {
    let p = testPhantom(size: 128, slices: 60, spacing: 5, lesions: 0, seed: 5).phantom
    let k = 30
    let plane = p.ct.size.x * p.ct.size.y
    var g = p.ct.geometry
    g.size.z = 1
    g.origin = p.ct.geometry.physicalPoint(i: 0, j: 0, k: Double(k))
    let slice = Volume(geometry: g, voxels: Array(p.ct.voxels[(k * plane)..<((k + 1) * plane)]))
    let truth = Array(p.lungs.voxels[(k * plane)..<((k + 1) * plane)])
    let result = LungSegmenter.segment(slice)
    #expect(dice(result.labels.voxels.map { $0 != 0 }, truth.map { $0 != 0 }) >= 0.97)
    #expect(dice(result.labels.voxels.map { $0 == 1 }, truth.map { $0 == 1 }) >= 0.95)
}

@Test func emptyAndAirOnlyVolumesGiveEmptyMasksWithANote() {
    let g = Geometry(size: Size3(32, 32, 4), spacing: Vector3(1, 1, 1))
    let air = LungSegmenter.segment(Volume(geometry: g, repeating: Int16(-1000)))
    #expect(air.labels.voxels.allSatisfy { $0 == 0 })
    #expect(!air.notes.isEmpty)
    let water = LungSegmenter.segment(Volume(geometry: g, repeating: Int16(0)))
    #expect(water.labels.voxels.allSatisfy { $0 == 0 })
}

@Test func lungPanelMeasuresVolumesDensitiesAndBands() {
    let g = Geometry(size: Size3(10, 10, 10), spacing: Vector3(1, 1, 2))
    var hu = Volume(geometry: g, repeating: Int16(40))
    var labels = Volume(geometry: g, repeating: UInt8(0))
    // Right lung: 100 voxels at -960 (emphysema) and 100 at -850; left: 100 at -500, 100 at 50.
    for index in 0..<200 {
        labels.voxels[index] = 1
        hu.voxels[index] = index < 100 ? -960 : -850
    }
    for index in 200..<400 {
        labels.voxels[index] = 2
        hu.voxels[index] = index < 300 ? -500 : 50
    }
    let panel = LungPanel.measure(hu: hu, labels: labels)
    #expect(panel.right.voxels == 200)
    #expect(abs(panel.right.volumeML - 0.4) < 1e-9)  // 200 voxels × 2 mm³
    #expect(panel.right.meanHU == -905)
    #expect(panel.right.percentile15HU == -960)
    #expect(panel.right.bandFractions["emphysema"] == 0.5 && panel.right.bandFractions["inflated"] == 0.5)
    #expect(panel.left.bandFractions["infiltrated"] == 0.5 && panel.left.bandFractions["vessels"] == 0.5)
    #expect(panel.total.voxels == 400 && panel.total.meanHU == (-905 + -225) / 2)
    #expect(panel.total.histogram.counts.reduce(0, +) == 400)
    #expect(panel.total.bandFractions.values.reduce(0, +) == 1)
}

@Test(.enabled(if: sharedData("ct/lung-masks") != nil, "needs ../shared/data"), arguments: ["id001", "id002"])
func realCTMatchesTheReferenceMask(id: String) throws {
    let folder = sharedData("ct/lung-masks")!
    // The data's README: CT has interpolation overshoot below -1024 (clip), mask is 0/255 with ripple (threshold 127).
    let (ct, _) = try NIfTI.read("\(folder)/\(id)-128x128x64.nii.gz")
    let hu = ct.asFloat.map { Int16(max(-1024, min(3071, $0.rounded()))) }
    let (mask, _) = try NIfTI.read("\(folder)/\(id)-128x128x64-msk.nii.gz")
    let truth = mask.asFloat.voxels.map { $0 > 127 }
    let result = LungSegmenter.segment(hu)
    let score = dice(result.labels.voxels.map { $0 != 0 }, truth)
    print("\(id): Dice \(score); \(result.notes)")
    #expect(score >= 0.97, "\(id) Dice \(score)")
}
