/// A dense float tensor: a shape and row-major storage (last axis fastest). Feature maps are
/// NCHW (batch, channels, height, width); convolution weights are OIHW.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var storage: [Float]

    /// A tensor over existing values; their count must be the product of the shape.
    public init(shape: [Int], storage: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in \(shape)")
        precondition(storage.count == shape.reduce(1, *), "Tensor: \(storage.count) values do not fill shape \(shape)")
        self.shape = shape
        self.storage = storage
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, storage: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { storage.count }

    /// The step in `storage` for one step along each axis.
    public var strides: [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.dropLast().reversed() {
            strides[axis] = strides[axis + 1] * shape[axis + 1]
        }
        return strides
    }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    /// One element; out-of-range indices trap. Meant for tests and set-up code, not kernels.
    public subscript(_ indices: Int...) -> Float {
        get { storage[offset(indices)] }
        set { storage[offset(indices)] = newValue }
    }

    private func offset(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count, "Tensor: \(indices.count) indices for rank \(shape.count)")
        var offset = 0
        for (index, extent) in zip(indices, shape) {
            precondition(index >= 0 && index < extent, "Tensor: index \(indices) out of shape \(shape)")
            offset = offset * extent + index
        }
        return offset
    }
}

/// A (height, width) pair of integers: a kernel size, stride, padding or dilation. An
/// integer literal means the same value on both axes (`stride: 2`).
public struct Pair2D: Sendable, Hashable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    public init(integerLiteral value: Int) {
        self.init(height: value, width: value)
    }

    public var description: String { "\(height)×\(width)" }
}
