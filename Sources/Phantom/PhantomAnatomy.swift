import Foundation
import SeededRandom
import VolumeCore

/// The phantom's anatomy as functions of position (LPS mm; y grows to the back, z upward from
/// the lowest slice). All dimensions are of an average adult chest.
struct Anatomy: Sendable {
    /// Height of the scanned range in mm.
    var height: Double

    // Body outline: an ellipse, wider than deep.
    let bodyHalfWidth = 165.0
    let bodyHalfDepth = 115.0
    let bodyCenterY = 10.0
    let fatThickness = 14.0

    /// Lung centre (x for the right lung is negative: patient's right is −x in LPS).
    let lungCenterX = 78.0
    let lungCenterY = 8.0
    let lungHalfWidth = 58.0
    let lungHalfDepth = 80.0

    /// Thickness of the chest wall (fat, muscle, ribs) between skin and pleura, mm.
    let chestWallThickness = 28.0

    /// The body-ellipse radius (0 centre, 1 skin) at which the chest wall ends.
    func chestWallEdge(bodyScale: Double) -> Double { 1 - chestWallThickness / (bodyHalfDepth * bodyScale) }

    var lungBase: Double { height * 0.12 }
    var lungApex: Double { height * 0.97 }
    var carina: Double { height * 0.62 }

    func tissue(x: Double, y: Double, z: Double) -> (Double, UInt8) {
        let t = z / max(height, 1)
        // Table under the patient (posterior side).
        let tableY = bodyCenterY + bodyHalfDepth + 18
        if y > tableY, y < tableY + 10, abs(x) < 210 { return (TissueHU.table, 0) }

        let bodyScale = t > 0.93 ? 0.55 : 1.0  // the neck above the thorax
        let bx = x / (bodyHalfWidth * bodyScale)
        let by = (y - bodyCenterY) / (bodyHalfDepth * (t > 0.93 ? 0.6 : 1.0))
        let bodyRadius = (bx * bx + by * by).squareRoot()
        guard bodyRadius <= 1 else { return (TissueHU.air, 0) }
        let fatEdge = 1 - fatThickness / (bodyHalfDepth * bodyScale)

        // Spine: vertebral body and canal behind the lungs.
        let spineY = bodyCenterY + bodyHalfDepth - 45
        let dv = hypot(x, y - spineY)
        if dv < 18 { return (dv > 14 ? TissueHU.corticalBone : TissueHU.cancellousBone, 0) }
        if hypot(x, y - spineY - 26) < 8 { return (TissueHU.softTissue, 0) }

        // Ribs: small bone circles on an inner ellipse, present in bands along z.
        let angle = atan2(y - bodyCenterY, x)
        let ribRing = hypot(x / (bodyHalfWidth * bodyScale - 22), (y - bodyCenterY) / (bodyHalfDepth - 22))
        if t < 0.93, abs(ribRing - 1) < 0.05, sin(z / 11 + angle * 3) > 0.55 { return (TissueHU.corticalBone, 0) }

        // Trachea and main bronchi: air with a soft-tissue wall, never lung.
        if let airway = airway(x: x, y: y, z: z) { return (airway, 0) }

        // Heart (left of midline, anterior) and descending aorta beside the spine.
        let hx = (x - 18) / 62
        let hy = (y + 22) / 50
        let hz = (z - height * 0.32) / (height * 0.2)
        if hx * hx + hy * hy + hz * hz <= 1 { return (TissueHU.softTissue, 0) }
        if t < 0.8, hypot(x - 24, y - (spineY - 8)) < 12 { return (TissueHU.bloodEnhanced, 0) }
        if t >= 0.75, t < 0.82, hypot(x - 12, y + 8) < 13 { return (TissueHU.bloodEnhanced, 0) }

        // Lungs fill the thoracic cavity inside the chest wall (fat, muscle and ribs), never
        // reaching the skin.
        if bodyRadius <= chestWallEdge(bodyScale: bodyScale), let label = lungLabel(x: x, y: y, z: z) {
            return (TissueHU.lung, label)
        }
        return (bodyRadius > fatEdge ? TissueHU.fat : TissueHU.softTissue, 0)
    }

