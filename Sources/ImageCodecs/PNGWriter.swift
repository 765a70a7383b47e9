internal import CImageCodecs

/// Writes 8-bit PNG pictures (overview images, charts, test fixtures).
public enum PNGWriter {
    /// Writes `pixels` (rows top to bottom, `channels` interleaved samples per pixel: 1 gray,
    /// 3 RGB, 4 RGBA) as an 8-bit PNG. A wrong channel count or pixel count is a programmer
    /// error and traps; a file that cannot be written throws. The corresponding C function is
    /// `lct_png_write` (libpng's `png_write_row`), which reports a failed close (disk full).
    public static func write(
        path: String, width: Int, height: Int, channels: Int, pixels: [UInt8]
    ) throws(ImageCodecError) {
        precondition([1, 3, 4].contains(channels), "PNGWriter writes 1 (gray), 3 (RGB) or 4 (RGBA) channels")
        // PNG sizes are 31-bit (PNG spec, section 11.2.2).
        precondition(width > 0 && height > 0 && width <= Int(Int32.max) && height <= Int(Int32.max), "bad PNG size")
        precondition(pixels.count == width * height * channels, "pixel count does not match width × height × channels")
        var message = [CChar](repeating: 0, count: messageLength)
        let status = pixels.withUnsafeBufferPointer { buffer in
            lct_png_write(
                path, UInt32(width), UInt32(height), UInt32(channels), buffer.baseAddress, &message, message.count)
        }
        try check(status, path: path, message: message)
    }
}
