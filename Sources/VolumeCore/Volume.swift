/// A 3D image: contiguous voxels (x fastest, then y, then z) and the geometry that places
/// them in patient space. A value type; the storage is copied only when a shared copy is
/// mutated, so pass large volumes `consuming` or `inout` to avoid that.
public struct Volume<Voxel: Sendable>: Sendable {
    public var geometry: Geometry
    public var voxels: [Voxel]

    public init(geometry: Geometry, voxels: [Voxel]) {
        precondition(voxels.count == geometry.size.count, "voxel count does not match the geometry's size")
        self.geometry = geometry
        self.voxels = voxels
    }

    /// A volume filled with one value.
    public init(geometry: Geometry, repeating value: Voxel) {
        self.init(geometry: geometry, voxels: Array(repeating: value, count: geometry.size.count))
    }

    public var size: Size3 { geometry.size }

    @inlinable
    public func linearIndex(_ i: Int, _ j: Int, _ k: Int) -> Int {
        i + geometry.size.x * (j + geometry.size.y * k)
    }

    public subscript(i: Int, j: Int, k: Int) -> Voxel {
        get { voxels[linearIndex(i, j, k)] }
        set { voxels[linearIndex(i, j, k)] = newValue }
    }

    /// The same image with its voxel axes permuted and flipped so that its orientation code
    /// (see `Geometry.orientationCode`) becomes `target`, e.g. "LPS" or "RAS". Every voxel keeps
    /// its position in patient space; only the storage order and the geometry change, so the
    /// operation round-trips exactly. Oblique images are matched axis by axis to the nearest
    /// patient axis.
    public func reoriented(to target: String) throws(VolumeError) -> Volume<Voxel> {
        let plan = try ReorientationPlan(from: geometry, to: target)
        let source = geometry.size
        let newSize = plan.newSize(source)
        var newGeometry = geometry
        newGeometry.size = newSize
        for axis in 0..<3 {
            let s = plan.sourceAxis[axis]
            newGeometry.spacing[axis] = geometry.spacing[s]
            newGeometry.direction[axis] = plan.flipped[axis] ? -geometry.direction[s] : geometry.direction[s]
        }
        // The new origin is the centre of the source voxel that lands at new index (0, 0, 0).
        var firstSourceIndex = [0.0, 0.0, 0.0]
        for axis in 0..<3 where plan.flipped[axis] {
            firstSourceIndex[plan.sourceAxis[axis]] = Double(source[plan.sourceAxis[axis]] - 1)
        }
        newGeometry.origin = geometry.physicalPoint(
            i: firstSourceIndex[0], j: firstSourceIndex[1], k: firstSourceIndex[2])

        // Strides in the source for one step along each new axis.
        let sourceStrides = [1, source.x, source.x * source.y]
        var step = [0, 0, 0]
        var start = 0
        for axis in 0..<3 {
            let s = plan.sourceAxis[axis]
            step[axis] = plan.flipped[axis] ? -sourceStrides[s] : sourceStrides[s]
            if plan.flipped[axis] { start += (source[s] - 1) * sourceStrides[s] }
        }
        let result = [Voxel](unsafeUninitializedCapacity: voxels.count) { buffer, initialized in
            voxels.withUnsafeBufferPointer { input in
                var out = 0
                for k in 0..<newSize.z {
                    let planeStart = start + k * step[2]
                    for j in 0..<newSize.y {
                        var index = planeStart + j * step[1]
                        for _ in 0..<newSize.x {
                            (buffer.baseAddress! + out).initialize(to: input[index])
                            out += 1
                            index += step[0]
                        }
                    }
                }
            }
            initialized = voxels.count
        }
        return Volume(geometry: newGeometry, voxels: result)
    }

    /// A new volume of another voxel type on the same grid.
    public func map<Other: Sendable>(_ transform: (Voxel) throws -> Other) rethrows -> Volume<Other> {
        Volume<Other>(geometry: geometry, voxels: try voxels.map(transform))
    }
}

/// How to go from one orientation to another: for each new axis, which source axis feeds it
/// and whether it runs backwards.
struct ReorientationPlan {
    var sourceAxis: [Int]
    var flipped: [Bool]

    init(from geometry: Geometry, to target: String) throws(VolumeError) {
        let letters = Array(target.uppercased())
        guard letters.count == 3 else { throw .invalidOrientation(target) }
        let current = Array(geometry.orientationCode)
        let opposite: [Character: Character] = ["L": "R", "R": "L", "P": "A", "A": "P", "S": "I", "I": "S"]
        var sourceAxis: [Int] = []
        var flipped: [Bool] = []
        for letter in letters {
            guard let reverse = opposite[letter] else { throw .invalidOrientation(target) }
            if let same = current.firstIndex(of: letter) {
                sourceAxis.append(same)
                flipped.append(false)
            } else if let other = current.firstIndex(of: reverse) {
                sourceAxis.append(other)
                flipped.append(true)
            } else {
                throw .invalidOrientation(target)
            }
        }
        guard Set(sourceAxis).count == 3 else { throw .invalidOrientation(target) }
        self.sourceAxis = sourceAxis
        self.flipped = flipped
    }

    func newSize(_ source: Size3) -> Size3 {
        Size3(source[sourceAxis[0]], source[sourceAxis[1]], source[sourceAxis[2]])
    }
}

/// Problems with a volume's shape or orientation.
public enum VolumeError: Error, Equatable, CustomStringConvertible {
    case invalidOrientation(String)
    case tooLarge(source: String, size: Size3, bytes: Int, limit: Int)
    case emptySize(source: String, size: Size3)

    public var description: String {
        switch self {
        case .invalidOrientation(let code):
            return
                "'\(code)' is not an orientation code: use three letters, one of L/R, one of P/A, one of S/I (for example LPS or RAS)"
        case .tooLarge(let source, let size, let bytes, let limit):
            return
                "\(source): the header describes a \(size) image (\(bytes / 1_048_576) MiB), over lungct's limit of \(limit / 1_048_576) MiB per volume; the header is probably corrupt"
        case .emptySize(let source, let size):
            return "\(source): the header describes an empty image (\(size))"
        }
    }
}

/// Limits that keep a corrupt header from making lungct allocate absurd amounts of memory.
public enum VolumeLimits {
    /// The largest volume lungct will allocate, in bytes: 8 GiB. A 1024×1024×2000 int16 CT
    /// (larger than any clinical chest CT) is 4 GiB, and the machines lungct targets have
    /// 16 GiB or more; a header asking for more than this is corrupt or not a chest image.
    public static let maximumBytes = 8 << 30

    /// Throws unless a volume of `size` with `bytesPerVoxel` is non-empty and within the limit.
    /// Multiplication is overflow-checked, so a header claiming 60000³ voxels is refused too.
    public static func checkAllocation(_ size: Size3, bytesPerVoxel: Int, source: String) throws(VolumeError) {
        guard size.x > 0, size.y > 0, size.z > 0 else { throw .emptySize(source: source, size: size) }
        var bytes = bytesPerVoxel
        for extent in [size.x, size.y, size.z] {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= maximumBytes else {
                throw .tooLarge(source: source, size: size, bytes: overflow ? Int.max : product, limit: maximumBytes)
            }
            bytes = product
        }
    }
}
