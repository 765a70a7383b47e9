import AppSupport

/// A PNG or JPEG file that libpng or libjpeg could not read or write, with the library's message.
public struct ImageCodecError: FileError, Sendable {
    /// The file the problem is about.
    public var path: String
    /// The C layer's message (it already names the file), or the status when there is none.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}

/// Room for the C layer's messages.
let messageLength = 1024

/// The one funnel every libpng/libjpeg status passes through: nonzero becomes an
/// `ImageCodecError` carrying the C layer's message.
func check(_ status: Int32, path: String, message: [CChar]) throws(ImageCodecError) {
    guard status != 0 else { return }
    let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    throw ImageCodecError(path: path, message: text.isEmpty ? "image codec status \(status)" : text)
}
