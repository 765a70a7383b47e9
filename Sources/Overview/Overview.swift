import ImageCodecs
import VolumeCore

/// An RGB picture, rows top to bottom, three samples per pixel.
public struct OverviewImage: Sendable {
    public var width: Int
    public var height: Int
    /// `width * height * 3` samples.
    public var rgb: [UInt8]

    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(rgb.count == width * height * 3, "rgb holds width × height × 3 samples")
        self.width = width
        self.height = height
        self.rgb = rgb
    }
}

/// What the overview shows: the CT, optionally the lung labels and the probability map on the
/// same grid, and the text around it.
public struct OverviewContent: Sendable {
    /// The CT in Hounsfield units, in any orientation: the geometry decides how it is shown.
    public var hu: Volume<Int16>
    /// On the same grid: 0 background, 1 the patient's right lung, 2 the patient's left lung.
    public var labels: Volume<UInt8>?
    /// On the same grid: a probability in 0...1 per voxel, drawn as a heat map.
    public var probability: Volume<Float>?
    /// What the heat map shows, as the colour key names it (e.g. "lesion probability").
    public var mapName = "probability"
    /// The line at the top, e.g. "lungct 0.1.0 - series #3 1.2.840...1234".
    public var title: String
    /// The key numbers, one per line below the panels, e.g. "Right lung 2870 mL  mean -842 HU".
    public var lines: [String]
    /// The grayscale window in HU.
    public var window: HUWindow
    /// A slice to show among the axial panels (the slice with the most lesion): its index on
    /// the input grid along the stored axis nearest the patient's S axis.
    public var focusSlice: Int?
    /// The focus slice's panel caption adds this (e.g. "most lesion").
    public var focusName = "top slice"

    /// `labels` and `probability`, when given, must have the same size as `hu` (a programmer
    /// error otherwise: they come from the same grid).
    public init(
        hu: Volume<Int16>, labels: Volume<UInt8>? = nil, probability: Volume<Float>? = nil, title: String = "",
        lines: [String] = [], window: HUWindow = .lung
    ) {
        precondition(labels == nil || labels!.size == hu.size, "the labels are not on the CT's grid")
        precondition(probability == nil || probability!.size == hu.size, "the probability map is not on the CT's grid")
        self.hu = hu
        self.labels = labels
        self.probability = probability
        self.title = title
        self.lines = lines
        self.window = window
    }
}

/// The overview picture (`overview.png`): three axial slices and a coronal slice in a lung
/// window, in the radiological convention, with the lung contours and the probability heat map
/// over them, a title above and the key numbers below.
public enum Overview {
    /// Renders the picture. Reads the label volume once (to find the lungs) and otherwise only
    /// the voxels on the four slices shown.
    public static func render(_ content: OverviewContent) -> OverviewImage {
        layOut(content).image
    }

    /// Renders the picture and writes it as an 8-bit RGB PNG. Throws `ImageCodecError` (which
    /// names the path) when the file cannot be written.
    public static func write(_ content: OverviewContent, to path: String) throws(ImageCodecError) {
        let image = render(content)
        try PNGWriter.write(path: path, width: image.width, height: image.height, channels: 3, pixels: image.rgb)
    }
}

/// Colours and sizes of the picture.
enum Style {
    /// Panels are resampled to this many pixels on their long side.
    static let panelSide = 360
    static let margin = 12
    /// Font pixels are drawn as `textScale`×`textScale` squares.
    static let textScale = 2
    static var lineHeight: Int { BitmapFont.lineHeight * textScale }

    static let background = RGB(gray: 0)
    static let titleColour = RGB(gray: 255)
    static let textColour = RGB(gray: 225)
    static let captionColour = RGB(gray: 190)
    /// Side letters and the coronal's level ticks: light blue, unlike tissue, contours and heat.
    static let markerColour = RGB(150, 220, 255)
    /// Lung contours: green and magenta differ in hue and in lightness, also for the common
    /// red-green colour-vision deficiencies, and neither looks like the yellow-red heat map.
    static let rightLung = RGB(40, 230, 40)
    static let leftLung = RGB(255, 60, 255)

    /// Probabilities below this are not drawn, so the anatomy stays visible.
    static let heatThreshold: Float = 0.1
    /// The heat map's opacity at the threshold and at probability 1.
    static let heatOpacity = (low: 0.35, high: 0.75)
    /// The legend's heat ramp, in pixels wide.
    static let heatRampWidth = 96
    /// The gray the legend's ramp is blended over: dark, near aerated lung in the lung window
    /// (−850 HU shows as 85), so the ramp's colours look as the map's do over lung.
    static let heatRampBackdrop = RGB(gray: 96)

