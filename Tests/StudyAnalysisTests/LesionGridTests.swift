import ModelRuntime
import SeededRandom
import Testing
import VolumeCore

@testable import StudyAnalysis

/// An LPS volume of 0.7 × 0.7 × 2 mm voxels whose HU rise linearly with x, y and z in mm, and a
/// box of lung in it.
func rampStudy() -> (hu: Volume<Int16>, lungs: Volume<UInt8>) {
    let geometry = Geometry(size: Size3(120, 100, 40), spacing: Vector3(0.7, 0.7, 2), origin: Vector3(-40, -30, 100))
    var hu = Volume<Int16>(geometry: geometry, repeating: 0)
    var lungs = Volume<UInt8>(geometry: geometry, repeating: 0)
    for z in 0..<40 {
        for y in 0..<100 {
            for x in 0..<120 {
                let index = hu.linearIndex(x, y, z)
                hu.voxels[index] = Int16(-900 + 2 * Double(x) * 0.7 + 3 * Double(y) * 0.7 + 4 * Double(z) * 2)
                if (30..<90).contains(x) && (20..<80).contains(y) && (5..<35).contains(z) { lungs.voxels[index] = 1 }
            }
        }
    }
    return (hu, lungs)
}

@Test func theLesionGridCoversTheLungsWithItsMarginAtTheSpecifiedSpacing() throws {
    let (hu, lungs) = rampStudy()
    let grid = try #require(LesionGrid(lungs: lungs))
    #expect(grid.geometry.spacing == Vector3(1.5, 1.5, 2.5))
    // Lungs span x 30...89 (41.3 mm) plus 8 mm each side: 57.3 mm at 1.5 mm → 39 pixels.
    #expect(grid.size.x == 39)
    #expect(abs(grid.start.x - (30 - 8 / 0.7)) < 1e-9)
    // z: slices 5...34 (58 mm) plus 4 slices (the margin) each side, clamped to the volume.
    #expect(grid.size.z == Int((Double(38 - 1) * 2 / 2.5).rounded(.down)) + 1)
    let resampled = grid.resample(hu)
    // HU at grid point (i, j, k) is the ramp at its patient position: the interpolation is exact
    // for a linear field, up to the int16 rounding of the source.
    for (i, j, k) in [(0, 0, 0), (10, 7, 3), (grid.size.x - 1, grid.size.y - 1, grid.size.z - 1)] {
        let p = grid.geometry.physicalPoint(i: Double(i), j: Double(j), k: Double(k)) - hu.geometry.origin
        let expected = Float(-900 + 2 * p.x + 3 * p.y + 4 * p.z)
        #expect(abs(resampled.voxels[resampled.linearIndex(i, j, k)] - expected) < 1.01, "\(i), \(j), \(k)")
    }
    let labels = grid.resample(labels: lungs)
    #expect(labels.voxels.contains(1) && labels.voxels.contains(0))
}

@Test func valuesOnTheGridGoBackToTheViewWhereTheGridIs() throws {
    let (hu, lungs) = rampStudy()
    let grid = try #require(LesionGrid(lungs: lungs))
    let resampled = grid.resample(hu)
    let back = grid.onView(resampled.voxels, geometry: hu.geometry)
    #expect(back.size == hu.size)
    // Inside the grid the round trip returns the ramp within interpolation error; outside, 0.
    let inside = hu.linearIndex(60, 50, 20)
    #expect(abs(back.voxels[inside] - Float(hu.voxels[inside])) < 2)
    #expect(back.voxels[hu.linearIndex(2, 2, 20)] == 0)
}

@Test func theInputHoldsNeighbouringPlanesInTheLungWindowClampedAtTheEnds() throws {
    let (hu, lungs) = rampStudy()
    let grid = try #require(LesionGrid(lungs: lungs))
    let resampled = grid.resample(hu)
    let plane = grid.size.x * grid.size.y
    let first = grid.input(resampled, plane: 0)
    #expect(first.count == 3 * plane)
    #expect(Array(first[0..<plane]) == Array(first[plane..<(2 * plane)]), "below the first plane: the first plane")
    let middle = grid.input(resampled, plane: 5)
    let window = Float(150 - -1350)
    let expected = (resampled.voxels[4 * plane] + 1350) / window
    #expect(abs(middle[0] - expected) < 1e-6)
    #expect(middle.allSatisfy { (0...1).contains($0) })
}

@Test func theLesionMapsOnTheViewAreTheGridsTrilinearValuesInStepsInsideTheLungsOnly() throws {
    let (hu, lungs) = rampStudy()
    let grid = try #require(LesionGrid(lungs: lungs))
    // Two classes with unrelated values, so a mixed-up axis, plane or class shows.
    var random = SplitMix64(seed: 11)
    let classes = (0..<2).map { _ in (0..<grid.size.count).map { _ in Float.random(in: 0...0.6, using: &random) } }
    let mapped = LesionScoring.mapOnView(classes, grid: grid, lungs: lungs)
    let (first, second) = (
        grid.onView(classes[0], geometry: hu.geometry), grid.onView(classes[1], geometry: hu.geometry)
    )
    var lesionVoxels = 0
    for index in lungs.voxels.indices {
        guard lungs.voxels[index] != 0 else {
            #expect(mapped.probability.voxels[index] == 0 && mapped.mask.voxels[index] == 0)
            continue
        }
        let total = min(first.voxels[index] + second.voxels[index], 1)
        // Kept in steps of 1/4096, rounded down.
        let stored = mapped.probability.voxels[index]
        #expect(stored <= total + 1e-5 && stored > total - 1 / LesionScoring.probabilitySteps - 1e-5)
        #expect(stored * LesionScoring.probabilitySteps == (stored * LesionScoring.probabilitySteps).rounded())
        if abs(total - LesionScoring.maskThreshold) > 1e-5 {
            let expected: UInt8 =
                total < LesionScoring.maskThreshold ? 0 : first.voxels[index] >= second.voxels[index] ? 1 : 2
            #expect(mapped.mask.voxels[index] == expected)
        }
        lesionVoxels += mapped.mask.voxels[index] != 0 ? 1 : 0
    }
    #expect(lesionVoxels > 0 && lesionVoxels < lungs.voxels.count { $0 != 0 })
    for z in 0..<hu.size.z {
        let slice = (z * hu.size.y * hu.size.x)..<((z + 1) * hu.size.y * hu.size.x)
        #expect(mapped.highest[z] == mapped.probability.voxels[slice].max())
    }
}
