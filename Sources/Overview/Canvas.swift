/// An 8-bit RGB colour.
struct RGB: Equatable, Sendable {
    var r: UInt8
    var g: UInt8
    var b: UInt8

    init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    init(gray: UInt8) { self.init(gray, gray, gray) }

    /// `self` drawn over `under` with opacity `alpha` (0 transparent, 1 opaque).
    func over(_ under: RGB, alpha: Double) -> RGB {
        func mix(_ top: UInt8, _ bottom: UInt8) -> UInt8 {
            UInt8((alpha * Double(top) + (1 - alpha) * Double(bottom)).rounded())
        }
        return RGB(mix(r, under.r), mix(g, under.g), mix(b, under.b))
    }
}

/// A rectangle of pixels: `x`, `y` the top-left corner.
struct PixelRect: Equatable, Sendable {
    var x: Int
    var y: Int
    var width: Int
    var height: Int

    var maxX: Int { x + width }
    var maxY: Int { y + height }
}

/// Interleaved RGB pixels, rows top to bottom, with clipped drawing.
struct Canvas {
    let width: Int
    let height: Int
    var rgb: [UInt8]

    init(width: Int, height: Int, background: RGB) {
        self.width = width
        self.height = height
        rgb = [UInt8](repeating: 0, count: width * height * 3)
        fill(PixelRect(x: 0, y: 0, width: width, height: height), background)
    }

    subscript(x: Int, y: Int) -> RGB {
        get {
            let index = (y * width + x) * 3
            return RGB(rgb[index], rgb[index + 1], rgb[index + 2])
        }
        set {
            let index = (y * width + x) * 3
            rgb[index] = newValue.r
            rgb[index + 1] = newValue.g
            rgb[index + 2] = newValue.b
        }
    }

    /// Fills the part of `rect` that lies on the canvas.
    mutating func fill(_ rect: PixelRect, _ colour: RGB) {
        let (x0, x1) = (max(0, rect.x), min(width, rect.maxX))
        let (y0, y1) = (max(0, rect.y), min(height, rect.maxY))
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 { self[x, y] = colour }
        }
    }

    /// Copies `source` with its top-left corner at `x`, `y`.
    mutating func paste(_ source: Canvas, x: Int, y: Int) {
        for row in 0..<source.height where y + row >= 0 && y + row < height {
            for column in 0..<source.width where x + column >= 0 && x + column < width {
                self[x + column, y + row] = source[column, row]
            }
        }
    }

    /// Draws `text` with its top-left corner at `x`, `y`, each font pixel a `scale`×`scale`
    /// square; stops at the right edge. Returns the x just after the last glyph drawn.
    @discardableResult
    mutating func draw(text: String, x: Int, y: Int, scale: Int, colour: RGB) -> Int {
        var penX = x
        for code in BitmapFont.printable(text) {
            guard penX + BitmapFont.advance * scale <= width else { break }
            for row in 0..<BitmapFont.glyphHeight {
                for column in 0..<5 where BitmapFont.isLit(code: Int(code), column: column, row: row) {
                    fill(PixelRect(x: penX + column * scale, y: y + row * scale, width: scale, height: scale), colour)
                }
            }
            penX += BitmapFont.advance * scale
        }
        return penX
    }

    /// The width `text` takes when drawn at `scale`.
    static func textWidth(_ text: String, scale: Int) -> Int {
        BitmapFont.printable(text).count * BitmapFont.advance * scale
    }
}

/// Splits `text` into lines of at most `columns` characters, breaking at spaces where it can
/// and inside words longer than a line.
func wrap(_ text: String, columns: Int) -> [String] {
    let columns = max(1, columns)
    let ascii = String(decoding: BitmapFont.printable(text), as: UTF8.self)
    // A line that fits keeps its spacing (key numbers are often aligned with double spaces).
    if ascii.count <= columns { return [ascii] }
    var lines: [String] = []
    var current = ""
    for word in ascii.split(separator: " ") {
        var word = Substring(word)
        while word.count > columns {
            if !current.isEmpty {
                lines.append(current)
                current = ""
            }
            lines.append(String(word.prefix(columns)))
            word = word.dropFirst(columns)
        }
        if current.isEmpty {
            current = String(word)
        } else if current.count + 1 + word.count <= columns {
            current += " " + word
        } else {
            lines.append(current)
            current = String(word)
        }
    }
    if !current.isEmpty || lines.isEmpty { lines.append(current) }
    return lines
}
