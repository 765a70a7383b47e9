import Foundation

/// How lungct writes JSON (report.json, case.json, training reports, `--json` on stdout): keys
/// sorted so files diff cleanly, slashes unescaped so paths read as paths, and non-finite
/// numbers as the strings "inf", "-inf" and "nan" instead of a failed encode.
public enum JSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// `value` encoded as `encoder()` does.
    public static func encode<Value: Encodable>(_ value: Value) throws -> Data {
        try encoder().encode(value)
    }

    /// `value` encoded and written to `path` atomically (`AtomicFile`).
    public static func write<Value: Encodable>(_ value: Value, to path: String) throws(LungCTError) {
        try AtomicFile.write(to: path) { partial in try encode(value).write(to: URL(fileURLWithPath: partial)) }
    }
}
