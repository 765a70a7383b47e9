import Foundation
import Phantom
import SeededRandom
import TestSupport
import Testing
import VolumeCore

@testable import LesionSynthesis

// The phantom without lesions is the "normal CT": lungs at about −850 HU with 12 HU of noise
// and vessels at 40 HU. The same anatomy (height 144 mm, 380 mm field of view) on two grids:
// 2.97 × 2.97 × 3 mm and 4.75 × 4.75 × 6 mm.
let fine = testPhantom(size: 128, slices: 49, spacing: 3, lesions: 0).phantom
let coarse = testPhantom(size: 80, slices: 25, spacing: 6, lesions: 0).phantom

/// The phantom's CT with lesions, and their truth.
func lesioned(_ phantom: Phantom, seed: UInt64, options: SyntheticLesionOptions = .init())
    -> (ct: Volume<Int16>, truth: Volume<UInt8>)
{
    var ct = phantom.ct
    var rng = SplitMix64(seed: seed)
    let truth = SyntheticLesions.insert(into: &ct, lungs: phantom.lungs, options: options, using: &rng)
    return (ct, truth)
}

func medianHU(_ values: [Int16]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? .nan : Double(sorted[sorted.count / 2])
}

/// Options for lesions of one kind, large enough to measure on the phantom's coarse voxels.
func largeLesions(consolidation: Double) -> SyntheticLesionOptions {
    var options = SyntheticLesionOptions()
    options.peripheralProbability = 0.3  // more central lesions, where the phantom's vessels are
    options.diameterMM = 25...45
    options.lesionCount = 4...6
    options.consolidationProbability = consolidation
    options.haloProbability = 0
    options.crazyPavingProbability = 0
    options.consolidationTextureHU = 0...0
    return options
}

// Insertion runs shared by several tests (each takes a fraction of a second in a debug build).
let defaultRuns = (UInt64(1)...4).map { lesioned(fine, seed: $0) }
let groundGlassRuns = (UInt64(1)...2).map { lesioned(fine, seed: $0, options: largeLesions(consolidation: 0)) }
let consolidationRuns = (UInt64(1)...2).map { lesioned(fine, seed: $0, options: largeLesions(consolidation: 1)) }
/// One large consolidation, with the image's noise and without added noise.
func singleConsolidation(noiseScale: Double) -> (ct: Volume<Int16>, truth: Volume<UInt8>) {
    var options = largeLesions(consolidation: 1)
    options.lesionCount = 1...1
    options.diameterMM = 40...45
    options.noiseScale = noiseScale
    return lesioned(fine, seed: 2, options: options)
}

@Suite struct LesionSynthesisTests {
    @Test func truthOnlyInsideTheLungsAndNothingChangesOutside() {
        let (original, lungs) = (fine.ct.voxels, fine.lungs.voxels)
        for (ct, truth) in defaultRuns.prefix(2) {
            var (lesionVoxels, truthOutside, changedOutside) = (0, 0, 0)
            let (hu, labels) = (ct.voxels, truth.voxels)
            for index in hu.indices {
                if lungs[index] == 0 {
                    if labels[index] != LesionLabel.none { truthOutside += 1 }
                    if hu[index] != original[index] { changedOutside += 1 }
                } else if labels[index] != LesionLabel.none {
                    lesionVoxels += 1
                }
            }
            #expect(truthOutside == 0)
            #expect(changedOutside == 0)
            #expect(lesionVoxels > 0)
            #expect(truth.geometry == fine.ct.geometry)
        }
    }

    @Test func groundGlassAndConsolidationBothOccur() {
        let truths = defaultRuns.map(\.truth.voxels)
        #expect(truths.contains { $0.contains(LesionLabel.groundGlass) })
        #expect(truths.contains { $0.contains(LesionLabel.consolidation) })
        #expect(truths.allSatisfy { $0.allSatisfy { $0 <= LesionLabel.consolidation } })
    }

    @Test func groundGlassDensityAwayFromVessels() {
        let original = fine.ct.voxels
        var inside: [Int16] = []
        for (ct, truth) in groundGlassRuns {
            for index in ct.voxels.indices where truth.voxels[index] == LesionLabel.groundGlass {
                if original[index] < -500 { inside.append(ct.voxels[index]) }
            }
            #expect(!truth.voxels.contains(LesionLabel.consolidation))
        }
        #expect(inside.count > 500)
        #expect((-750.0 ... -300.0).contains(medianHU(inside)))
    }

    @Test func consolidationDensity() {
        var inside: [Int16] = []
        for (ct, truth) in consolidationRuns {
            for index in ct.voxels.indices where truth.voxels[index] == LesionLabel.consolidation {
                inside.append(ct.voxels[index])
            }
            #expect(!truth.voxels.contains(LesionLabel.groundGlass))
        }
        #expect(inside.count > 500)
        #expect((-100.0...50.0).contains(medianHU(inside)))
    }

