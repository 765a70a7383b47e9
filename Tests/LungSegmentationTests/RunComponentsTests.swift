import Phantom
import SeededRandom
import TestSupport
import Testing
import VolumeCore

@testable import LungSegmentation

/// The body by runs is what the pixel floods make of the same plane (largest 4-connected
/// component, first found on ties, then every hole filled): on random planes of many densities
/// and sizes (specks, ties, regions touching the border, nested holes) and on phantom slices.
@Test func theBodyByRunsIsTheLargestComponentWithItsHolesFilledByPixels() {
    var random = SplitMix64(seed: 41)
    var planes: [(width: Int, height: Int, hu: [Int16])] = []
    for _ in 0..<300 {
        let (width, height) = (Int.random(in: 1...23, using: &random), Int.random(in: 1...19, using: &random))
        let density = Double.random(in: 0.05...0.95, using: &random)
        planes.append(
            (
                width, height,
                (0..<width * height).map { _ in Double.random(in: 0..<1, using: &random) < density ? 100 : -900 }
            ))
    }
    let phantom = testPhantom(size: 96, slices: 12, spacing: 10, lesions: 1, seed: 2).phantom
    let plane = 96 * 96
    for k in 0..<12 { planes.append((96, 96, Array(phantom.ct.voxels[(k * plane)..<((k + 1) * plane)]))) }
    for (index, (width, height, hu)) in planes.enumerated() {
        var expected = Plane(width: width, height: height, pixels: hu.map { $0 > -500 ? 1 : 0 })
        _ = Morphology.largestComponent(&expected)
        Morphology.fillHoles(&expected)
        var found = [UInt8](repeating: 7, count: width * height)
        hu.withUnsafeBufferPointer { source in
            found.withUnsafeMutableBufferPointer { target in
                RunComponents.body(
                    source.baseAddress!, width: width, height: height, above: -500, into: target.baseAddress!)
            }
        }
        #expect(found == expected.pixels, "plane \(index), \(width)×\(height)")
    }
}

/// Runs and gaps of a row, and components that touch only through overlapping columns.
@Test func runsGapsAndComponentsOfRows() {
    let row: [Bool] = [true, true, false, true, false, false, true]
    #expect(RunComponents.runs(width: 7) { row[$0] }.map { [$0.first, $0.last] } == [[0, 1], [3, 3], [6, 6]])
    #expect(
        RunComponents.gaps(between: [(0, 1), (3, 3), (6, 6)], width: 7).map { [$0.first, $0.last] } == [
            [2, 2], [4, 5],
        ])
    #expect(RunComponents.gaps(between: [], width: 3).map { [$0.first, $0.last] } == [[0, 2]])
    // Row 0: runs 0–1 and 4–5; row 1: run 1–4 joins both; row 2: runs 5–5 and 7–7 touch nothing
    // (5–5 meets 1–4 only diagonally).
    let layout: [[(first: Int, last: Int)]] = [[(0, 1), (4, 5)], [(1, 4)], [(5, 5), (7, 7)]]
    var components = RunComponents(width: 8, height: 3) { layout[$0] }
    #expect(components.count == 5)
    #expect(Set((0..<3).map { components.root($0) }) == [0])
    #expect(components.root(3) == 3 && components.root(4) == 4)
}
