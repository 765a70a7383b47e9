/// A volume's voxels shared by the workers of one parallel pass, each of which reads freely
/// and writes only voxels of its own slice: that is what makes the unchecked Sendable sound.
public struct VoxelPointer<Element>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Element>

    public init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
    public init(reading base: UnsafePointer<Element>) { self.base = UnsafeMutablePointer(mutating: base) }

    public subscript(index: Int) -> Element {
        get { base[index] }
        nonmutating set { base[index] = newValue }
    }
}