    @Test func vesselsStayBrighterThanTheGroundGlassAroundThem() {
        let original = fine.ct.voxels
        var (vessels, groundGlass): ([Int16], [Int16]) = ([], [])
        for (ct, truth) in groundGlassRuns {
            for index in ct.voxels.indices where truth.voxels[index] == LesionLabel.groundGlass {
                if original[index] > -100 {
                    vessels.append(ct.voxels[index])
                } else if original[index] < -500 {
                    groundGlass.append(ct.voxels[index])
                }
            }
        }
        #expect(vessels.count >= 20, "no vessel inside a ground-glass lesion: the test proves nothing")
        #expect(medianHU(vessels) > -100)
        #expect(medianHU(vessels) > medianHU(groundGlass) + 200)
    }

    @Test func theSameSeedGivesTheSameLesions() {
        let again = lesioned(fine, seed: 1)
        #expect(again.ct.voxels == defaultRuns[0].ct.voxels)
        #expect(again.truth.voxels == defaultRuns[0].truth.voxels)
        #expect(defaultRuns[1].truth.voxels != defaultRuns[0].truth.voxels)
    }

    @Test func addedNoiseMatchesTheImage() {
        // Where consolidation replaced the voxels, the noise is the lesion's own: the same lesion
        // with and without added noise differs by exactly that noise, whose neighbour residual
        // should match the parenchyma's (the phantom's 12 HU white noise gives 13.4 HU).
        let (noisy, truth) = singleConsolidation(noiseScale: 1)
        let quiet = singleConsolidation(noiseScale: 0).ct
        let size = truth.size
        var (sum, count) = (0.0, 0)
        let added = zip(noisy.voxels, quiet.voxels).map { Double($0) - Double($1) }
        for k in 0..<size.z {
            for j in 2..<(size.y - 2) {
                for i in 2..<(size.x - 2) {
                    let index = truth.linearIndex(i, j, k)
                    var interior = true
                    for dj in -2...2 {
                        for di in -2...2 where truth.voxels[index + di + dj * size.x] != LesionLabel.consolidation {
                            interior = false
                        }
                    }
                    guard interior else { continue }
                    let around = [-1, 1, -size.x, size.x].reduce(0.0) { $0 + added[index + $1] }
                    let residual = added[index] - around / 4
                    sum += residual * residual
                    count += 1
                }
            }
        }
        #expect(count > 50)
        let sd = (sum / Double(max(1, count))).squareRoot()
        #expect((10.0...16.0).contains(sd), "residual SD \(sd) HU of the added noise")
    }

    @Test func lesionSizesAreInMillimetres() {
        let millilitres = { (truth: Volume<UInt8>) in
            Double(truth.voxels.count { $0 != 0 }) * truth.geometry.voxelVolume / 1000
        }
        let volumes = [
            defaultRuns.prefix(4).reduce(0) { $0 + millilitres($1.truth) },
            (UInt64(1)...4).reduce(0) { $0 + millilitres(lesioned(coarse, seed: $1).truth) },
        ]
        #expect(volumes[0] > 5)
        #expect((0.7...1.4).contains(volumes[1] / volumes[0]), "\(volumes) mL on the two grids")
        // The draws do not depend on the grid: the same seed gives the same lesion sizes.
        var (a, b) = (SplitMix64(seed: 7), SplitMix64(seed: 7))
        let onFine = LesionPlanner.plan(LungPlaces(lungs: fine.lungs), options: .init(), rng: &a)
        let onCoarse = LesionPlanner.plan(LungPlaces(lungs: coarse.lungs), options: .init(), rng: &b)
        #expect(onFine.map(\.diameterMM) == onCoarse.map(\.diameterMM))
    }

    @Test func decodingKeepsTheDefaultsOfAbsentKeys() throws {
        let json = Data(#"{"lesionCount": [2, 3], "noiseScale": 0}"#.utf8)
        let options = try JSONDecoder().decode(SyntheticLesionOptions.self, from: json)
        var expected = SyntheticLesionOptions()
        expected.lesionCount = 2...3
        expected.noiseScale = 0
        #expect(options == expected)
        // Every field changed survives a round trip (a key the decoder forgot would not).
        var changed = SyntheticLesionOptions()
        changed.lesionCount = 7...9
        changed.diameterMM = 3...4
        changed.consolidationProbability = 0.01
        changed.haloProbability = 0.02
        changed.crazyPavingProbability = 0.03
        changed.groundGlassHU = -701 ... -401
        changed.consolidationHU = -51...11
        changed.groundGlassPatchiness = 0.04...0.05
        changed.consolidationTextureHU = 1...2
        changed.septaHU = 3...4
        changed.groundGlassEdgeFraction = 0.06...0.07
        changed.consolidationEdgeMM = 5...6
        changed.peripheralProbability = 0.08
        changed.unilateralProbability = 0.09
        changed.basalWeight = 0.1
        changed.posteriorWeight = 0.11
        changed.noiseScale = 0.12
        changed.minimumContrastHU = 13
        changed.truthMinimumChangeHU = 14
        let roundTrip = try JSONDecoder().decode(SyntheticLesionOptions.self, from: JSONEncoder().encode(changed))
        #expect(roundTrip == changed)
        #expect(changed != SyntheticLesionOptions())
    }
}
