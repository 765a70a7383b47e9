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

/// One panel before it is placed: the slice it shows, how, and its size in pixels.
struct PanelPlan {
    var plane: SlicePlane
    var kind: PanelFrame.Kind
    var caption: String
    var size: (width: Int, height: Int)
}

/// Fractions of the lungs' (or the volume's) superior-inferior extent where the axial slices
/// are taken, shown upper first as a reader scrolls from the apices.
let axialFractions = [0.7, 0.5, 0.3]

/// Panels per row: two, so the three axial panels and the coronal one make a 2 × 2 grid.
let panelColumns = 2

/// Lays out and draws the picture: the title, the panels in rows of `panelColumns`, the
/// colour key and the key numbers, top to bottom.
func layOut(_ content: OverviewContent) -> Layout {
    let grid = LPSGrid(content.hu.geometry)
    let extent = content.labels.flatMap { LabelExtent($0, grid: grid) } ?? LabelExtent(wholeGrid: grid)
    let levels = axialLevels(extent: extent, grid: grid, focusSlice: content.focusSlice)
    let panels = planPanels(
        grid: grid, extent: extent, levels: levels, hasProbability: content.probability != nil,
        focusName: content.focusName)

    let width = Style.margin + panelColumns * (Style.panelSide + Style.margin)
    let textColumns = (width - 2 * Style.margin) / (BitmapFont.advance * Style.textScale)
    let titleLines = content.title.isEmpty ? [] : wrap(content.title, columns: textColumns)
    let bodyLines = content.lines.flatMap { wrap($0, columns: textColumns) }

    let titleBand = PixelRect(x: 0, y: Style.margin, width: width, height: titleLines.count * Style.lineHeight)
    let (frames, legendY) = placePanels(panels, from: titleBand.maxY + (titleLines.isEmpty ? 0 : Style.margin / 2))
    let hasLegend = content.labels != nil || content.probability != nil
    let textY = legendY + (hasLegend ? Style.lineHeight : 0)
    let height = textY + Style.lineHeight * bodyLines.count + Style.margin

    var canvas = Canvas(width: width, height: height, background: Style.background)
    drawLines(titleLines, on: &canvas, y: titleBand.y, colour: Style.titleColour)
    for (frame, panel) in zip(frames, panels) {
        drawPanel(panel, in: frame, on: &canvas, grid: grid, content: content, axialLevels: levels.indices)
    }
    drawLegend(
        on: &canvas, y: legendY, labels: content.labels != nil, probability: content.probability != nil,
        mapName: content.mapName)
    drawLines(bodyLines, on: &canvas, y: textY, colour: Style.textColour)
    return Layout(
        image: OverviewImage(width: width, height: height, rgb: canvas.rgb), panels: frames, titleBand: titleBand)
}

/// A panel's size from the physical extents of its two axes, so that pixels are square in
/// millimetres and the long side is `Style.panelSide`.
func panelSize(_ grid: LPSGrid, acrossAxis: Int, downAxis: Int) -> (width: Int, height: Int) {
    let across = grid.extent(acrossAxis)
    let down = grid.extent(downAxis)
    let scale = Double(Style.panelSide) / max(across, down, 1e-6)
    return (max(1, Int((across * scale).rounded())), max(1, Int((down * scale).rounded())))
}

/// The axial panels' slice indices on the LPS grid, upper first, at `axialFractions` of the
/// extent; a focus slice, when asked for, replaces the nearest of them and is returned too.
func axialLevels(extent: LabelExtent, grid: LPSGrid, focusSlice: Int?) -> (indices: [Int], focus: Int?) {
    let span = extent.upper[2] - extent.lower[2]
    var indices = axialFractions.map { extent.lower[2] + Int(($0 * Double(span)).rounded()) }
    guard let focus = focusSlice else { return (indices, nil) }
    // The focus replaces the nearest of the three levels; panels stay upper first.
    let c = min(grid.size.z - 1, max(0, Int(grid.toSource(Double(focus), axis: 2).rounded())))
    let nearest = indices.indices.min { abs(indices[$0] - c) < abs(indices[$1] - c) } ?? 1
    indices[nearest] = c
    indices.sort(by: >)
    return (indices, c)
}

/// The panels to show: three axial slices and a coronal one through the lungs' centroid; or,
/// for one slice (a radiograph), the picture and, when there is a map, the picture under it.
func planPanels(
    grid: LPSGrid, extent: LabelExtent, levels: (indices: [Int], focus: Int?), hasProbability: Bool,
    focusName: String = "top slice"
) -> [PanelPlan] {
    let axialSize = panelSize(grid, acrossAxis: 0, downAxis: 1)
    guard grid.size.z > 1 else {
        // No coronal view of a single slice.
        var panels = [PanelPlan(plane: SlicePlane.axial(0), kind: .picture, caption: "image", size: axialSize)]
        if hasProbability {
            panels.append(PanelPlan(plane: SlicePlane.axial(0), kind: .axial, caption: "model map", size: axialSize))
        }
        return panels
    }
    let coronalSize = panelSize(grid, acrossAxis: 0, downAxis: 2)
    let coronalIndex = min(grid.size.y - 1, max(0, Int(extent.centroid[1].rounded())))
    let centre = (Double(grid.size.x - 1) / 2, Double(grid.size.y - 1) / 2, Double(grid.size.z - 1) / 2)
    var panels = levels.indices.map { c in
        let z = grid.physicalPoint(centre.0, centre.1, Double(c)).z
        return PanelPlan(
            plane: SlicePlane.axial(c), kind: .axial,
            caption: "axial z=\(millimetres(z))" + (c == levels.focus ? " " + focusName : ""), size: axialSize)
    }
    let y = grid.physicalPoint(centre.0, Double(coronalIndex), centre.2).y
    panels.append(
        PanelPlan(
            plane: SlicePlane.coronal(coronalIndex), kind: .coronal, caption: "coronal y=\(millimetres(y))",
            size: coronalSize))
    return panels
}

/// Places the panels in rows of `panelColumns` from `top` down, each centred in a
/// `Style.panelSide`-wide column under a caption line; rows are as tall as their tallest panel.
/// Returns the frames and the first row of pixels below them.
func placePanels(_ panels: [PanelPlan], from top: Int) -> (frames: [PanelFrame], bottom: Int) {
    var y0 = top
    var frames: [PanelFrame] = []
    for rowStart in stride(from: 0, to: panels.count, by: panelColumns) {
        let row = panels[rowStart..<min(panels.count, rowStart + panelColumns)]
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
    return (frames, y0)
}

/// Draws lines of text one under the other from `y`, at the left margin.
func drawLines(_ lines: [String], on canvas: inout Canvas, y: Int, colour: RGB) {
    for (index, line) in lines.enumerated() {
        canvas.draw(
            text: line, x: Style.margin, y: y + index * Style.lineHeight, scale: Style.textScale, colour: colour)
    }
}

/// Draws one panel into its frame: the slice in colour, on the coronal panel ticks at the axial
/// panels' levels, the side letters, and the caption above.
func drawPanel(
    _ panel: PanelPlan, in frame: PanelFrame, on canvas: inout Canvas, grid: LPSGrid, content: OverviewContent,
    axialLevels: [Int]
) {
    var samples = samplePlane(
        panel.plane, width: frame.rect.width, height: frame.rect.height, grid: grid, content: content)
    if frame.kind == .picture { samples.probability = nil }
    var picture = colour(samples)
    if frame.kind == .coronal {
        // Ticks on both edges at the levels of the axial panels.
        for c in axialLevels {
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
