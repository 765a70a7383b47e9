/// A point or direction in patient space, in millimetres.
public struct Vector3: Hashable, Sendable, CustomStringConvertible {
    public var x: Double
    public var y: Double
    public var z: Double

    public init(_ x: Double, _ y: Double, _ z: Double) {
        self.x = x
        self.y = y
        self.z = z
    }

    public static let zero = Vector3(0, 0, 0)

    public subscript(axis: Int) -> Double {
        get { axis == 0 ? x : axis == 1 ? y : z }
        set {
            switch axis {
            case 0: x = newValue
            case 1: y = newValue
            default: z = newValue
            }
        }
    }

    public static func + (a: Vector3, b: Vector3) -> Vector3 { Vector3(a.x + b.x, a.y + b.y, a.z + b.z) }
    public static func - (a: Vector3, b: Vector3) -> Vector3 { Vector3(a.x - b.x, a.y - b.y, a.z - b.z) }
    public static func * (s: Double, a: Vector3) -> Vector3 { Vector3(s * a.x, s * a.y, s * a.z) }
    public static prefix func - (a: Vector3) -> Vector3 { Vector3(-a.x, -a.y, -a.z) }

    public func dot(_ b: Vector3) -> Double { x * b.x + y * b.y + z * b.z }

    public func cross(_ b: Vector3) -> Vector3 {
        Vector3(y * b.z - z * b.y, z * b.x - x * b.z, x * b.y - y * b.x)
    }

    public var length: Double { dot(self).squareRoot() }

    public var normalized: Vector3 {
        let l = length
        return l > 0 ? (1 / l) * self : self
    }

    /// Componentwise product (spacing times index).
    public func scaled(by s: Vector3) -> Vector3 { Vector3(x * s.x, y * s.y, z * s.z) }

    public var description: String { "(\(x), \(y), \(z))" }
}

/// A 3×3 matrix stored by columns. As a direction matrix, column `a` is the unit vector in
/// patient space (LPS) along which voxel index `a` grows.
public struct Matrix3: Hashable, Sendable {
    public var columns: (Vector3, Vector3, Vector3)

    public init(columns c0: Vector3, _ c1: Vector3, _ c2: Vector3) {
        columns = (c0, c1, c2)
    }

    public static let identity = Matrix3(columns: Vector3(1, 0, 0), Vector3(0, 1, 0), Vector3(0, 0, 1))

    public subscript(column: Int) -> Vector3 {
        get { column == 0 ? columns.0 : column == 1 ? columns.1 : columns.2 }
        set {
            switch column {
            case 0: columns.0 = newValue
            case 1: columns.1 = newValue
            default: columns.2 = newValue
            }
        }
    }

    /// Element at `row`, `column`.
    public func element(_ row: Int, _ column: Int) -> Double { self[column][row] }

    public static func * (m: Matrix3, v: Vector3) -> Vector3 {
        v.x * m.columns.0 + v.y * m.columns.1 + v.z * m.columns.2
    }

    public var transposed: Matrix3 {
        Matrix3(
            columns: Vector3(columns.0.x, columns.1.x, columns.2.x),
            Vector3(columns.0.y, columns.1.y, columns.2.y),
            Vector3(columns.0.z, columns.1.z, columns.2.z))
    }

    public var determinant: Double { columns.0.dot(columns.1.cross(columns.2)) }

    /// The inverse, or nil for a singular matrix.
    public var inverse: Matrix3? {
        let det = determinant
        guard abs(det) > 1e-12 else { return nil }
        let r0 = columns.1.cross(columns.2)
        let r1 = columns.2.cross(columns.0)
        let r2 = columns.0.cross(columns.1)
        // The rows of the inverse are the cross products divided by the determinant.
        return Matrix3(columns: (1 / det) * r0, (1 / det) * r1, (1 / det) * r2).transposed
    }

    public static func == (a: Matrix3, b: Matrix3) -> Bool {
        a.columns.0 == b.columns.0 && a.columns.1 == b.columns.1 && a.columns.2 == b.columns.2
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(columns.0)
        hasher.combine(columns.1)
        hasher.combine(columns.2)
    }
}
