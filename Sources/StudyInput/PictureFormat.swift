/// Picture formats lungct does not read, told by their first bytes, so that a GIF named
/// `.png` gets a message that says what it is instead of "not a DICOM file".
public enum PictureFormat {
    /// Signatures: GIF (GIF87a/GIF89a), BMP ("BM"), TIFF (little- and big-endian), WebP
    /// (RIFF....WEBP), JPEG 2000 (JP2 box) and JPEG XL (codestream and container).
    static let signatures: [(name: String, bytes: [UInt8?])] = [
        ("GIF", Array("GIF8".utf8)),
        ("BMP", Array("BM".utf8)),
        ("TIFF", [0x49, 0x49, 0x2A, 0x00]),
        ("TIFF", [0x4D, 0x4D, 0x00, 0x2A]),
        ("WebP", Array("RIFF".utf8) + [nil, nil, nil, nil] + Array("WEBP".utf8)),
        ("JPEG 2000", [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]),
        ("JPEG XL", [0xFF, 0x0A]),
        ("JPEG XL", [0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]),
    ]

    /// The name of the unsupported format `bytes` (a file's first 12 bytes) starts with, if any.
    public static func unsupported(_ bytes: [UInt8]) -> String? {
        signatures.first { signature in
            signature.bytes.count <= bytes.count
                && zip(signature.bytes, bytes).allSatisfy { expected, actual in expected == nil || expected == actual }
        }?.name
    }

    /// Why a picture in `format` is not read, and what to do.
    public static func refusal(_ format: String) -> String {
        "a \(format) picture (by its content, whatever its name says); lungct reads PNG, JPEG and DICOM "
            + "radiographs: convert it to PNG, or better, use the original DICOM"
    }
}
