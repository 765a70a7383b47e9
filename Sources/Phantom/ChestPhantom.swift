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
    /// How many vessel segments branch through the lungs.
    static let vesselCount = 36
    /// The HU a scanner can store: 12 bits from −1024 (−1024...3071).
    static let storedHURange: ClosedRange<Double> = -1024...3071
    /// Spreads the per-slice noise seeds apart: 2³² divided by the golden ratio, the
    /// multiplier of Knuth's multiplicative hashing.
    static let sliceSeedMultiplier: UInt64 = 0x9E37_79B9

    public static func make(_ options: PhantomOptions) -> Phantom {
        let geometry = grid(options)
        let anatomy = Anatomy(height: Double(options.slices - 1) * options.sliceSpacing)
        var rng = SplitMix64(seed: options.seed)
        let vessels = anatomy.vessels(count: vesselCount, rng: &rng)
        let lesions = anatomy.lesions(count: options.lesions, rng: &rng)

        var (hu, lungs) = drawTissues(anatomy, geometry: geometry)
        drawVessels(vessels, into: &hu, lungs: lungs, geometry: geometry)
        let lesionMask = drawLesions(lesions, into: &hu, lungs: lungs, geometry: geometry)
        let ct = stored(hu, geometry: geometry, noise: options.noise, seed: options.seed)
        return Phantom(
            ct: Volume(geometry: geometry, voxels: ct),
            lungs: Volume(geometry: geometry, voxels: lungs),
            lesionMask: Volume(geometry: geometry, voxels: lesionMask),
            lesions: lesions)
    }

    /// The phantom's grid: square slices centred on the body's axis (x and y), slice 0 at z = 0.
    static func grid(_ options: PhantomOptions) -> Geometry {
        let n = options.size
        let ps = options.resolvedPixelSpacing
        return Geometry(
            size: Size3(n, n, options.slices),
            spacing: Vector3(ps, ps, options.sliceSpacing),
            origin: Vector3(-Double(n - 1) / 2 * ps, -Double(n - 1) / 2 * ps, 0),
            direction: .identity)
    }

    /// The tissues (HU, before noise) and the lung labels at every voxel centre, slices in parallel.
    static func drawTissues(_ anatomy: Anatomy, geometry: Geometry) -> (hu: [Float], lungs: [UInt8]) {
        let (n, slices) = (geometry.size.x, geometry.size.z)
        let (ps, sliceSpacing) = (geometry.spacing.x, geometry.spacing.z)
        var hu = [Float](repeating: Float(TissueHU.air), count: geometry.size.count)
        var lungs = [UInt8](repeating: 0, count: geometry.size.count)
        let planeSize = n * n
        hu.withUnsafeMutableBufferPointer { huBuffer in
            lungs.withUnsafeMutableBufferPointer { lungBuffer in
                let huOut = UnsafeSendable(huBuffer.baseAddress!)
                let lungOut = UnsafeSendable(lungBuffer.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: slices) { k in
                    let z = Double(k) * sliceSpacing
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
        return (hu, lungs)
    }

    /// Vessels: soft tissue inside the lungs only (they stay lung in the mask).
    static func drawVessels(_ vessels: [Tube], into hu: inout [Float], lungs: [UInt8], geometry: Geometry) {
        for vessel in vessels {
            rasterize(vessel.bounds, geometry: geometry) { index, point in
                guard lungs[index] != 0, vessel.contains(point) else { return }
                hu[index] = Float(TissueHU.softTissue)
            }
        }
    }

    /// Lesions: clipped to the lung they touch, so they reach the pleura but not beyond.
    /// Returns the lesion mask (1 ground glass, 2 consolidation).
    static func drawLesions(
        _ lesions: [PhantomLesion], into hu: inout [Float], lungs: [UInt8], geometry: Geometry
    ) -> [UInt8] {
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
        return lesionMask
    }

    /// Noise, then rounding to whole HU as a scanner stores them. Each slice has its own
    /// generator seeded from the phantom's seed, so slices can be filled in parallel and the
    /// result still depends on the seed alone.
    static func stored(_ hu: [Float], geometry: Geometry, noise: Double, seed: UInt64) -> [Int16] {
        let planeSize = geometry.size.x * geometry.size.y
        let (lowest, highest) = (storedHURange.lowerBound, storedHURange.upperBound)
        var ct = [Int16](repeating: 0, count: geometry.size.count)
        hu.withUnsafeBufferPointer { huBuffer in
            ct.withUnsafeMutableBufferPointer { ctBuffer in
                let input = UnsafeSendable(UnsafeMutablePointer(mutating: huBuffer.baseAddress!))
                let output = UnsafeSendable(ctBuffer.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: geometry.size.z) { k in
                    var rng = SplitMix64(seed: seed &* sliceSeedMultiplier &+ UInt64(k))
                    for index in (k * planeSize)..<((k + 1) * planeSize) {
                        let value = Double(input.pointer[index]) + noise * rng.nextGaussian()
                        output.pointer[index] = Int16(max(lowest, min(highest, value.rounded())))
                    }
                }
            }
        }
        return ct
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

/// A pointer shared by concurrent workers that each write their own slice.
struct UnsafeSendable<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
