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
    /// The line at the top, e.g. "lungct 0.1.0 - series #3 1.2.840...1234".
    public var title: String
    /// The key numbers, one per line below the panels, e.g. "Right lung 2870 mL  mean -842 HU".
    public var lines: [String]
    /// The grayscale window in HU.
    public var window: HUWindow
    /// A slice to show among the axial panels (the model's top slice): its index on the
    /// input grid along the stored axis nearest the patient's S axis.
    public var focusSlice: Int?

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

    /// The heat colour of a probability at or above `heatThreshold`: yellow at the threshold to
    /// red at 1, more opaque as it rises.
    static func heat(_ probability: Float) -> (colour: RGB, alpha: Double) {
        let t = Double(min(1, max(0, (probability - heatThreshold) / (1 - heatThreshold))))
        let colour = RGB(255, UInt8((255 * (1 - t)).rounded()), 0)
        return (colour, heatOpacity.low + (heatOpacity.high - heatOpacity.low) * t)
    }
}

/// One panel's place in the picture.
struct PanelFrame: Equatable {
    enum Kind: Equatable {
        case axial
        case coronal
        /// A single-slice input shown without the probability map.
        case picture
    }

    var kind: Kind
    /// The pixels the slice occupies.
    var rect: PixelRect
    var caption: String
}

/// The rendered picture and where its panels are.
struct Layout {
    var image: OverviewImage
    var panels: [PanelFrame]
    /// The band holding the title.
    var titleBand: PixelRect
}

/// Fractions of the lungs' (or the volume's) superior-inferior extent where the axial slices
/// are taken, shown upper first as a reader scrolls from the apices.
let axialFractions = [0.7, 0.5, 0.3]

