import Foundation
import SeededRandom
import VolumeCore

/// What a lesion looks like on CT.
enum LesionKind: Sendable, Equatable {
    case groundGlass
    /// Ground glass with thin bright septal lines.
    case crazyPaving
    /// Soft-tissue density, optionally with a ground-glass halo.
    case consolidation
}

/// Ground glass's mottled inside: coarse and fine value noise (the patchy density of real
/// COVID-19 ground glass varies over a few mm and over a centimetre or so).
struct Texture: Sendable {
    static let coarseLatticeMM = 5.0...10.0
    static let fineLatticeMM = 2.0...4.0
    /// The two fields' shares; their squares sum to 1, so the sum keeps unit variance.
    static let coarseShare = 0.6
    static let fineShare = 0.8

    var coarse: LatticeNoise
    var fine: LatticeNoise

    init(rng: inout SplitMix64) {
        coarse = LatticeNoise(latticeMM: Self.coarseLatticeMM, rng: &rng)
        fine = LatticeNoise(latticeMM: Self.fineLatticeMM, rng: &rng)
    }

    func value(at point: Vector3) -> Double {
        Self.coarseShare * coarse.value(at: point) + Self.fineShare * fine.value(at: point)
    }

    /// The texture as the voxels of `geometry` see it (`LatticeNoise.averaged`).
    func averaged(over geometry: Geometry) -> Texture {
        var texture = self
        texture.coarse = coarse.averaged(over: geometry)
        texture.fine = fine.averaged(over: geometry)
        return texture
    }
}

/// One lesion, fully drawn before any voxel is touched.
struct LesionPlan: Sendable {
    var kind: LesionKind
    /// The lung sample it was centred on (its label bounds the lesion).
    var place: LungPlaces.Place
    /// Whether the planner asked for a peripheral place (the sample may fall back to the other zone).
    var peripheral: Bool
    var shape: LesionShape
    /// The ground glass's density, HU; nil for a consolidation without halo.
    var groundGlassHU: Double?
    /// The consolidation's density, HU; nil for ground glass.
    var consolidationHU: Double?
    /// A consolidation's core lies this far inside the outline, mm; its rim is ground glass.
    var haloMM: Double
    var groundGlassEdgeMM: Double
    var consolidationEdgeMM: Double
    var texture: Texture
    /// Ground glass's patchiness (a fraction) and consolidation's texture (HU).
    var patchiness: Double
    var consolidationTextureHU: Double
    /// The crazy-paving lines; nil for other kinds.
    var septa: Septa?
    var septaHU: Double
    /// Seeds this lesion's noise, so painting consumes nothing from the caller's generator.
    var noiseSeed: UInt64

    var diameterMM: Double
}

/// Draws the lesions of one call: how many, on which side, peripheral or central, where, and
/// each one's shape and densities. Every lesion takes the same number of draws whatever the
/// grid, so one seed gives the same lesions, at nearly the same places, on any spacing.
enum LesionPlanner {
    /// A consolidation's ground-glass rim, as a fraction of the drawn radius.
    static let haloFraction = 0.2...0.45
    /// No border is sharper than this, mm (about one voxel of a thin-slice CT).
    static let minimumEdgeMM = 1.0
    /// Ground glass is never sharper than this, mm (its margins are ill-defined).
    static let minimumGroundGlassEdgeMM = 3.0

    static func plan(_ places: LungPlaces, options: SyntheticLesionOptions, rng: inout SplitMix64) -> [LesionPlan] {
        let sampler = PlaceSampler(places, basalWeight: options.basalWeight, posteriorWeight: options.posteriorWeight)
        return plan(places, sampler: sampler, options: options, rng: &rng)
    }

    /// The same with the places' sampler made once for many calls (it depends on the options'
    /// place weights only).
    static func plan(
        _ places: LungPlaces, sampler: PlaceSampler, options: SyntheticLesionOptions, rng: inout SplitMix64
    ) -> [LesionPlan] {
        guard !places.isEmpty else { return [] }
        let lowest = max(0, options.lesionCount.lowerBound)
        let highest = max(lowest, options.lesionCount.upperBound)
        let count = lowest + Int(rng.next() % UInt64(highest - lowest + 1))
        let unilateral = rng.chance(options.unilateralProbability)
        let firstSide = sampler.side(rng.nextDouble())
        var plans: [LesionPlan] = []
        for index in 0..<count {
            let drawnSide = sampler.side(rng.nextDouble())
            // Bilateral calls put the first two lesions in different lungs.
            let side = unilateral || index == 0 ? firstSide : index == 1 ? firstSide.other : drawnSide
            let peripheral = rng.chance(options.peripheralProbability)
            let u = rng.nextDouble()
            let jitter = Vector3(rng.nextDouble() - 0.5, rng.nextDouble() - 0.5, rng.nextDouble() - 0.5)
            let lesion = drawLesion(options: options, rng: &rng)
            guard let placeIndex = sampler.place(side: side, peripheral: peripheral, u) else { continue }
            let place = places.places[placeIndex]
            // Anywhere in the sample's cell, along the voxel axes.
            let center = place.point + places.direction * jitter.scaled(by: places.stepMM)
            plans.append(lesion.placed(at: center, place: place, peripheral: peripheral))
        }
        return plans
    }

