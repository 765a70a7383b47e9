import SeededRandom
import Testing
import VolumeCore

@testable import LesionSynthesis

/// A block of lung (label 1, −850 HU) inside a one-voxel rim of partial-volume pleura
/// (−300 HU) on three sides and fat (−110 HU) on the fourth, inside chest wall (40 HU); 1 mm voxels.
func blockChest() -> (ct: Volume<Int16>, lungs: Volume<UInt8>) {
    let geometry = Geometry(size: Size3(40, 40, 12), spacing: Vector3(1, 1, 1))
    var ct = Volume<Int16>(geometry: geometry, repeating: 40)
    var lungs = Volume<UInt8>(geometry: geometry, repeating: 0)
    for k in 0..<12 {
        for j in 4...35 {
            for i in 4...35 {
                let inside = (5...34).contains(i) && (5...34).contains(j)
                ct[i, j, k] = inside ? -850 : i == 4 ? -110 : -300
                if inside { lungs[i, j, k] = 1 }
            }
        }
    }
    return (ct, lungs)
}

@Suite struct EdgeTests {
    @Test func theRimNextToALesionFillsAndNothingElseOutsideChanges() {
        let (before, lungs) = blockChest()
        var options = SyntheticLesionOptions()
        options.consolidationProbability = 1
        options.haloProbability = 0
        options.lesionCount = 3...3
        options.diameterMM = 30...30
        var ct = before
        var rng = SplitMix64(seed: 5)
        let truth = SyntheticLesions.insert(into: &ct, lungs: lungs, options: options, using: &rng)
        var (rimFilled, wallChanged, truthOutside) = (0, 0, 0)  // wall: fat and soft tissue
        for index in ct.voxels.indices where lungs.voxels[index] == 0 {
            if truth.voxels[index] != LesionLabel.none { truthOutside += 1 }
            if before.voxels[index] >= -110, ct.voxels[index] != before.voxels[index] { wallChanged += 1 }
            if before.voxels[index] == -300, ct.voxels[index] > -150 { rimFilled += 1 }
        }
        #expect(truth.voxels.contains(LesionLabel.consolidation))
        #expect(truthOutside == 0)
        #expect(wallChanged == 0)
        // Without the rim rule a dark line (−300 HU) would separate consolidation from the wall.
        #expect(rimFilled > 20)
    }

    @Test func noLungsNoLesions() {
        let (before, lungs) = blockChest()
        var ct = before
        var rng = SplitMix64(seed: 1)
        let empty = lungs.map { _ in UInt8(0) }
        let truth = SyntheticLesions.insert(into: &ct, lungs: empty, options: .init(), using: &rng)
        #expect(ct.voxels == before.voxels)
        #expect(truth.voxels.allSatisfy { $0 == LesionLabel.none })
    }

    @Test func previewShowsBeforeAfterAndTheOutline() {
        let (ct, truth) = defaultRuns[0]
        let picture = LesionPreview.render(before: fine.ct, after: ct, truth: truth, lungs: fine.lungs, rows: 2)
        #expect(picture.rgb.count == picture.width * picture.height * 3)
        #expect(picture.width > 3 * LesionPreview.minimumPanelSide - 1)
        var outlined = 0
        for pixel in stride(from: 0, to: picture.rgb.count, by: 3) {
            let rgb = (picture.rgb[pixel], picture.rgb[pixel + 1], picture.rgb[pixel + 2])
            if rgb == LesionPreview.groundGlassColour || rgb == LesionPreview.consolidationColour { outlined += 1 }
        }
        #expect(outlined > 20)
    }
}

@Suite struct BoundsTests {
    @Test func everyVoxelALesionTouchesIsInsideItsBox() {
        let places = LungPlaces(lungs: fine.lungs)
        var rng = SplitMix64(seed: 11)
        var options = SyntheticLesionOptions()
        options.lesionCount = 4...4
        let geometry = fine.ct.geometry
        let background = Background(ct: fine.ct, lungs: fine.lungs, places: places)
        for plan in LesionPlanner.plan(places, options: options, rng: &rng) {
            let painter = LesionPainter(plan: plan, options: options, background: background)
            guard let (lower, upper) = painter.box(geometry) else { continue }
            var outside = 0
            // A shell of 4 voxels around the box: no weight there.
            for k in max(0, lower[2] - 4)...min(geometry.size.z - 1, upper[2] + 4) {
                for j in max(0, lower[1] - 4)...min(geometry.size.y - 1, upper[1] + 4) {
                    for i in max(0, lower[0] - 4)...min(geometry.size.x - 1, upper[0] + 4) {
                        let inBox = (0..<3).allSatisfy { [i, j, k][$0] >= lower[$0] && [i, j, k][$0] <= upper[$0] }
                        let point = geometry.physicalPoint(i: Double(i), j: Double(j), k: Double(k))
                        if !inBox, painter.weights(at: point) != nil { outside += 1 }
                    }
                }
            }
            #expect(outside == 0)
        }
    }
}
