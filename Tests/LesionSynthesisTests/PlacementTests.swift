import Phantom
import SeededRandom
import Testing
import VolumeCore

@testable import LesionSynthesis

/// Where the planner puts lesions over many seeds: the place mix of the options.
struct PlacementSummary {
    var lesions = 0
    var peripheral = 0
    var basal = 0
    var posterior = 0
    var calls = 0
    var unilateral = 0
    var bilateral = 0

    init(_ places: LungPlaces, options: SyntheticLesionOptions, seeds: ClosedRange<UInt64>) {
        let sampler = PlaceSampler(places, basalWeight: options.basalWeight, posteriorWeight: options.posteriorWeight)
        for seed in seeds {
            var rng = SplitMix64(seed: seed)
            let plans = LesionPlanner.plan(places, sampler: sampler, options: options, rng: &rng)
            for plan in plans {
                lesions += 1
                if plan.place.isPeripheral { peripheral += 1 }
                if plan.place.height < 0.5 { basal += 1 }
                if plan.place.posterior > 0.5 { posterior += 1 }
            }
            guard plans.count >= 2 else { continue }
            calls += 1
            if Set(plans.map(\.place.side)).count == 1 { unilateral += 1 } else { bilateral += 1 }
        }
    }

    func share(_ count: Int) -> Double { Double(count) / Double(max(1, lesions)) }
}

@Suite struct PlacementTests {
    let places = LungPlaces(lungs: fine.lungs)

    @Test func placesSpreadAsCOVID19Does() {
        let summary = PlacementSummary(places, options: .init(), seeds: 1...300)
        #expect(summary.lesions > 600)
        // Majority peripheral, but central ones too.
        #expect(summary.share(summary.peripheral) > 0.55)
        #expect(summary.share(summary.lesions - summary.peripheral) > 0.15)
        // Mostly bilateral, some unilateral.
        #expect(summary.bilateral > summary.unilateral)
        #expect(Double(summary.unilateral) / Double(summary.calls) > 0.1)
        // More basal than apical, more posterior than anterior.
        #expect(summary.share(summary.basal) > 0.5)
        #expect(summary.share(summary.posterior) > 0.55)
    }

    @Test func basalAndPosteriorWeightsAreWhatMakeThePreference() {
        var flat = SyntheticLesionOptions()
        flat.basalWeight = 0
        flat.posteriorWeight = 0
        let weighted = PlacementSummary(places, options: .init(), seeds: 1...300)
        let unweighted = PlacementSummary(places, options: flat, seeds: 1...300)
        #expect(weighted.share(weighted.basal) > unweighted.share(unweighted.basal) + 0.05)
        #expect(weighted.share(weighted.posterior) > unweighted.share(unweighted.posterior) + 0.05)
    }

    @Test func peripheralMeansNearTheChestWall() {
        // The phantom's lungs are elliptic cylinders 58 mm from their centre to the lateral wall
        // (x = ±78 mm), cut at |x| = 125 mm by the chest wall: samples far lateral are peripheral, samples near the mediastinum are not.
        let lateral = places.places.filter { abs($0.point.x) > 110 }
        let medial = places.places.filter { abs($0.point.x) < 35 && abs($0.point.y - 8) < 20 }
        #expect(!lateral.isEmpty && !medial.isEmpty)
        #expect(lateral.allSatisfy { $0.isPeripheral })
        #expect(medial.allSatisfy { !$0.isPeripheral })
    }

    @Test func sidesFollowTheLabelsOrThePosition() {
        #expect(places.places.allSatisfy { ($0.side == .right) == ($0.label == 1) })
        // One label for both lungs: the side comes from x (the patient's right is −x in LPS).
        let single = fine.lungs.map { $0 == 0 ? UInt8(0) : UInt8(255) }
        let unlabelled = LungPlaces(lungs: single)
        #expect(unlabelled.places.allSatisfy { ($0.side == .right) == ($0.point.x < 0) })
    }

    @Test func orientationDoesNotMoveThePlaces() throws {
        // The same lungs stored feet-first and right-to-left: the features of a point are the same.
        let flipped = try fine.lungs.reoriented(to: "RAI")
        let other = LungPlaces(lungs: flipped)
        let basal = { (p: LungPlaces) in Double(p.places.count { $0.height < 0.3 }) / Double(p.places.count) }
        let back = { (p: LungPlaces) in Double(p.places.count { $0.posterior > 0.7 }) / Double(p.places.count) }
        #expect(abs(basal(places) - basal(other)) < 0.05)
        #expect(abs(back(places) - back(other)) < 0.05)
    }
}
