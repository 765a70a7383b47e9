import AppSupport
import ImageCodecs

/// A small line chart as a PNG: training and validation loss per epoch, for a training report.
public enum LineChart {
    /// One line: a name for the legend and a y value per x = 1, 2, 3...
    public struct Series: Sendable {
        public var name: String
        public var values: [Double]
        public init(name: String, values: [Double]) {
            self.name = name
            self.values = values
        }
    }

    static let palette = [
        RGB(70, 160, 255), RGB(255, 150, 40), RGB(90, 210, 90), RGB(230, 80, 200), RGB(220, 220, 80),
        RGB(160, 120, 255), RGB(255, 90, 90), RGB(60, 220, 210), RGB(200, 160, 110), RGB(255, 205, 225),
    ]

    /// `height` holds the plot and two legend rows; the picture grows by a row for every two
    /// more series, so every legend entry is shown.
    public static func render(
        _ series: [Series], title: String, xLabel: String, width: Int = 640, height plotHeight: Int = 400
    ) -> OverviewImage {
        let height = plotHeight + max(0, (series.count + 1) / 2 - 2) * 18
        var canvas = Canvas(width: width, height: height, background: RGB(gray: 16))
        let scale = 2
        canvas.draw(text: title, x: 10, y: 8, scale: scale, colour: RGB(gray: 235))
        let plot = PixelRect(x: 70, y: 40, width: width - 90, height: plotHeight - 110)
        let all = series.flatMap(\.values).filter(\.isFinite)
        let count = series.map(\.values.count).max() ?? 0
        guard let low = all.min(), let high = all.max(), count > 0 else {
            return OverviewImage(width: width, height: height, rgb: canvas.rgb)
        }
        let top = high > low ? high : low + 1
        // Axes and the y range.
        canvas.fill(PixelRect(x: plot.x, y: plot.y, width: 1, height: plot.height), RGB(gray: 180))
        canvas.fill(PixelRect(x: plot.x, y: plot.maxY, width: plot.width, height: 1), RGB(gray: 180))
        canvas.draw(text: format(top), x: 4, y: plot.y - 4, scale: 1, colour: RGB(gray: 200))
        canvas.draw(text: format(low), x: 4, y: plot.maxY - 8, scale: 1, colour: RGB(gray: 200))
        canvas.draw(text: "1", x: plot.x, y: plot.maxY + 6, scale: 1, colour: RGB(gray: 200))
        canvas.draw(text: "\(count)", x: plot.maxX - 12, y: plot.maxY + 6, scale: 1, colour: RGB(gray: 200))
        canvas.draw(text: xLabel, x: plot.x + plot.width / 2 - 20, y: plot.maxY + 6, scale: 1, colour: RGB(gray: 200))
        func point(_ index: Int, _ value: Double) -> (Int, Int) {
            let x = plot.x + (count > 1 ? index * (plot.width - 1) / (count - 1) : plot.width / 2)
            let y = plot.maxY - Int((value - low) / (top - low) * Double(plot.height - 1))
            return (x, y)
        }
        for (number, line) in series.enumerated() {
            let colour = palette[number % palette.count]
            var previous: (Int, Int)?
            for (index, value) in line.values.enumerated() where value.isFinite {
                let p = point(index, value)
                if let previous { drawLine(&canvas, from: previous, to: p, colour: colour) }
                canvas.fill(PixelRect(x: p.0 - 1, y: p.1 - 1, width: 3, height: 3), colour)
                previous = p
            }
            let legendY = plotHeight - 40 + (number / 2) * 18
            let legendX = 10 + (number % 2) * (width / 2)
            canvas.fill(PixelRect(x: legendX, y: legendY + 6, width: 20, height: 3), colour)
            canvas.draw(text: line.name, x: legendX + 26, y: legendY, scale: scale, colour: RGB(gray: 235))
        }
        return OverviewImage(width: width, height: height, rgb: canvas.rgb)
    }

    /// Renders the chart and writes it as an 8-bit RGB PNG.
    public static func write(
        _ series: [Series], title: String, xLabel: String, to path: String
    ) throws(ImageCodecError) {
        let image = render(series, title: title, xLabel: xLabel)
        try PNGWriter.write(path: path, width: image.width, height: image.height, channels: 3, pixels: image.rgb)
    }

    static func format(_ value: Double) -> String {
        "\(value.rounded(places: ReportPrecision.millimetres))"
    }

    /// Bresenham's line, two pixels thick.
    static func drawLine(_ canvas: inout Canvas, from a: (Int, Int), to b: (Int, Int), colour: RGB) {
        var (x0, y0) = a
        let (x1, y1) = b
        let dx = abs(x1 - x0)
        let dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1
        let sy = y0 < y1 ? 1 : -1
        var error = dx + dy
        while true {
            canvas.fill(PixelRect(x: x0, y: y0, width: 2, height: 2), colour)
            if x0 == x1 && y0 == y1 { break }
            let e2 = 2 * error
            if e2 >= dy {
                error += dy
                x0 += sx
            }
            if e2 <= dx {
                error += dx
                y0 += sy
            }
        }
    }
}