    /// 1 for the right lung, 2 for the left, nil outside both (before airways and heart).
    func lungLabel(x: Double, y: Double, z: Double) -> UInt8? {
        guard z >= lungBase * 0.5, z <= lungApex else { return nil }
        let side: UInt8 = x < 0 ? 1 : 2
        let cx = x < 0 ? -lungCenterX : lungCenterX
        // The left lung is a little smaller (the heart takes room): right lung ≈ 55 % of volume.
        let widthScale = side == 1 ? 1.0 : 0.9
        // Cross-section shrinks towards the apex.
        let towardsApex = (lungApex - z) / (lungApex - carina)
        let apexScale = towardsApex >= 1 ? 1 : max(0, towardsApex).squareRoot()
        let ax = (x - cx) / (lungHalfWidth * widthScale * apexScale + 1e-9)
        let ay = (y - lungCenterY) / (lungHalfDepth * apexScale + 1e-9)
        let r2 = ax * ax + ay * ay
        guard r2 <= 1 else { return nil }
        // Domed diaphragm: the lung floor is highest in the middle of each lung, lower at the edges.
        let dome = lungBase + height * 0.12 * (1 - r2)
        guard z >= dome else { return nil }
        return side
    }

    func airway(x: Double, y: Double, z: Double) -> Double? {
        let tracheaY = -5.0
        if z >= carina, z <= height {
            let d = hypot(x, y - tracheaY)
            if d < 9 { return TissueHU.air }
            if d < 11 { return TissueHU.softTissue }
            return nil
        }
        // Main bronchi run from the carina down and outwards for 45 mm.
        let below = carina - z
        guard below >= 0, below < 45 else { return nil }
        for sign in [-1.0, 1.0] {
            let bx = sign * (below * 0.9)
            let d = hypot(x - bx, y - tracheaY)
            if d < 6 { return TissueHU.air }
            if d < 7.5 { return TissueHU.softTissue }
        }
        return nil
    }

    /// Vessel tubes branching from each hilum towards the periphery.
    func vessels(count: Int, rng: inout SplitMix64) -> [Tube] {
        var tubes: [Tube] = []
        for index in 0..<count {
            let side = index % 2 == 0 ? -1.0 : 1.0
            let hilum = Vector3(side * 38, 5, carina - 30)
            let angle = rng.nextDouble() * 2 * .pi
            let reach = 35 + rng.nextDouble() * 40
            let end = Vector3(
                side * lungCenterX + cos(angle) * lungHalfWidth * 0.7 * rng.nextDouble(),
                lungCenterY + sin(angle) * lungHalfDepth * 0.7,
                hilum.z + (rng.nextDouble() - 0.45) * 2 * reach)
            tubes.append(Tube(start: hilum, end: end, startRadius: 4, endRadius: 1.2))
        }
        return tubes
    }

    /// Lesions centred just inside the pleura, so they touch it: on the lateral, anterior or
    /// posterior edge of a lung at mid height.
    func lesions(count: Int, rng: inout SplitMix64) -> [PhantomLesion] {
        (0..<count).map { index in
            let lung = index % 2 == 0 ? 1 : 2
            let side = lung == 1 ? -1.0 : 1.0
            let radius = 12 + rng.nextDouble() * 10
            // Directions pointing away from the mediastinum: lateral ± 70°.
            let angle = (rng.nextDouble() - 0.5) * 140 * .pi / 180
            let dx = side * cos(angle)
            let dy = sin(angle)
            let z = lungBase + (carina - lungBase) * (0.45 + 0.3 * rng.nextDouble())
            let widthScale = lung == 1 ? 1.0 : 0.9
            // Point on the lung ellipse in that direction, then 0.4 radius inwards.
            let a = lungHalfWidth * widthScale
            let b = lungHalfDepth
            let t = 1 / ((dx * dx) / (a * a) + (dy * dy) / (b * b)).squareRoot()
            let inset = t - radius * 0.4
            let center = [side * lungCenterX + dx * inset, lungCenterY + dy * inset, z]
            return PhantomLesion(
                kind: index % 2 == 0 ? .groundGlass : .consolidation, lung: lung, centerMM: center, radiusMM: radius)
        }
    }
}

/// A tapered cylinder between two points.
struct Tube: Sendable {
    var start: Vector3
    var end: Vector3
    var startRadius: Double
    var endRadius: Double

    var bounds: (Vector3, Vector3) {
        let r = max(startRadius, endRadius)
        return (
            Vector3(min(start.x, end.x) - r, min(start.y, end.y) - r, min(start.z, end.z) - r),
            Vector3(max(start.x, end.x) + r, max(start.y, end.y) + r, max(start.z, end.z) + r)
        )
    }

    func contains(_ p: Vector3) -> Bool {
        let axis = end - start
        let length2 = axis.dot(axis)
        let s = max(0, min(1, (p - start).dot(axis) / max(length2, 1e-12)))
        let closest = start + s * axis
        let radius = startRadius + (endRadius - startRadius) * s
        return (p - closest).length <= radius
    }
}