    /// The heat colour of a probability at or above `heatThreshold`: yellow at the threshold to
    /// red at 1, more opaque as it rises.
    static func heat(_ probability: Float) -> (colour: RGB, alpha: Double) {
        let t = Double(min(1, max(0, (probability - heatThreshold) / (1 - heatThreshold))))
        let colour = RGB(255, UInt8((255 * (1 - t)).rounded()), 0)
        return (colour, heatOpacity.low + (heatOpacity.high - heatOpacity.low) * t)
    }
}

/// The panel in colour: window gray, the heat map over it, the lung contours on top.
func colour(_ samples: PanelSamples) -> Canvas {
    let (width, height) = (samples.width, samples.height)
    var picture = Canvas(width: width, height: height, background: Style.background)
    for index in 0..<(width * height) {
        var pixel = RGB(gray: samples.gray[index])
        if let p = samples.probability?[index], p >= Style.heatThreshold {
            let heat = Style.heat(p)
            pixel = heat.colour.over(pixel, alpha: heat.alpha)
        }
        picture[index % width, index / width] = pixel
    }
    // A 2-pixel contour: the labelled pixels next to another value, and the pixels just
    // outside them. Outside the panel counts as background.
    let labels = samples.labels
    func label(_ x: Int, _ y: Int) -> UInt8 {
        x < 0 || y < 0 || x >= width || y >= height ? 0 : labels[y * width + x]
    }
    for y in 0..<height {
        for x in 0..<width {
            let own = labels[y * width + x]
            let (west, east, north, south) = (label(x - 1, y), label(x + 1, y), label(x, y - 1), label(x, y + 1))
            var edge: UInt8 = 0
            if own != 0 {
                if west != own || east != own || north != own || south != own { edge = own }
            } else {
                edge = west != 0 ? west : east != 0 ? east : north != 0 ? north : south
            }
            switch edge {
            case 1: picture[x, y] = Style.rightLung
            case 2: picture[x, y] = Style.leftLung
            default: break
            }
        }
    }
    return picture
}

/// "R" and "L" in the top corners: the patient's right is on the viewer's left.
func drawSideMarkers(on picture: inout Canvas) {
    let letterWidth = 5 * Style.textScale
    guard picture.width >= 6 * letterWidth, picture.height >= 4 * letterWidth else { return }
    let inset = 4
    for (letter, x) in [("R", inset), ("L", picture.width - inset - letterWidth)] {
        // A dark outline keeps the letter readable over bright tissue.
        for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
            picture.draw(text: letter, x: x + dx, y: inset + dy, scale: Style.textScale, colour: Style.background)
        }
        picture.draw(text: letter, x: x, y: inset, scale: Style.textScale, colour: Style.markerColour)
    }
}

/// The colour key: the two contour colours and, with a probability map, the heat ramp named
/// `mapName`.
func drawLegend(on canvas: inout Canvas, y: Int, labels: Bool, probability: Bool, mapName: String) {
    let swatchWidth = 28
    let textY = y + Style.textScale
    let swatchY = y + Style.lineHeight / 2 - 3
    var x = Style.margin
    if labels {
        for (name, colour) in [("R lung", Style.rightLung), ("L lung", Style.leftLung)] {
            canvas.fill(PixelRect(x: x, y: swatchY, width: swatchWidth, height: 4), colour)
            x = canvas.draw(
                text: name, x: x + swatchWidth + 6, y: textY, scale: Style.textScale, colour: Style.textColour)
            x += 3 * Style.margin
        }
    }
    if probability {
        x =
            canvas.draw(
                text: "\(mapName) \(decimal(Double(Style.heatThreshold), places: 1))", x: x, y: textY,
                scale: Style.textScale, colour: Style.textColour) + 6
        let rampWidth = Style.heatRampWidth
        for step in 0..<rampWidth {
            let p = Style.heatThreshold + (1 - Style.heatThreshold) * Float(step) / Float(rampWidth - 1)
            let heat = Style.heat(p)
            canvas.fill(
                PixelRect(x: x + step, y: y + 2, width: 1, height: Style.lineHeight - 6),
                heat.colour.over(Style.heatRampBackdrop, alpha: heat.alpha))
        }
        canvas.draw(text: "1", x: x + rampWidth + 6, y: textY, scale: Style.textScale, colour: Style.textColour)
    }
}

/// "123.5 mm", formatted without Foundation so every platform prints the same.
func millimetres(_ value: Double) -> String { decimal(value, places: 1) + " mm" }

/// `value` rounded to `places` decimals (half away from zero), never "-0.0".
func decimal(_ value: Double, places: Int) -> String {
    var factor = 1
    for _ in 0..<places { factor *= 10 }
    let scaled = Int((value * Double(factor)).rounded())
    let sign = scaled < 0 ? "-" : ""
    let magnitude = abs(scaled)
    guard places > 0 else { return sign + String(magnitude) }
    var fraction = String(magnitude % factor)
    while fraction.count < places { fraction = "0" + fraction }
    return sign + String(magnitude / factor) + "." + fraction
}
