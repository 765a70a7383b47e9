import Foundation

/// Where a voxel grid sits in patient space: size, spacing, origin and direction cosines, in
/// DICOM's patient coordinate system LPS (x to the patient's left, y to posterior, z to head),
/// as SimpleITK and DICOM (PS3.3 C.7.6.2.1.1) define them.
///
/// Voxel `(i, j, k)` has its centre at `origin + direction * (spacing ∘ (i, j, k))`.
public struct Geometry: Hashable, Sendable {
    public var size: Size3
    public var spacing: Vector3
    public var origin: Vector3
    public var direction: Matrix3

    public init(size: Size3, spacing: Vector3, origin: Vector3 = .zero, direction: Matrix3 = .identity) {
        self.size = size
        self.spacing = spacing
        self.origin = origin
        self.direction = direction
    }

    /// Centre of the voxel at a (possibly fractional) index, in LPS millimetres.
    public func physicalPoint(i: Double, j: Double, k: Double) -> Vector3 {
        origin + direction * Vector3(i, j, k).scaled(by: spacing)
    }

    /// The fractional index of a point in LPS millimetres.
    public func continuousIndex(of point: Vector3) -> Vector3 {
        let inverse = direction.inverse ?? .identity
        let local = inverse * (point - origin)
        return Vector3(local.x / spacing.x, local.y / spacing.y, local.z / spacing.z)
    }

    /// The 4×4 affine from (i, j, k, 1) to LPS millimetres, row-major.
    public var affineLPS: [[Double]] {
        (0..<3).map { row in
            (0..<3).map { column in direction.element(row, column) * spacing[column] } + [origin[row]]
        } + [[0, 0, 0, 1]]
    }

    /// The 4×4 affine from (i, j, k, 1) to RAS millimetres (NIfTI's convention): LPS with the
    /// first two rows negated.
    public var affineRAS: [[Double]] {
        var affine = affineLPS
        for column in 0..<4 {
            affine[0][column] = -affine[0][column]
            affine[1][column] = -affine[1][column]
        }
        return affine
    }

    /// A geometry from a 4×4 RAS affine (NIfTI sform or qform), row-major. Spacing is the
    /// length of each column; directions are the normalised columns, converted to LPS.
    public init(size: Size3, affineRAS affine: [[Double]]) {
        var columns: [Vector3] = []
        var spacing = Vector3(1, 1, 1)
        for column in 0..<3 {
            let lps = Vector3(-affine[0][column], -affine[1][column], affine[2][column])
            let length = lps.length
            spacing[column] = length > 0 ? length : 1
            columns.append(length > 0 ? lps.normalized : Matrix3.identity[column])
        }
        self.init(
            size: size,
            spacing: spacing,
            origin: Vector3(-affine[0][3], -affine[1][3], affine[2][3]),
            direction: Matrix3(columns: columns[0], columns[1], columns[2]))
    }

    /// The anatomical direction each voxel axis points to most, as three letters in LPS terms:
    /// "LPS" is DICOM's usual axial layout, "RAS" NIfTI's. Each letter names where the index
    /// grows towards (L/R, P/A, S/I).
    public var orientationCode: String {
        String((0..<3).map { Self.letter(for: direction[$0]) })
    }

    /// Largest angle, in degrees, between a voxel axis and the nearest patient axis.
    public var obliquityDegrees: Double {
        (0..<3).map { axis -> Double in
            let column = direction[axis]
            let largest = max(abs(column.x), abs(column.y), abs(column.z))
            return acosDegrees(min(1, largest))
        }.max() ?? 0
    }

    /// The letter for a direction: the patient axis it is closest to, and which way it points.
    static func letter(for direction: Vector3) -> Character {
        let magnitudes = [abs(direction.x), abs(direction.y), abs(direction.z)]
        let axis = magnitudes.firstIndex(of: magnitudes.max()!)!
        let positive = direction[axis] >= 0
        switch axis {
        case 0: return positive ? "L" : "R"
        case 1: return positive ? "P" : "A"
        default: return positive ? "S" : "I"
        }
    }

    /// Voxel volume in cubic millimetres.
    public var voxelVolume: Double { spacing.x * spacing.y * spacing.z }
}

func acosDegrees(_ cosine: Double) -> Double {
    acos(max(-1, min(1, cosine))) * 180 / Double.pi
}

/// The number of voxels along each axis.
public struct Size3: Hashable, Sendable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var z: Int

    public init(_ x: Int, _ y: Int, _ z: Int) {
        self.x = x
        self.y = y
        self.z = z
    }

    public subscript(axis: Int) -> Int {
        get { axis == 0 ? x : axis == 1 ? y : z }
        set {
            switch axis {
            case 0: x = newValue
            case 1: y = newValue
            default: z = newValue
            }
        }
    }

    public var count: Int { x * y * z }
    public var description: String { "\(x)×\(y)×\(z)" }
}
