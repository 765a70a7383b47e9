import Foundation
import HDF5Store
import ImageCodecs
import ModelRuntime
import ModelStore
import NIfTIIO
import NeuralEngine
import Phantom
import Radiograph
import TestSupport
import Testing
import VolumeCore

@testable import StudyAnalysis

/// A small untrained (seeded) model written and loaded as the shipped ones are: the tests
/// below check how `analyze` uses a model, not what it learned.
func smallModel(
    classes: [String] = ["covid", "noncovid"], size: Int = 64,
    normalization: String = ModelInputPreparation.normalization
) throws -> LoadedModel {
    let folder = try temporaryDirectory()
    let layers = Architecture.fullyConvolutional(inputChannels: 1, classes: classes.count, width: 4, blocks: 3)
    let network = try Architecture.build(layers, seed: 5)
    var description = ModelDescription(
        layers: layers,
        input: ModelInput(width: size, height: size, channels: 1, normalization: normalization), classes: classes,
        card: ModelCard(name: "test", task: "test", trainingData: "none", dataTerms: "none", createdBy: "test"))
    description.temperature = 1.5
    let path = folder + "/model.h5"
    try ModelFile.save(network, description: description, to: path)
    return try AnalysisModels.load(path, requireManifest: false)
}

func smallPhantom(seed: UInt64 = 3) -> Phantom {
    testPhantom(size: 80, slices: 30, spacing: 8, lesions: 2, seed: seed).phantom
}

@Test func radiographsGetClassProbabilitiesAndAnActivationMap() throws {
    let model = try smallModel(classes: ["covid", "normal", "viral-pneumonia"])
    let folder = try temporaryDirectory()
    var pixels = [UInt8](repeating: 0, count: 200 * 160)
    for y in 0..<160 { for x in 0..<200 { pixels[y * 200 + x] = UInt8((x + 2 * y) % 256) } }
    try PNGWriter.write(path: folder + "/cxr.png", width: 200, height: 160, channels: 1, pixels: pixels)
    var options = AnalysisOptions(input: folder + "/cxr.png", output: folder + "/out")
    options.models = AnalysisModels(radiograph: model)
    let report = try Analyzer.analyze(options)
    let classes = try #require(report.model.classProbabilities)
    #expect(Set(classes.keys) == ["covid", "normal", "viral-pneumonia"])
    #expect(abs(classes.values.reduce(0, +) - 1) < 1e-3)
    #expect(report.model.probability == classes["covid"])
    let map = try NIfTI.read(folder + "/out/" + OutputFile.probability).0.asFloat
    #expect(map.size == Size3(200, 160, 1))
    #expect(map.voxels.allSatisfy { (0...1).contains($0) })
}

/// The shipped classifiers: listed in Weights/MANIFEST with their SHA-256, loadable, with a
/// complete model card; the CT slice-image model is shipped (for `lungct evaluate`) but
/// `analyze` neither loads it nor accepts it with --model.
@Test func shippedModelsLoadWithTheirCards() throws {
    let weights = repositoryRoot() + "/Weights"
    for (file, classes, kind) in [
        (AnalysisModels.sliceImageFileName, ["covid", "noncovid"], ModelKind.ct),
        (AnalysisModels.radiographFileName, ["covid", "normal", "other"], .radiograph),
    ] {
        let model = try AnalysisModels.load(weights + "/" + file, requireManifest: true)
        #expect(model.description.classes == classes)
        #expect(model.kind == kind)
        let card = model.description.card
        #expect(card.intendedUse.contains("not for clinical use"))
        #expect(!card.knownBiases.isEmpty)
        #expect(card.metrics["auc"]?.contains("±") == true)
        #expect(card.metrics["accuracy"]?.contains("±") == true)
        #expect(card.metrics["calibration"] != nil)
        #expect(!card.dataTerms.isEmpty && !card.trainingData.isEmpty)
        #expect(model.description.temperature != nil)
    }
    // The radiograph model sees lung-field crops, and its card carries the per-source tables.
    let radiograph = try AnalysisModels.load(weights + "/" + AnalysisModels.radiographFileName, requireManifest: true)
    #expect(radiograph.description.input.normalization == LungFieldInput.normalization)
    let metrics = radiograph.description.card.metrics.keys
    #expect(metrics.contains("left out of training, source nih"))
    #expect(metrics.contains("out-of-fold, source nih"))
    // A tampered copy beside the same MANIFEST is refused.
    let folder = try temporaryDirectory()
    try FileManager.default.copyItem(atPath: weights + "/MANIFEST", toPath: folder + "/MANIFEST")
    var bytes = try Data(contentsOf: URL(fileURLWithPath: weights + "/" + AnalysisModels.sliceImageFileName))
    bytes[bytes.count - 100] ^= 0xFF
    try bytes.write(to: URL(fileURLWithPath: folder + "/" + AnalysisModels.sliceImageFileName))
    do {
        _ = try AnalysisModels.load(folder + "/" + AnalysisModels.sliceImageFileName, requireManifest: true)
        Issue.record("a tampered model was loaded")
    } catch {
        #expect(error.description.contains("does not match"), "\(error)")
    }
    // Given with --model, the slice-image model is refused: no CT volume goes through it.
    do {
        _ = try AnalysisModels.forCommandLine(model: weights + "/" + AnalysisModels.sliceImageFileName, none: false)
        Issue.record("the CT slice-image model was accepted for analyze")
    } catch {
        #expect(error.category == .modelInvalid && error.description.contains("2D CT slice images"), "\(error)")
    }
}

