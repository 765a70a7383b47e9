import AppSupport
import Foundation
import ModelRuntime
import NIfTIIO
import Radiograph
import StudyAnalysis
import TestSupport
import Testing

/// The shipped lung-field network, when Weights/ holds it.
let shippedLungFieldModel = repositoryRoot() + "/Weights/" + LungFieldModel.fileName

/// `analyze` on real adult radiographs with the shipped lung-field network: two lung fields,
/// the patient's right on the image's left, close to the published mask. These images are in
/// the network's training set, so the Dice shows the fit and the pipeline, not generalisation
/// (the leave-one-out table in the README does that).
@Test(
    .enabled(if: hasSharedData("cxr-adult/lung-masks/images"), "needs ../shared/data/cxr-adult/lung-masks"),
    .enabled(if: FileManager.default.fileExists(atPath: shippedLungFieldModel), "needs Weights/cxr-lung-fields.h5"),
    arguments: ["CHNCXR_0005_0.png", "jsrt-like-2.jpg"])
func analyzeDrawsLungFieldsOnRealRadiographs(_ file: String) throws {
    let folder = try #require(sharedData("cxr-adult/lung-masks"))
    let output = try temporaryDirectory() + "/out"
    var options = AnalysisOptions(input: folder + "/images/" + file, output: output)
    options.models = try AnalysisModels.shipped([.lungFields, .radiograph], in: repositoryRoot() + "/Weights")
    #expect(options.models.lungFields != nil)
    let report = try Analyzer.analyze(options)
    #expect(report.segmentation.method == "lung-field U-Net")
    let (mask, _) = try NIfTI.read(output + "/" + OutputFile.lungMask)
    let labels = mask.asInt16.voxels
    let width = mask.geometry.size.x
    func meanColumn(_ label: Int16) -> Double {
        let columns = labels.indices.filter { labels[$0] == label }.map { Double($0 % width) }
        return columns.isEmpty ? -1 : columns.reduce(0, +) / Double(columns.count)
    }
    #expect(meanColumn(1) >= 0 && meanColumn(1) < Double(width) / 2, "right lung field on the image's left")
    #expect(meanColumn(2) > Double(width) / 2, "left lung field on the image's right")
    let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    let truth = try RadiographLoader.load(path: folder + "/masks/" + stem + ".png")
    let dice = LungFields.dice(labels.map { $0 != 0 }, truth.volume.voxels.map { $0 > 127 })
    #expect(dice >= 0.9, "Dice \(dice) against \(stem)'s mask")
    // The class-activation map is drawn inside the lung fields only.
    if options.models.radiograph != nil {
        let (map, _) = try NIfTI.read(output + "/" + OutputFile.probability)
        let values = map.asFloat.voxels
        let outside = labels.indices.filter { labels[$0] == 0 && values[$0] != 0 }
        #expect(outside.isEmpty, "\(outside.count) map pixels outside the lung fields")
    }
}

/// A lung-field network listed in the MANIFEST but missing is not an error: radiographs are
/// still analysed, and the report says that no lung fields were drawn.
@Test func aMissingLungFieldModelIsNotAnError() throws {
    let weights = try temporaryDirectory()
    try "\(String(repeating: "0", count: 64))  \(LungFieldModel.fileName)\n".write(
        toFile: weights + "/MANIFEST", atomically: true, encoding: .utf8)
    let models = try AnalysisModels.shipped([.lungFields], in: weights)
    #expect(models.lungFields == nil)
}
