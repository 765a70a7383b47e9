import Foundation
import VolumeCore

/// Paints one planned lesion into the CT and its truth, in two passes over the lesion's box:
/// the first reads the untouched image (weights, airways, the local parenchyma), the second
/// writes. See `SyntheticLesions` for the rules.
struct LesionPainter {
    /// A voxel whose 3×3 in-plane mean is below this is airway lumen (air bronchogram) and stays
    /// dark. −950 HU is where the emphysema band starts (3D Slicer Lung CT Analyzer); aerated
    /// parenchyma averaged over 9 pixels stays above it (0.1 % of P001's lung voxels are below).
    static let airwayHU = -950.0
    /// The airway weight goes from 1 to 0 over ±this around `airwayHU`.
    static let airwayRampHU = 25.0
    /// Voxels denser than this are vessels or walls, not parenchyma, when the lesion's
    /// surroundings are measured.
    static let parenchymaCeilingHU = -500.0
    /// Crazy-paving lines stay below this (thickened septa are soft tissue thinner than a voxel).
    static let septaCeilingHU = -100.0
    /// Solid tissue (vessel, bronchial wall; blood and soft tissue unenhanced): a voxel this
    /// dense has no air left for ground glass to fill.
    static let solidHU = 40.0
    /// A voxel outside the mask near a lesion is partial-volume lung when it is less dense than
    /// this: partial volume at the pleura lies about −400 to −200 HU (normal001: median −266 HU
    /// in the first voxel outside lungct's mask), fat −120 to −80 HU, everything else denser.
    static let rimCeilingHU = -200.0
    /// How far outside the mask partial volume reaches, mm (two 0.6 mm pixels; one voxel at least).
    static let rimMM = 1.3
    /// How far a consolidation's edge wanders inside its halo, as a fraction of the halo's
    /// width per standard deviation of the coarse texture.
    static let coreIrregularity = 0.3
    /// The truth takes voxels where the lesion weighs at least this much.
    static let truthWeight: Float = 0.5
    /// The values a CT stores (12 bits from −1024).
    static let storedHU = -1024.0...3071.0

    let plan: LesionPlan
    let options: SyntheticLesionOptions
    let background: Background

    /// The voxel box the lesion can reach, clamped to the grid; nil when it misses it.
    func box(_ geometry: Geometry) -> (lower: [Int], upper: [Int])? {
        // Beyond half the widest border every weight is 0.
        let (low, high) = plan.shape.bounds(margin: plan.edgeMM / 2)
        var lower = [Int.max, Int.max, Int.max]
        var upper = [Int.min, Int.min, Int.min]
        for corner in 0..<8 {
            let point = Vector3(
                corner & 1 == 0 ? low.x : high.x, corner & 2 == 0 ? low.y : high.y, corner & 4 == 0 ? low.z : high.z)
            let index = geometry.continuousIndex(of: point)
            for axis in 0..<3 {
                lower[axis] = min(lower[axis], max(0, Int(index[axis].rounded(.down))))
                upper[axis] = max(upper[axis], min(geometry.size[axis] - 1, Int(index[axis].rounded(.up))))
            }
        }
        return (0..<3).allSatisfy({ lower[$0] <= upper[$0] }) ? (lower, upper) : nil
    }

    /// What the first pass finds at each box voxel.
    struct Sample {
        /// The ground-glass weight (outline with the soft ground-glass border).
        var outer: Float = 0
        /// The consolidation weight.
        var core: Float = 0
        /// 1 in airway lumen, 0 elsewhere.
        var airway: Float = 0
        /// The ground glass's local strength (patchy texture), about 1.
        var patch: Float = 1
        /// Crazy-paving line strength, 0...1.
        var septa: Float = 0
        /// Texture added to the consolidation's density, HU.
        var coreDetail: Float = 0
        /// Just outside the lung mask: changed as partial-volume lung, never in the truth.
        var rim = false
    }