    /// A lesion's kind, size, shape and densities, not yet placed.
    static func drawLesion(options: SyntheticLesionOptions, rng: inout SplitMix64) -> LesionPlan {
        let consolidation = rng.chance(options.consolidationProbability)
        let halo = rng.chance(options.haloProbability)
        let crazyPaving = rng.chance(options.crazyPavingProbability)
        let kind: LesionKind = consolidation ? .consolidation : crazyPaving ? .crazyPaving : .groundGlass
        let smallest = max(1, options.diameterMM.lowerBound)
        let largest = max(smallest, options.diameterMM.upperBound)
        let diameter = exp(log(smallest) + rng.nextDouble() * (log(largest) - log(smallest)))
        let faint = rng.nextDouble()
        let groundGlassHU =
            options.groundGlassHU.lowerBound + faint * faint
            * (options.groundGlassHU.upperBound - options.groundGlassHU.lowerBound)
        let consolidationHU = rng.uniform(in: options.consolidationHU)
        let haloMM = diameter / 2 * rng.uniform(in: haloFraction)
        let shape = LesionShape(center: .zero, diameterMM: diameter, rng: &rng)
        let septa = Septa(rng: &rng)
        return LesionPlan(
            kind: kind,
            place: LungPlaces.Place(index: 0, point: .zero, label: 0, side: .right),
            peripheral: true,
            shape: shape,
            groundGlassHU: consolidation && !halo ? nil : groundGlassHU,
            consolidationHU: consolidation ? consolidationHU : nil,
            haloMM: consolidation && halo ? haloMM : 0,
            groundGlassEdgeMM: max(
                minimumGroundGlassEdgeMM, diameter / 2 * rng.uniform(in: options.groundGlassEdgeFraction)),
            consolidationEdgeMM: max(minimumEdgeMM, rng.uniform(in: options.consolidationEdgeMM)),
            texture: Texture(rng: &rng),
            patchiness: max(0, rng.uniform(in: options.groundGlassPatchiness)),
            consolidationTextureHU: max(0, rng.uniform(in: options.consolidationTextureHU)),
            septa: kind == .crazyPaving ? septa : nil,
            septaHU: max(0, rng.uniform(in: options.septaHU)),
            noiseSeed: rng.next(),
            diameterMM: diameter)
    }
}

extension LesionPlan {
    /// The same lesion moved to `center`.
    func placed(at center: Vector3, place: LungPlaces.Place, peripheral: Bool) -> LesionPlan {
        var plan = self
        let shift = center - shape.center
        plan.shape.center = center
        for index in plan.shape.lobes.indices {
            plan.shape.lobes[index].center = plan.shape.lobes[index].center + shift
        }
        // A lesion at the chest wall spreads along the pleura.
        if place.isPeripheral, place.wallNormal.length > 0.5 {
            plan.shape = plan.shape.turned(flatAxisAlong: place.wallNormal.normalized)
        }
        plan.place = place
        plan.peripheral = peripheral
        return plan
    }

    /// The widest soft border, mm.
    var edgeMM: Double { max(groundGlassEdgeMM, consolidationEdgeMM) }

    /// The lesion as the voxels of `geometry` see it: texture averaged over a voxel, crazy-paving
    /// lines widened and dimmed as partial volume does (a Gaussian line of half-width h blurred
    /// by a box of side Δ has about half-width √(h² + Δ²/6) and the same area).
    func averaged(over geometry: Geometry) -> LesionPlan {
        var plan = self
        plan.texture = texture.averaged(over: geometry)
        if var septa {
            let voxel = geometry.voxelVolume > 0 ? cbrt(geometry.voxelVolume) : 1
            let width = (septa.halfWidthMM * septa.halfWidthMM + voxel * voxel / 6).squareRoot()
            plan.septaHU = septaHU * septa.halfWidthMM / width
            septa.halfWidthMM = width
            plan.septa = septa
        }
        return plan
    }
}
