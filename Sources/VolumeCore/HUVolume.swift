/// A CT volume in Hounsfield units: int16 when every slice's rescale is integral and every
/// value fits (the usual case), float32 otherwise.
public enum HUVolume: Sendable {
    case int16(Volume<Int16>)
    case float32(Volume<Float>)

    public var geometry: Geometry {
        switch self {
        case .int16(let v): v.geometry
        case .float32(let v): v.geometry
        }
    }

    /// The voxel type's name, as NIfTI and numpy call it.
    public var typeName: String {
        switch self {
        case .int16: "int16"
        case .float32: "float32"
        }
    }

    /// The HU values as float32 (a copy for int16 volumes).
    public var asFloat: Volume<Float> {
        switch self {
        case .int16(let v): v.map { Float($0) }
        case .float32(let v): v
        }
    }

    /// The HU values rounded to int16, saturating (a copy for float32 volumes).
    public var asInt16: Volume<Int16> {
        switch self {
        case .int16(let v): v
        case .float32(let v): v.map { Int16(max(-32768, min(32767, $0.rounded()))) }
        }
    }
}

/// The two voxel types a HU volume is stored in.
public protocol HUVoxel: Sendable {
    var doubleValue: Double { get }
    init(fromDouble value: Double)
}

extension Int16: HUVoxel {
    public var doubleValue: Double { Double(self) }
    public init(fromDouble value: Double) { self = Int16(Swift.max(-32768, Swift.min(32767, value.rounded()))) }
}

extension Float: HUVoxel {
    public var doubleValue: Double { Double(self) }
    public init(fromDouble value: Double) { self = Float(value) }
}