    func paint(ct: inout Volume<Int16>, truth: inout Volume<UInt8>, lungs: Volume<UInt8>) {
        guard let (lower, upper) = box(ct.geometry) else { return }
        let boxSize = Size3(upper[0] - lower[0] + 1, upper[1] - lower[1] + 1, upper[2] - lower[2] + 1)
        let (samples, surroundings) = measure(ct: ct, lungs: lungs, lower: lower, boxSize: boxSize)
        guard samples.contains(where: { $0.outer > 0 || $0.core > 0 }) else { return }
        let local = surroundings.isEmpty ? background.parenchymaHU : median(surroundings)
        let noise = CorrelatedNoise.field(
            size: boxSize, residualSD: background.residualSD * max(0, options.noiseScale), seed: plan.noiseSeed)
        let groundGlass = plan.groundGlassHU.map {
            min(max($0, local + options.minimumContrastHU), max($0, options.groundGlassHU.upperBound))
        }
        let tissue = Tissue(parenchymaHU: local, groundGlassHU: groundGlass)
        let size = ct.size
        ct.voxels.withUnsafeMutableBufferPointer { hu in
            truth.voxels.withUnsafeMutableBufferPointer { labels in
                for (n, sample) in samples.enumerated() where sample.outer > 0 || sample.core > 0 {
                    let (bi, bj, bk) = (n % boxSize.x, (n / boxSize.x) % boxSize.y, n / (boxSize.x * boxSize.y))
                    let index = (lower[0] + bi) + size.x * ((lower[1] + bj) + size.y * (lower[2] + bk))
                    let (value, label) = blend(Double(hu[index]), sample, tissue, noise: Double(noise[n]))
                    hu[index] = Int16(value.rounded())
                    labels[index] = max(labels[index], label)
                }
            }
        }
    }

    /// The first pass: every box voxel's sample, and the parenchyma densities under the lesion.
    func measure(ct: Volume<Int16>, lungs: Volume<UInt8>, lower: [Int], boxSize: Size3)
        -> (samples: [Sample], surroundings: [Double])
    {
        var samples = [Sample](repeating: Sample(), count: boxSize.count)
        var surroundings: [Double] = []
        let geometry = ct.geometry
        let (nx, ny) = (geometry.size.x, geometry.size.y)
        ct.voxels.withUnsafeBufferPointer { hu in
            lungs.voxels.withUnsafeBufferPointer { labels in
                var n = 0
                for k in lower[2]..<(lower[2] + boxSize.z) {
                    for j in lower[1]..<(lower[1] + boxSize.y) {
                        for i in lower[0]..<(lower[0] + boxSize.x) {
                            defer { n += 1 }
                            let index = i + nx * (j + ny * k)
                            guard let sample = sample(i, j, k, hu: hu, labels: labels, geometry: geometry) else {
                                continue
                            }
                            samples[n] = sample
                            let old = Double(hu[index])
                            if !sample.rim, max(sample.outer, sample.core) >= Self.truthWeight,
                                old < Self.parenchymaCeilingHU
                            {
                                surroundings.append(old)
                            }
                        }
                    }
                }
            }
        }
        return (samples, surroundings)
    }

    /// The first pass at one voxel: nil outside the lesion's lung (and its rim) or its border.
    func sample(
        _ i: Int, _ j: Int, _ k: Int, hu: UnsafeBufferPointer<Int16>, labels: UnsafeBufferPointer<UInt8>,
        geometry: Geometry
    ) -> Sample? {
        let size = geometry.size
        let index = i + size.x * (j + size.y * k)
        var rim = false
        if labels[index] != plan.place.label {
            // The partial-volume voxels just outside the mask are part lung: left as they are,
            // they would draw a dark line between a lesion and the chest wall.
            guard labels[index] == 0, Double(hu[index]) < Self.rimCeilingHU,
                nearLesionLung(i, j, k, labels: labels, geometry: geometry)
            else { return nil }
            rim = true
        }
        let point = geometry.physicalPoint(i: Double(i), j: Double(j), k: Double(k))
        guard var sample = weights(at: point) else { return nil }
        sample.rim = rim
        var sum = 0.0
        for dj in -1...1 {
            for di in -1...1 {
                let (ii, jj) = (min(size.x - 1, max(0, i + di)), min(size.y - 1, max(0, j + dj)))
                sum += Double(hu[ii + size.x * (jj + size.y * k)])
            }
        }
        let ramp = (Self.airwayHU + Self.airwayRampHU - sum / 9) / (2 * Self.airwayRampHU)
        sample.airway = rim ? 0 : Float(min(1, max(0, ramp)))
        return sample
    }

    /// Whether a voxel of the lesion's lung lies within `rimMM` along a voxel axis.
    func nearLesionLung(_ i: Int, _ j: Int, _ k: Int, labels: UnsafeBufferPointer<UInt8>, geometry: Geometry) -> Bool {
        let size = geometry.size
        let position = [i, j, k]
        let strides = [1, size.x, size.x * size.y]
        let index = i + size.x * (j + size.y * k)
        for axis in 0..<3 {
            let reach = max(1, Int(Self.rimMM / geometry.spacing[axis]))
            for step in 1...reach {
                for sign in [-1, 1] where (0..<size[axis]).contains(position[axis] + sign * step) {
                    if labels[index + sign * step * strides[axis]] == plan.place.label { return true }
                }
            }
        }
        return false
    }

