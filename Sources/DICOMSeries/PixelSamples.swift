// What decoding needs to read one slice's stored samples: their layout, padding, and the
// pointer the workers share.

/// Turns raw stored samples into values: masked to (0028,0101) Bits Stored, or sign-extended
/// from it when (0028,0103) Pixel Representation is 1 (PS3.5 8.1.1; PS3.3 C.7.6.3.1).
struct SampleDecoder {
    let wide: Bool
    let signed: Bool
    let shift: Int
    let mask: UInt16

    init(_ header: DICOMHeader) {
        self.init(bitsAllocated: header.bitsAllocated, bitsStored: header.bitsStored, signed: header.isSigned)
    }

    init(bitsAllocated: Int, bitsStored: Int, signed: Bool) {
        wide = bitsAllocated == 16
        self.signed = signed
        let bits = max(1, min(bitsStored, bitsAllocated))
        shift = (wide ? 16 : 8) - bits
        mask = UInt16(truncatingIfNeeded: (1 << bits) - 1)
    }

    @inline(__always) func value(_ raw: UnsafeRawPointer, _ index: Int) -> Int32 {
        if wide {
            let word = raw.load(fromByteOffset: index * 2, as: UInt16.self)
            return signed ? Int32(Int16(bitPattern: word &<< UInt16(shift)) &>> Int16(shift)) : Int32(word & mask)
        }
        let byte = raw.load(fromByteOffset: index, as: UInt8.self)
        return signed
            ? Int32(Int8(bitPattern: byte &<< UInt8(shift)) &>> Int8(shift))
            : Int32(byte & UInt8(truncatingIfNeeded: mask))
    }
}

/// A pointer that concurrent workers write through, each to its own slice's plane: the
/// planes never overlap, which is what makes the unchecked Sendable sound.
struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// (0028,0120) Pixel Padding Value, alone or with (0028,0121) Pixel Padding Range Limit
/// (PS3.3 C.7.5.1.1.2): stored values in the range are "no data".
struct Padding {
    var low: Int32
    var high: Int32
    var active: Bool

    init(_ header: DICOMHeader) {
        guard let value = header.pixelPaddingValue else {
            low = 0
            high = -1
            active = false
            return
        }
        let limit = header.pixelPaddingRangeLimit ?? value
        low = Int32(min(value, limit))
        high = Int32(max(value, limit))
        active = true
    }

    @inline(__always) func contains(_ value: Int32) -> Bool { active && value >= low && value <= high }
}
