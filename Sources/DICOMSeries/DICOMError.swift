import AppSupport

/// A DICOM file or series lungct could not use, with the file and DCMTK's own message.
public typealias DICOMError = KindedFileError<DICOMErrorKind>

/// What went wrong with a DICOM file or series.
public enum DICOMErrorKind: Sendable, Equatable {
    case notDICOM, unreadable, noPixelData, undecodable, badPixelSize, writeFailed, internalError
    case unsupported, inconsistentSeries, tooLarge
    /// A header value no scanner writes (a NaN or absurd rescale, position or spacing): a
    /// corrupt or hostile file, refused rather than computed from.
    case implausibleValue
}

/// The one funnel every DCMTK status passes through: it maps the C status to a `DICOMError`
/// carrying DCMTK's message (`OFCondition::text()`), which already names the file.
func check(_ status: Int32, path: String, message: [CChar]) throws(DICOMError) {
    guard status != 0 else { return }
    let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let kind: DICOMErrorKind =
        switch status {
        case 1: .notDICOM
        case 2: .unreadable
        case 3: .noPixelData
        case 4: .undecodable
        case 5: .badPixelSize
        case 6: .writeFailed
        case 8: .tooLarge
        default: .internalError
        }
    throw DICOMError(kind, path: path, message: text.isEmpty ? "DCMTK status \(status)" : text)
}

/// A C string from a fixed-size char array inside an imported C struct (a Swift tuple).
func string<T>(fromTuple tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self).trimmingSpaces()
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let first = s.first, first == " " || first == "\0" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\0" { s = s.dropLast() }
        return String(s)
    }
}
