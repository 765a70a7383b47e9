import AppSupport
import Foundation
import ImageCodecs
import NIfTIIO
import Radiograph
import TestSupport
import Testing

@testable import ModelRuntime
@testable import StudyAnalysis

/// The shipped lung-field network, loaded, when Weights/ holds it.
func shippedLungFields() throws -> LoadedModel {
    try AnalysisModels.load(shippedLungFieldModel, requireManifest: true)
}

let hasShippedLungFields = FileManager.default.fileExists(atPath: shippedLungFieldModel)

/// A model trained on lung-field crops, given to `analyze` without a lung-field network: the
/// radiograph is analysed, no probability is made up from an image the model was not trained
/// to see, and the report says why.
@Test func aLungFieldCropModelWithoutLungFieldsGivesNoProbabilityAndSaysWhy() throws {
    let model = try smallModel(classes: ["covid", "normal", "other"], normalization: LungFieldInput.normalization)
    let folder = try temporaryDirectory()
    let pixels = (0..<(120 * 100)).map { UInt8(($0 * 7) % 256) }
    try PNGWriter.write(path: folder + "/cxr.png", width: 120, height: 100, channels: 1, pixels: pixels)
    var options = AnalysisOptions(input: folder + "/cxr.png", output: folder + "/out")
    options.models = AnalysisModels(radiograph: model)
    let report = try Analyzer.analyze(options)
    #expect(!report.model.ran)
    #expect(report.model.probability == nil)
    #expect(report.model.reason.contains("lung-field network"))
    #expect(report.warnings.contains { $0.contains("could not be applied") })
    #expect(!FileManager.default.fileExists(atPath: folder + "/out/" + OutputFile.probability))
}

/// A picture with no lungs in it (a flat gray square) is refused by the crop, not cropped to
/// whatever the network half-sees.
@Test(.enabled(if: hasShippedLungFields, "needs Weights/cxr-lung-fields.h5"))
func aPictureWithoutLungFieldsIsRefusedByTheCrop() throws {
    let flat = [Float](repeating: 0.5, count: 96 * 96)
    #expect(throws: LungCTError.self) {
        try LungFieldInput.prepare(flat, width: 96, height: 96, size: 64, lungFields: try shippedLungFields())
    }
}

/// On a real adult radiograph: the crop holds the lung fields, its values are 0...1 with 0
/// around the lungs, and the input does not depend on the resolution the image came in (a
/// 64 px copy gives the same input as the full-size film), which is what keeps resolution from
/// telling sources apart.
@Test(
    .enabled(if: hasSharedData("cxr-adult/lung-masks/images"), "needs ../shared/data/cxr-adult/lung-masks"),
    .enabled(if: hasShippedLungFields, "needs Weights/cxr-lung-fields.h5"))
func theLungFieldCropIsTheSameAtFullSizeAndAt64Pixels() throws {
    let folder = try #require(sharedData("cxr-adult/lung-masks/images"))
    let picture = try RadiographLoader.load(path: folder + "/CHNCXR_0003_0.png")
    let normalized = RadiographNormalization.normalize(picture).volume
    let (width, height) = (normalized.size.x, normalized.size.y)
    let plane = Array(normalized.voxels[0..<(width * height)])
    let lungFields = try shippedLungFields()
    let full = try LungFieldInput.prepare(plane, width: width, height: height, size: 64, lungFields: lungFields)
    #expect((0.15...0.7).contains(full.lungShare), "lung share \(full.lungShare)")
    #expect(full.box.x0 >= 0 && full.box.x1 <= 64 && full.box.y0 >= 0 && full.box.y1 <= 64)
    #expect(full.box.x1 - full.box.x0 >= 32 && full.box.y1 - full.box.y0 >= 32)
    #expect(full.pixels.allSatisfy { (0...1).contains($0) })
    #expect(full.pixels.filter { $0 == 0 }.count > 64, "the corners, away from the lungs, are blanked")
    let small = ModelInputPreparation.resize(plane, width: width, height: height, to: LungFieldInput.floorSize)
    let fromSmall = try LungFieldInput.prepare(small, width: 64, height: 64, size: 64, lungFields: lungFields)
    #expect(fromSmall.box == full.box)
    let largest = zip(full.pixels, fromSmall.pixels).map { abs($0 - $1) }.max() ?? 1
    #expect(largest < 1e-5, "largest difference \(largest)")
}

@Test func windowingMapsTheLungPercentilesToZeroAndOneAndBlanksTheRest() {
    let pixels: [Float] = (0..<100).map { Float($0) / 100 }
    let lung = (0..<100).map { $0 >= 20 && $0 < 80 }
    let keep = (0..<100).map { $0 >= 10 && $0 < 90 }
    let out = LungFieldInput.windowed(pixels, lung: lung, keep: keep)
    #expect(out[0..<10].allSatisfy { $0 == 0 } && out[90...].allSatisfy { $0 == 0 })
    #expect(out[20] == 0 && out[79] == 1, "the lung's 1st and 99th percentiles")
    #expect(out[50] > 0.45 && out[50] < 0.55)
    #expect(out[12] == 0 && out[85] == 1, "clipped outside the lung's range")
}

@Test func dilationGrowsASquareNeighbourhood() {
    var mask = [Bool](repeating: false, count: 81)
    mask[4 * 9 + 4] = true
    let grown = LungFieldInput.dilated(mask, side: 9, by: 2)
    let on = grown.indices.filter { grown[$0] }
    #expect(on.count == 25)
    let columns = on.map { $0 % 9 }
    let rows = on.map { $0 / 9 }
    #expect(columns.min() == 2 && columns.max() == 6 && rows.min() == 2 && rows.max() == 6)
}

/// A map on the model's input goes back onto the crop box of the 64 px image, nothing outside it.
@Test func aCropMapGoesBackInsideItsBox() {
    let map = [Float](repeating: 1, count: 16 * 16)
    let back = LungFieldInput.mapBack(map, size: 16, box: (x0: 16, y0: 8, x1: 48, y1: 56), toWidth: 64, height: 64)
    for y in 0..<64 {
        for x in 0..<64 {
            let inside = (16..<48).contains(x) && (8..<56).contains(y)
            #expect(inside ? back[y * 64 + x] == 1 : back[y * 64 + x] == 0, "(\(x), \(y))")
        }
    }
}

@Test func aCropModelNeedsTheLungFieldNetwork() throws {
    #expect(throws: LungCTError.self) {
        try RadiographInput.forModel(normalization: LungFieldInput.normalization, lungFields: nil, path: "m.h5")
    }
    let whole = try RadiographInput.forModel(
        normalization: ModelInputPreparation.normalization, lungFields: nil, path: "m.h5")
    guard case .whole = whole else {
        Issue.record("a whole-image model must get whole images")
        return
    }
}
