import Dispatch
import Foundation
import SeededRandom
import VolumeCore

/// Typical attenuation of the tissues the phantom draws, in HU. Values are the usual
/// textbook figures for unenhanced/enhanced chest CT (e.g. Hounsfield-scale tables in
/// Prokop & Galanski, Spiral and Multislice CT of the Body).
public enum TissueHU {
    public static let air: Double = -1000
    public static let lung: Double = -850
    public static let fat: Double = -100
    public static let softTissue: Double = 40
    public static let bloodEnhanced: Double = 150
    public static let cancellousBone: Double = 250
    public static let corticalBone: Double = 800
    public static let table: Double = 100
    /// Ground-glass opacity: hazy, vessels still visible (−750..−300 HU in COVID-19 series).
    public static let groundGlass: Double = -500
    /// Consolidation: air replaced by fluid or cells, soft-tissue density.
    public static let consolidation: Double = 30
}

/// What kind of lesion a phantom lesion is.
public enum LesionKind: String, Sendable, Codable {
    case groundGlass = "ground-glass"
    case consolidation
}

/// Parameters of the synthetic chest.
public struct PhantomOptions: Sendable, Codable {
    /// Rows and columns of each slice.
    public var size: Int = 256
    public var slices: Int = 120
    /// In-plane spacing in mm; default covers a 380 mm field of view.
    public var pixelSpacing: Double? = nil
    public var sliceSpacing: Double = 2.5
    public var lesions: Int = 2
    public var seed: UInt64 = 1
    /// Standard deviation of the Gaussian noise, HU.
    public var noise: Double = 12

    public init() {}

    public var resolvedPixelSpacing: Double { pixelSpacing ?? 380 / Double(size) }
}

/// One lesion placed in the phantom.
public struct PhantomLesion: Sendable, Codable {
    public var kind: LesionKind
    /// 1 = the patient's right lung, 2 = the left.
    public var lung: Int
    public var centerMM: [Double]
    public var radiusMM: Double
}

/// A synthetic chest CT with its ground truth.
public struct Phantom: Sendable {
    /// HU, LPS, axial, slice 0 lowest (inferior).
    public var ct: Volume<Int16>
    /// 0 background, 1 right lung, 2 left lung (the patient's sides): vessels and lesions inside
    /// the lungs are lung; trachea and main bronchi are not.
    public var lungs: Volume<UInt8>
    /// 0 none, 1 ground-glass, 2 consolidation.
    public var lesionMask: Volume<UInt8>
    public var lesions: [PhantomLesion]
}

