import Foundation
import Overview
import Testing
import TestSupport

@Test func lineChartDrawsEachSeriesInItsColour() throws {
    let image = LineChart.render(
        [.init(name: "train loss", values: [1, 0.6, 0.4, 0.3]), .init(name: "validation loss", values: [1.1, 0.8, 0.7, 0.75])],
        title: "fold 1", xLabel: "epoch")
    #expect(image.width == 640 && image.height == 400 && image.rgb.count == 640 * 400 * 3)
    func count(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        stride(from: 0, to: image.rgb.count, by: 3).filter { image.rgb[$0] == r && image.rgb[$0 + 1] == g && image.rgb[$0 + 2] == b }.count
    }
    #expect(count(70, 160, 255) > 100, "first series drawn")
    #expect(count(255, 150, 40) > 100, "second series drawn")
    let path = try temporaryDirectory() + "/curve.png"
    try LineChart.write([.init(name: "x", values: [1, 2])], title: "t", xLabel: "epoch", to: path)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
}
