import Foundation
import Overview
import TestSupport
import Testing

@Test func lineChartDrawsEachSeriesInItsColour() throws {
    let image = LineChart.render(
        [
            .init(name: "train loss", values: [1, 0.6, 0.4, 0.3]),
            .init(name: "validation loss", values: [1.1, 0.8, 0.7, 0.75]),
        ],
        title: "fold 1", xLabel: "epoch")
    #expect(image.width == 640 && image.height == 400 && image.rgb.count == 640 * 400 * 3)
    func count(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        stride(from: 0, to: image.rgb.count, by: 3).filter {
            image.rgb[$0] == r && image.rgb[$0 + 1] == g && image.rgb[$0 + 2] == b
        }.count
    }
    #expect(count(70, 160, 255) > 100, "first series drawn")
    #expect(count(255, 150, 40) > 100, "second series drawn")
    let path = try temporaryDirectory() + "/curve.png"
    try LineChart.write([.init(name: "x", values: [1, 2])], title: "t", xLabel: "epoch", to: path)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
}

@Test func tenSeriesGetTenColoursAndEveryLegendRow() {
    let series = (0..<10).map { LineChart.Series(name: "series \($0)", values: [Double($0), Double($0) + 1]) }
    let image = LineChart.render(series, title: "ten", xLabel: "epoch")
    // Five legend rows: three more than fit the default height.
    #expect(image.height == 400 + 3 * 18)
    func count(_ colour: (UInt8, UInt8, UInt8)) -> Int {
        stride(from: 0, to: image.rgb.count, by: 3).filter {
            image.rgb[$0] == colour.0 && image.rgb[$0 + 1] == colour.1 && image.rgb[$0 + 2] == colour.2
        }.count
    }
    // The tenth series' colour appears, also in the last legend row (below the default height).
    let tenth: (UInt8, UInt8, UInt8) = (255, 205, 225)
    #expect(count(tenth) > 60)
    let lastRowStart = (400 - 40 + 4 * 18 + 6) * image.width * 3
    let legendPixels = stride(from: lastRowStart, to: lastRowStart + image.width * 3, by: 3).filter {
        image.rgb[$0] == tenth.0 && image.rgb[$0 + 1] == tenth.1 && image.rgb[$0 + 2] == tenth.2
    }
    #expect(legendPixels.count >= 20)
}