    /// The lesion's weights and texture at a point, or nil outside its soft border.
    func weights(at point: Vector3) -> Sample? {
        // Beyond half the widest border every weight is 0.
        let distance = plan.shape.signedDistance(point, cutoff: plan.edgeMM / 2)
        var sample = Sample()
        let local = point - plan.shape.center
        switch plan.kind {
        case .groundGlass, .crazyPaving:
            sample.outer = edgeWeight(distance, width: plan.groundGlassEdgeMM)
        case .consolidation:
            if plan.groundGlassHU != nil { sample.outer = edgeWeight(distance, width: plan.groundGlassEdgeMM) }
            // The core's edge wanders with the coarse texture: patches of consolidation in the
            // ground glass rather than a smooth inset copy of the outline.
            let wander = plan.haloMM * Self.coreIrregularity * plan.texture.coarse.value(at: local)
            let core = max(distance, distance + plan.haloMM - wander)  // never beyond the outline
            sample.core = edgeWeight(core, width: plan.consolidationEdgeMM)
        }
        guard sample.outer > 0 || sample.core > 0 else { return nil }
        let texture = plan.texture.value(at: local)
        sample.patch = Float(max(0, 1 + plan.patchiness * texture))
        if let septa = plan.septa { sample.septa = Float(septa.value(at: local)) }
        sample.coreDetail = Float(texture * plan.consolidationTextureHU)
        return sample
    }

    /// The densities a lesion works with: the parenchyma under it and its ground glass.
    struct Tissue {
        var parenchymaHU: Double
        var groundGlassHU: Double?

        /// The share of a voxel that is solid (vessel, wall, pleura) rather than aerated lung,
        /// by where its density lies between the parenchyma and solid tissue.
        func solidShare(_ hu: Double) -> Double {
            min(1, max(0, (hu - parenchymaHU) / (LesionPainter.solidHU - parenchymaHU)))
        }
    }

    /// A voxel's new value and its truth label. Ground glass fills part of the air in the voxel:
    /// it adds (target − parenchyma) × weight × patchy texture to the share of the voxel that is
    /// not yet solid, so vessels, also where they fill a voxel only in part, keep their contrast
    /// over it, and the image's own noise and texture stay. Consolidation replaces the voxel;
    /// airway lumen keeps its air; the added noise makes up the image's noise in the share of
    /// the voxel that was replaced.
    func blend(_ old: Double, _ sample: Sample, _ tissue: Tissue, noise: Double) -> (Double, UInt8) {
        let open = Double(1 - sample.airway)
        var value = old
        var envelope = 0.0
        if let groundGlass = tissue.groundGlassHU {
            let contrast = max(0, groundGlass - tissue.parenchymaHU)
            envelope = Double(sample.outer) * contrast
            let solid = tissue.solidShare(old)
            let lines = plan.septaHU * Double(sample.septa)
            value += Double(sample.outer) * open * (1 - solid) * (contrast * Double(sample.patch) + lines)
            if sample.septa > 0 { value = min(value, max(old, Self.septaCeilingHU)) }
        }
        var kept = 1.0
        if let consolidation = plan.consolidationHU {
            let weight = Double(sample.core) * open
            let target = consolidation + Double(sample.coreDetail)
            if sample.rim {
                // Only the lung share of the voxel consolidates.
                let lung = 1 - tissue.solidShare(old)
                value = max(value, old + weight * lung * (target - tissue.parenchymaHU))
            } else {
                value += weight * (target - value)
                kept = 1 - weight
            }
        }
        value += (max(0, 1 - kept * kept)).squareRoot() * noise
        value = min(Self.storedHU.upperBound, max(min(old, Self.storedHU.lowerBound), value))

        // The truth is the lesion's envelope, as a radiologist outlines it: vessels, airways and
        // fainter patches inside it included.
        var label = LesionLabel.none
        if sample.rim {
            label = LesionLabel.none
        } else if sample.core >= Self.truthWeight {
            label = LesionLabel.consolidation
        } else if sample.outer >= Self.truthWeight, envelope >= options.truthMinimumChangeHU {
            label = LesionLabel.groundGlass
        }
        return (value, label)
    }
}

/// 1 well inside the outline, 0 well outside, ½ on it; smooth over `width` mm.
func edgeWeight(_ signedDistance: Double, width: Double) -> Float {
    let x = min(1, max(0, 0.5 - signedDistance / width))
    return Float(x * x * (3 - 2 * x))
}
