internal import CImageCodecs

/// A PNG or JPEG decoded by libpng or libjpeg: interleaved samples of 8 or 16 bits, owned by
/// the C layer and released in `deinit` (`lct_image_free`).
public final class DecodedImage {
    private var image: lct_image

    public var width: Int { Int(image.width) }
    public var height: Int { Int(image.height) }
    /// Samples per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA (palettes are expanded).
    public var channels: Int { Int(image.channels) }
    /// 8 or 16 after expansion.
    public var bitDepth: Int { Int(image.bit_depth) }
    /// As stored in the file (1, 2, 4, 8, 16).
    public var sourceBitDepth: Int { Int(image.source_bit_depth) }
    /// A PNG palette image (expanded to RGB or RGBA).
    public var isPalette: Bool { image.is_palette != 0 }
    /// A progressive JPEG.
    public var isProgressive: Bool { image.is_progressive != 0 }
    /// libjpeg's corrupt-data warnings (a truncated file, for example).
    public var decoderWarnings: Int { Int(image.decoder_warnings) }
    /// The PNG pHYs chunk or JFIF density, in pixels per mm; 0 when absent or not metric.
    public var pixelsPerMM: (x: Double, y: Double) { (image.pixels_per_mm_x, image.pixels_per_mm_y) }

    init(_ image: lct_image) {
        self.image = image
    }

    deinit {
        lct_image_free(&image)
    }

    /// The samples, row by row, `channels` interleaved per pixel; nil when the decoder
    /// returned no pixels. The buffer is valid only inside `body`.
    public func withSamples<Sample: FixedWidthInteger, Result>(
        of type: Sample.Type, _ body: (UnsafeBufferPointer<Sample>?) throws -> Result
    ) rethrows -> Result {
        guard let pixels = image.pixels, Sample.bitWidth == bitDepth else { return try body(nil) }
        let count = width * height * channels
        return try body(UnsafeBufferPointer(start: pixels.bindMemory(to: Sample.self, capacity: count), count: count))
    }
}

/// Reading PNG (libpng) and JPEG (libjpeg-turbo) files.
public enum ImageDecoder {
    public enum Format: Sendable {
        case png
        case jpeg
    }

    /// The width and height the file's header declares, read before anything is decoded so
    /// the caller can refuse an absurd size. The corresponding C functions are
    /// `lct_png_read_size` and `lct_jpeg_read_size`.
    public static func size(of path: String, format: Format) throws(ImageCodecError) -> (width: Int, height: Int) {
        var width: UInt32 = 0
        var height: UInt32 = 0
        var message = [CChar](repeating: 0, count: messageLength)
        let status =
            switch format {
            case .png: lct_png_read_size(path, &width, &height, &message, message.count)
            case .jpeg: lct_jpeg_read_size(path, &width, &height, &message, message.count)
            }
        try check(status, path: path, message: message)
        return (Int(width), Int(height))
    }

    /// Decodes the whole file. The corresponding C functions are `lct_png_read` and
    /// `lct_jpeg_read`.
    public static func decode(_ path: String, format: Format) throws(ImageCodecError) -> DecodedImage {
        var image = lct_image()
        var message = [CChar](repeating: 0, count: messageLength)
        let status =
            switch format {
            case .png: lct_png_read(path, &image, &message, message.count)
            case .jpeg: lct_jpeg_read(path, &image, &message, message.count)
            }
        // A failed read leaves nothing to free: the C layer releases its buffers itself.
        try check(status, path: path, message: message)
        return DecodedImage(image)
    }
}
