extension UnsafeRawBufferPointer {
    /// Whether every byte is zero, looked at eight bytes at a time: how the writers find the
    /// all-zero slices of a map (outside the lungs) that they compress once and repeat.
    public var isAllZero: Bool {
        let words = count / 8
        for word in 0..<words where loadUnaligned(fromByteOffset: word * 8, as: UInt64.self) != 0 {
            return false
        }
        return self[(words * 8)...].allSatisfy { $0 == 0 }
    }
}