/// A reproducible synthetic chest CT: body with fat layer, table, spine and ribs, heart and
/// aorta, trachea and main bronchi, two lungs at about −850 HU with branching vessels, domed
/// diaphragm, lesions touching the pleura, and Gaussian noise. Shapes are defined in
/// millimetres, so the anatomy is the same at any resolution.
public enum ChestPhantom {
    public static func make(_ options: PhantomOptions) -> Phantom {
        let n = options.size
        let ps = options.resolvedPixelSpacing
        let geometry = Geometry(
            size: Size3(n, n, options.slices),
            spacing: Vector3(ps, ps, options.sliceSpacing),
            origin: Vector3(-Double(n - 1) / 2 * ps, -Double(n - 1) / 2 * ps, 0),
            direction: .identity)
        let anatomy = Anatomy(height: Double(options.slices - 1) * options.sliceSpacing)
        var rng = SplitMix64(seed: options.seed)
        let vessels = anatomy.vessels(count: 36, rng: &rng)
        let lesions = anatomy.lesions(count: options.lesions, rng: &rng)

        var hu = [Float](repeating: Float(TissueHU.air), count: geometry.size.count)
        var lungs = [UInt8](repeating: 0, count: geometry.size.count)
        let planeSize = n * n
        hu.withUnsafeMutableBufferPointer { huBuffer in
            lungs.withUnsafeMutableBufferPointer { lungBuffer in
                let huOut = UnsafeSendable(huBuffer.baseAddress!)
                let lungOut = UnsafeSendable(lungBuffer.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: options.slices) { k in
                    let z = Double(k) * options.sliceSpacing
                    for j in 0..<n {
                        let y = geometry.origin.y + Double(j) * ps
                        for i in 0..<n {
                            let x = geometry.origin.x + Double(i) * ps
                            let (value, label) = anatomy.tissue(x: x, y: y, z: z)
                            huOut.pointer[k * planeSize + j * n + i] = Float(value)
                            lungOut.pointer[k * planeSize + j * n + i] = label
                        }
                    }
                }
            }
        }

        // Vessels: soft tissue inside the lungs only (they stay lung in the mask).
        for vessel in vessels {
            rasterize(vessel.bounds, geometry: geometry) { index, point in
                guard lungs[index] != 0, vessel.contains(point) else { return }
                hu[index] = Float(TissueHU.softTissue)
            }
        }
        // Lesions: clipped to the lung they touch, so they reach the pleura but not beyond.
        var lesionMask = [UInt8](repeating: 0, count: geometry.size.count)
        for lesion in lesions {
            let center = Vector3(lesion.centerMM[0], lesion.centerMM[1], lesion.centerMM[2])
            let r = lesion.radiusMM
            let bounds = (center - Vector3(r, r, r), center + Vector3(r, r, r))
            rasterize(bounds, geometry: geometry) { index, point in
                guard lungs[index] == UInt8(lesion.lung), (point - center).length <= r else { return }
                switch lesion.kind {
                case .groundGlass:
                    // Ground glass raises the density but vessels stay visible through it.
                    hu[index] = max(hu[index], Float(TissueHU.groundGlass))
                    lesionMask[index] = 1
                case .consolidation:
                    hu[index] = Float(TissueHU.consolidation)
                    lesionMask[index] = 2
                }
            }
        }

        // Noise, then rounding to whole HU as a scanner stores them. Each slice has its own
        // generator seeded from the phantom's seed, so slices can be filled in parallel and the
        // result still depends on the seed alone.
        var ct = [Int16](repeating: 0, count: geometry.size.count)
        let noise = options.noise
        hu.withUnsafeBufferPointer { huBuffer in
            ct.withUnsafeMutableBufferPointer { ctBuffer in
                let input = UnsafeSendable(UnsafeMutablePointer(mutating: huBuffer.baseAddress!))
                let output = UnsafeSendable(ctBuffer.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: options.slices) { k in
                    var rng = SplitMix64(seed: options.seed &* 0x9E37_79B9 &+ UInt64(k))
                    for index in (k * planeSize)..<((k + 1) * planeSize) {
                        let value = Double(input.pointer[index]) + noise * rng.nextGaussian()
                        output.pointer[index] = Int16(max(-1024, min(3071, value.rounded())))
                    }
                }
            }
        }
        return Phantom(
            ct: Volume(geometry: geometry, voxels: ct),
            lungs: Volume(geometry: geometry, voxels: lungs),
            lesionMask: Volume(geometry: geometry, voxels: lesionMask),
            lesions: lesions)
    }

    /// Calls `body` for every voxel whose centre lies in the box `bounds` (LPS mm).
    static func rasterize(
        _ bounds: (Vector3, Vector3), geometry: Geometry, _ body: (_ index: Int, _ point: Vector3) -> Void
    ) {
        let low = geometry.continuousIndex(of: bounds.0)
        let high = geometry.continuousIndex(of: bounds.1)
        let size = geometry.size
        let i0 = max(0, Int(min(low.x, high.x).rounded(.down)))
        let i1 = min(size.x - 1, Int(max(low.x, high.x).rounded(.up)))
        let j0 = max(0, Int(min(low.y, high.y).rounded(.down)))
        let j1 = min(size.y - 1, Int(max(low.y, high.y).rounded(.up)))
        let k0 = max(0, Int(min(low.z, high.z).rounded(.down)))
        let k1 = min(size.z - 1, Int(max(low.z, high.z).rounded(.up)))
        guard i0 <= i1, j0 <= j1, k0 <= k1 else { return }
        for k in k0...k1 {
            for j in j0...j1 {
                for i in i0...i1 {
                    let point = geometry.physicalPoint(i: Double(i), j: Double(j), k: Double(k))
                    body(i + size.x * (j + size.y * k), point)
                }
            }
        }
    }
}

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
            return PhantomLesion(kind: index % 2 == 0 ? .groundGlass : .consolidation, lung: lung, centerMM: center, radiusMM: radius)
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

/// A pointer shared by concurrent workers that each write their own slice.
struct UnsafeSendable<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
