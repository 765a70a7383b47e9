import AppSupport
import Foundation
import ImageCodecs
import ModelRuntime
import ModelStore
import NeuralEngine
import TestSupport
import Testing
import Training

/// An untrained two-class radiograph classifier (what it answers does not matter here) with
/// its MANIFEST; returns the model's path.
func untrainedClassifier() throws -> String {
    let folder = try temporaryDirectory()
    let layers = Architecture.fullyConvolutional(classes: 2, width: 4, blocks: 2)
    let network = try Architecture.build(layers, seed: 3)
    let card = ModelCard(
        name: "untrained", task: "chest radiograph: covid / normal", trainingData: "none", dataTerms: "none",
        createdBy: "test")
    let description = ModelDescription(
        layers: layers,
        input: ModelInput(width: 16, height: 16, channels: 1, normalization: ModelInputPreparation.normalization),
        classes: ["covid", "normal"], card: card)
    try ModelFile.save(network, description: description, to: folder + "/untrained.h5")
    let sha = try ModelFile.sha256(folder + "/untrained.h5")
    try "\(sha)  untrained.h5\n".write(toFile: folder + "/MANIFEST", atomically: true, encoding: .utf8)
    return folder + "/untrained.h5"
}

/// Writes `count` 40×40 gray PNGs (radiographs under 32 px are refused) into `folder`.
func grayPictures(_ folder: String, count: Int, seed: UInt64) throws {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var rng = SeededGenerator(seed: seed)
    for index in 0..<count {
        let pixels = (0..<(40 * 40)).map { _ in UInt8(40 + rng.uniform() * 150) }
        try PNGWriter.write(path: "\(folder)/img\(index).png", width: 40, height: 40, channels: 1, pixels: pixels)
    }
}

@Test func evaluateWithPositivesOnlyGivesSensitivityPerSource() throws {
    let model = try untrainedClassifier()
    let data = try temporaryDirectory() + "/held-out"
    try grayPictures(data + "/covid/hannover", count: 3, seed: 1)
    try grayPictures(data + "/covid/bimcv", count: 2, seed: 2)
    let report = try ModelEvaluationRun.evaluate(
        model: model, manifest: nil, data: data, predictions: nil, maps: nil)
    #expect(report.images == 5)
    #expect(report.missingClasses == ["normal"])
    #expect(report.notes.count == 1 && report.notes[0].contains("normal/ is absent"))
    #expect((report.sensitivity["covid"] ?? nil) != nil, "a folder of positives gives a sensitivity")
    #expect((report.specificity["covid"] ?? nil) == nil, "and no specificity")
    let sources = report.bySource ?? []
    #expect(sources.map(\.source) == ["bimcv", "hannover"])
    #expect(sources.map(\.images) == [2, 3])
    #expect(sources.allSatisfy { $0.imagesPerClass["covid"] == $0.images && $0.imagesPerClass["normal"] == 0 })
}

@Test func evaluateWithoutAnyClassFolderIsRefused() throws {
    let model = try untrainedClassifier()
    let data = try temporaryDirectory() + "/empty"
    try grayPictures(data + "/other", count: 1, seed: 1)
    #expect {
        try ModelEvaluationRun.evaluate(model: model, manifest: nil, data: data, predictions: nil, maps: nil)
    } throws: { ($0 as? LungCTError)?.category == .nothingToAnalyse }
}