/// A shipped model that its MANIFEST lists but the folder lacks is an error, not a quiet run
/// without it; a folder holding only the radiograph model and its line ships no lesion model,
/// and the slice-image model beside it is not loaded.
@Test func aListedShippedModelThatIsMissingIsAnError() throws {
    let weights = repositoryRoot() + "/Weights"
    let manifest = try String(contentsOfFile: weights + "/MANIFEST", encoding: .utf8)
    let kept = manifest.split(separator: "\n").filter {
        $0.hasSuffix(AnalysisModels.radiographFileName) || $0.hasSuffix(AnalysisModels.sliceImageFileName)
    }
    let partial = try temporaryDirectory()
    for file in [AnalysisModels.radiographFileName, AnalysisModels.sliceImageFileName] {
        try FileManager.default.copyItem(atPath: weights + "/" + file, toPath: partial + "/" + file)
    }
    let lesionLine = "\(String(repeating: "0", count: 64))  \(AnalysisModels.lesionFileName)"
    try (kept + [Substring(lesionLine)]).joined(separator: "\n").write(
        toFile: partial + "/MANIFEST", atomically: true, encoding: .utf8)
    do {
        _ = try AnalysisModels.shipped(in: partial)
        Issue.record("a missing shipped model went unnoticed")
    } catch {
        #expect(
            error.description.contains(AnalysisModels.lesionFileName) && error.description.contains("missing"),
            "\(error)")
    }
    try kept.joined(separator: "\n").write(toFile: partial + "/MANIFEST", atomically: true, encoding: .utf8)
    let radiographOnly = try AnalysisModels.shipped(in: partial)
    #expect(radiographOnly.lesion == nil && radiographOnly.radiograph?.kind == .radiograph)
}

/// The shipped lesion network (once it is in Weights/): listed, loadable as a lesion model on
/// its grid, with a card.
@Test(
    .enabled(
        if: FileManager.default.fileExists(atPath: repositoryRoot() + "/Weights/" + AnalysisModels.lesionFileName),
        "Weights/ct-lesions.h5 is not shipped yet"))
func theShippedLesionModelLoadsOnItsGrid() throws {
    let shipped = try AnalysisModels.shipped(in: repositoryRoot() + "/Weights")
    let model = try #require(shipped.lesion)
    #expect(model.kind == .lesion)
    #expect(model.description.grid != nil)
    #expect(model.description.classes == ["background", "ground-glass", "consolidation"])
    #expect(model.description.card.intendedUse.contains("not for clinical use"))
}

@Test func aMaskVolumeIsNotAnalysedAsACT() throws {
    let phantom = smallPhantom(seed: 6)
    let folder = try temporaryDirectory()
    try NIfTI.write(phantom.lungs, to: folder + "/mask.nii.gz")
    do {
        _ = try Analyzer.analyze(AnalysisOptions(input: folder + "/mask.nii.gz", output: folder + "/out"))
        Issue.record("a lung mask was analysed as a CT")
    } catch .nothingToAnalyse(let input, let details) {
        #expect(input.hasSuffix("mask.nii.gz"))
        #expect(details.contains("label volume (values 0, 1, 2)"))
    } catch {
        Issue.record("unexpected error \(error)")
    }
    // The CT itself still is.
    try NIfTI.write(phantom.ct, to: folder + "/ct.nii.gz")
    #expect(
        try Analyzer.analyze(AnalysisOptions(input: folder + "/ct.nii.gz", output: folder + "/ct")).lungPanel != nil)
}