func layOut(_ content: OverviewContent) -> Layout {
    let grid = LPSGrid(content.hu.geometry)
    let extent = content.labels.flatMap { LabelExtent($0, grid: grid) } ?? LabelExtent(wholeGrid: grid)

    // Panel sizes from the physical extents, so pixels are square in millimetres.
    func panelSize(acrossAxis: Int, downAxis: Int) -> (width: Int, height: Int) {
        let across = grid.extent(acrossAxis)
        let down = grid.extent(downAxis)
        let scale = Double(Style.panelSide) / max(across, down, 1e-6)
        return (max(1, Int((across * scale).rounded())), max(1, Int((down * scale).rounded())))
    }
    let axialSize = panelSize(acrossAxis: 0, downAxis: 1)
    let coronalSize = panelSize(acrossAxis: 0, downAxis: 2)

    let span = extent.upper[2] - extent.lower[2]
    var axialIndices = axialFractions.map { extent.lower[2] + Int(($0 * Double(span)).rounded()) }
    var focusIndex: Int?
    if let focus = content.focusSlice {
        // The focus replaces the nearest of the three levels; panels stay upper first.
        let c = min(grid.size.z - 1, max(0, Int(grid.toSource(Double(focus), axis: 2).rounded())))
        let nearest = axialIndices.indices.min { abs(axialIndices[$0] - c) < abs(axialIndices[$1] - c) } ?? 1
        axialIndices[nearest] = c
        axialIndices.sort(by: >)
        focusIndex = c
    }
    let coronalIndex = min(grid.size.y - 1, max(0, Int(extent.centroid[1].rounded())))
    let centre = (Double(grid.size.x - 1) / 2, Double(grid.size.y - 1) / 2, Double(grid.size.z - 1) / 2)

    var panels: [(plane: SlicePlane, kind: PanelFrame.Kind, caption: String, size: (width: Int, height: Int))]
    if grid.size.z == 1 {
        // One slice (a radiograph): the picture, and beside it the same picture under the map
        // when there is one; no coronal view of a single slice.
        panels = [(SlicePlane.axial(0), .picture, "image", axialSize)]
        if content.probability != nil { panels.append((SlicePlane.axial(0), .axial, "model map", axialSize)) }
    } else {
        panels = axialIndices.map { c in
            let z = grid.physicalPoint(centre.0, centre.1, Double(c)).z
            return (SlicePlane.axial(c), .axial, "axial z=\(millimetres(z))" + (c == focusIndex ? " top slice" : ""), axialSize)
        }
        let y = grid.physicalPoint(centre.0, Double(coronalIndex), centre.2).y
        panels.append((SlicePlane.coronal(coronalIndex), .coronal, "coronal y=\(millimetres(y))", coronalSize))
    }

    // Two panels per row, each in a panelSide-wide column; rows as tall as their tallest panel.
    let columns = 2
    let width = Style.margin + columns * (Style.panelSide + Style.margin)
    let textColumns = (width - 2 * Style.margin) / (BitmapFont.advance * Style.textScale)
    let titleLines = content.title.isEmpty ? [] : wrap(content.title, columns: textColumns)
    let bodyLines = content.lines.flatMap { wrap($0, columns: textColumns) }

    var y0 = Style.margin
    let titleBand = PixelRect(x: 0, y: y0, width: width, height: titleLines.count * Style.lineHeight)
    y0 = titleBand.maxY + (titleLines.isEmpty ? 0 : Style.margin / 2)
    var frames: [PanelFrame] = []
    for rowStart in stride(from: 0, to: panels.count, by: columns) {
        let row = panels[rowStart..<min(panels.count, rowStart + columns)]
        let rowHeight = row.map(\.size.height).max() ?? 0
        let top = y0 + Style.lineHeight
        for (offset, panel) in row.enumerated() {
            let columnX = Style.margin + offset * (Style.panelSide + Style.margin)
            let x = columnX + (Style.panelSide - panel.size.width) / 2
            frames.append(
                PanelFrame(
                    kind: panel.kind,
                    rect: PixelRect(x: x, y: top, width: panel.size.width, height: panel.size.height),
                    caption: panel.caption))
        }
        y0 = top + rowHeight + Style.margin
    }
    let legendY = y0
    let hasLegend = content.labels != nil || content.probability != nil
    let textY = legendY + (hasLegend ? Style.lineHeight : 0)
    let height = textY + Style.lineHeight * bodyLines.count + Style.margin

    var canvas = Canvas(width: width, height: height, background: Style.background)
    for (index, line) in titleLines.enumerated() {
        canvas.draw(
            text: line, x: Style.margin, y: titleBand.y + index * Style.lineHeight, scale: Style.textScale,
            colour: Style.titleColour)
    }
    for (frame, panel) in zip(frames, panels) {
        var samples = samplePlane(
            panel.plane, width: frame.rect.width, height: frame.rect.height, grid: grid, content: content)
        if frame.kind == .picture { samples.probability = nil }
        var picture = colour(samples)
        if frame.kind == .coronal {
            // Ticks on both edges at the levels of the axial panels.
            for c in axialIndices {
                let row = Int(
                    (Double(grid.size.z) - (Double(c) + 0.5)) * Double(frame.rect.height) / Double(grid.size.z))
                let tick = max(6, frame.rect.width / 30)
                picture.fill(PixelRect(x: 0, y: row - 1, width: tick, height: 2), Style.markerColour)
                picture.fill(
                    PixelRect(x: frame.rect.width - tick, y: row - 1, width: tick, height: 2), Style.markerColour)
            }
        }
        drawSideMarkers(on: &picture)
        canvas.paste(picture, x: frame.rect.x, y: frame.rect.y)
        canvas.draw(
            text: frame.caption, x: frame.rect.x, y: frame.rect.y - Style.lineHeight + 2, scale: Style.textScale,
            colour: Style.captionColour)
    }
    drawLegend(on: &canvas, y: legendY, labels: content.labels != nil, probability: content.probability != nil)
    for (index, line) in bodyLines.enumerated() {
        canvas.draw(
            text: line, x: Style.margin, y: textY + index * Style.lineHeight, scale: Style.textScale,
            colour: Style.textColour)
    }
    return Layout(
        image: OverviewImage(width: width, height: height, rgb: canvas.rgb), panels: frames, titleBand: titleBand)
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

/// The colour key: the two contour colours and, with a probability map, the heat ramp.
func drawLegend(on canvas: inout Canvas, y: Int, labels: Bool, probability: Bool) {
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
                text: "probability \(decimal(Double(Style.heatThreshold), places: 1))", x: x, y: textY,
                scale: Style.textScale, colour: Style.textColour) + 6
        let rampWidth = 96
        for step in 0..<rampWidth {
            let p = Style.heatThreshold + (1 - Style.heatThreshold) * Float(step) / Float(rampWidth - 1)
            let heat = Style.heat(p)
            canvas.fill(
                PixelRect(x: x + step, y: y + 2, width: 1, height: Style.lineHeight - 6),
                heat.colour.over(RGB(gray: 96), alpha: heat.alpha))
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
