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
func smallModel(classes: [String] = ["covid", "noncovid"], size: Int = 64) throws -> LoadedModel {
    let folder = try temporaryDirectory()
    let layers = Architecture.fullyConvolutional(inputChannels: 1, classes: classes.count, width: 4, blocks: 3)
    let network = try Architecture.build(layers, seed: 5)
    var description = ModelDescription(
        layers: layers,
        input: ModelInput(width: size, height: size, channels: 1, normalization: ModelInputPreparation.normalization),
        classes: classes,
        card: ModelCard(name: "test", task: "test", trainingData: "none", dataTerms: "none", createdBy: "test"))
    description.temperature = 1.5
    let path = folder + "/model.h5"
    try ModelFile.save(network, description: description, to: path)
    return try AnalysisModels.load(path, requireManifest: false)
}

func smallPhantom(seed: UInt64 = 3) -> Phantom {
    testPhantom(size: 80, slices: 30, spacing: 8, lesions: 2, seed: seed).phantom
}

@Test func ctScoreMapStaysInsideTheLungsAndFollowsTheStudyRule() throws {
    let model = try smallModel()
    let phantom = smallPhantom()
    let score = try #require(try CovidScoring.scoreCT(hu: phantom.ct, labels: phantom.lungs, model: model))
    #expect(score.map.geometry == phantom.ct.geometry)
    var inside = 0
    for index in score.map.voxels.indices {
        let p = score.map.voxels[index]
        #expect((0...1).contains(p))
        if phantom.lungs.voxels[index] == 0 {
            #expect(p == 0, "probability outside the lungs at \(index)")
        } else if p > 0 {
            inside += 1
        }
    }
    #expect(inside > 0)
    // Every slice with lung is scored once; the study probability is the documented rule.
    let plane = phantom.ct.size.x * phantom.ct.size.y
    let lungSlices = (0..<phantom.ct.size.z).filter { z in
        phantom.lungs.voxels[(z * plane)..<((z + 1) * plane)].contains { $0 != 0 }
    }
    #expect(score.slices.map(\.z).sorted() == lungSlices)
    let counted = score.slices.filter(\.counted).map(\.probability).sorted(by: >)
    let top = Int((Double(counted.count) / 4).rounded(.up))
    #expect(abs(score.probability - counted.prefix(top).reduce(0, +) / Double(top)) < 1e-12)
    #expect(abs(score.classProbabilities["covid"]! + score.classProbabilities["noncovid"]! - 1) < 1e-12)
}

@Test func ctScoreDoesNotDependOnHowTheVolumeIsStored() throws {
    let model = try smallModel()
    let phantom = smallPhantom()
    let direct = try #require(try CovidScoring.scoreCT(hu: phantom.ct, labels: phantom.lungs, model: model))
    // The same patient stored feet first and with rows flipped (RAI): same answer, same map.
    let hu = try phantom.ct.reoriented(to: "RAI")
    let lungs = try phantom.lungs.reoriented(to: "RAI")
    let flipped = try #require(try CovidScoring.scoreCT(hu: hu, labels: lungs, model: model))
    #expect(abs(direct.probability - flipped.probability) < 1e-6)
    #expect(flipped.map.geometry == hu.geometry)
    let back = try flipped.map.reoriented(to: direct.map.geometry.orientationCode)
    let largest = zip(back.voxels, direct.map.voxels).map { abs($0 - $1) }.max() ?? 0
    #expect(largest < 1e-5)
    // Slice indices are the input's: reversed along z.
    let z = phantom.ct.size.z
    #expect(Set(flipped.slices.map { z - 1 - $0.z }) == Set(direct.slices.map(\.z)))
}

@Test func aCTSliceReachesTheModelAsTrainingImagesDo() throws {
    // The slice in the lung window, normalised between its percentiles and resized exactly as
    // `lungct train` prepares an image, from a non-square crop in LPS order (column 0 is the
    // patient's right): a transposition, a flip or another normalisation would differ.
    let phantom = smallPhantom()
    let lps = try phantom.ct.reoriented(to: "LPS")
    let (z, crop) = (lps.size.z / 2, (x0: 7, y0: 12, width: 60, height: 44))
    let (low, width) = (CovidScoring.window.lower, CovidScoring.window.width)
    var windowed: [Float] = []
    for y in 0..<crop.height {
        for x in 0..<crop.width {
            let hu = Double(lps.voxels[(z * lps.size.y + crop.y0 + y) * lps.size.x + crop.x0 + x])
            windowed.append(Float(min(1, max(0, (hu - low) / width))))
        }
    }
    let expected = ModelInputPreparation.resize(
        RadiographNormalization.normalizeByPercentiles(windowed), width: crop.width, height: crop.height, to: 32)
    let input = CovidScoring.modelInput(lps, slice: z, crop: crop, size: 32)
    #expect(input.count == 32 * 32)
    let largest = zip(input, expected).map { abs($0 - $1) }.max() ?? 1
    #expect(largest < 1e-5, "largest difference \(largest)")
}

@Test func studyRuleAveragesTheTopQuarterOfCountedSlices() {
    func slice(_ p: Double, _ counted: Bool = true) -> AnalysisReport.SliceProbability {
        AnalysisReport.SliceProbability(z: 0, positionMM: 0, probability: p, counted: counted)
    }
    // 8 counted slices: the top 2 (0.9, 0.8); an uncounted 1.0 is ignored.
    let slices = [0.1, 0.9, 0.2, 0.8, 0.3, 0.4, 0.5, 0.6].map { slice($0) } + [slice(1.0, false)]
    #expect(abs(CovidScoring.studyProbability(slices) - 0.85) < 1e-12)
    // 1 to 4 counted slices: the top one.
    #expect(CovidScoring.studyProbability([slice(0.3), slice(0.7)]) == 0.7)
    #expect(CovidScoring.studyProbability([slice(0.9, false)]) == 0)
}

@Test func analyzeWithAModelWritesTheProbabilityEverywhere() throws {
    let model = try smallModel()
    let phantom = smallPhantom(seed: 4)
    let folder = try temporaryDirectory()
    try NIfTI.write(phantom.ct, to: folder + "/ct.nii.gz")
    var options = AnalysisOptions(input: folder + "/ct.nii.gz", output: folder + "/out")
    options.models = AnalysisModels(ct: model)
    let report = try Analyzer.analyze(options)
    #expect(report.model.ran)
    #expect(report.model.sha256 == model.sha256)
    let probability = try #require(report.model.probability)
    #expect((0...1).contains(probability))
    #expect(report.model.topSlices?.count == 5)
    #expect(report.outputs["probability"] != nil)
    let map = try NIfTI.read(folder + "/out/" + OutputFile.probability).0.asFloat
    #expect(map.size == phantom.ct.size)
    let mask = try NIfTI.read(folder + "/out/" + OutputFile.lungMask).0.asInt16
    #expect(zip(map.voxels, mask.voxels).allSatisfy { $1 != 0 || $0 == 0 })
    let file = try HDF5File(openingForReading: folder + "/out/" + OutputFile.study)
    let stored = try file.readDataset("/maps/covid_probability", as: Float.self)
    #expect(stored.shape == [phantom.ct.size.z, phantom.ct.size.y, phantom.ct.size.x])
    #expect(stored.values == map.voxels)
    guard case .double(let storedProbability) = try file.attribute("probability", at: "/model") else {
        Issue.record("no /model probability")
        return
    }
    #expect(abs(storedProbability - probability) < 1e-4)
    let sliceProbabilities = try file.readDataset("/model/slice_probability", as: Float.self)
    #expect(sliceProbabilities.shape[0] > 0)
    try file.close()
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

/// The shipped models: listed in Weights/MANIFEST with their SHA-256, loadable, with a
/// complete model card, and usable on a CT.
@Test func shippedModelsLoadWithTheirCards() throws {
    let weights = repositoryRoot() + "/Weights"
    for (file, classes) in [
        (AnalysisModels.ctFileName, ["covid", "noncovid"]),
        (AnalysisModels.radiographFileName, ["covid", "normal", "viral-pneumonia"]),
    ] {
        let model = try AnalysisModels.load(weights + "/" + file, requireManifest: true)
        #expect(model.description.classes == classes)
        let card = model.description.card
        #expect(card.intendedUse.contains("not for clinical use"))
        #expect(!card.knownBiases.isEmpty)
        #expect(card.metrics["auc"]?.contains("±") == true)
        #expect(card.metrics["accuracy"]?.contains("±") == true)
        #expect(card.metrics["calibration"] != nil)
        #expect(!card.dataTerms.isEmpty && !card.trainingData.isEmpty)
        #expect(model.description.temperature != nil)
    }
    // A tampered copy beside the same MANIFEST is refused.
    let folder = try temporaryDirectory()
    try FileManager.default.copyItem(atPath: weights + "/MANIFEST", toPath: folder + "/MANIFEST")
    var bytes = try Data(contentsOf: URL(fileURLWithPath: weights + "/" + AnalysisModels.ctFileName))
    bytes[bytes.count - 100] ^= 0xFF
    try bytes.write(to: URL(fileURLWithPath: folder + "/" + AnalysisModels.ctFileName))
    do {
        _ = try AnalysisModels.load(folder + "/" + AnalysisModels.ctFileName, requireManifest: true)
        Issue.record("a tampered model was loaded")
    } catch {
        #expect(error.description.contains("does not match"), "\(error)")
    }

    // A shipped model that its MANIFEST lists but the folder lacks is an error, not a quiet
    // run without it; a folder holding only the radiograph model and its line ships no CT model.
    let partial = try temporaryDirectory()
    try FileManager.default.copyItem(atPath: weights + "/MANIFEST", toPath: partial + "/MANIFEST")
    try FileManager.default.copyItem(
        atPath: weights + "/" + AnalysisModels.radiographFileName,
        toPath: partial + "/" + AnalysisModels.radiographFileName)
    do {
        _ = try AnalysisModels.shipped(in: partial)
        Issue.record("a missing shipped model went unnoticed")
    } catch {
        #expect(
            error.description.contains(AnalysisModels.ctFileName) && error.description.contains("missing"), "\(error)")
    }
    let manifest = try String(contentsOfFile: weights + "/MANIFEST", encoding: .utf8)
    try manifest.split(separator: "\n").filter { !$0.hasSuffix(AnalysisModels.ctFileName) }.joined(separator: "\n")
        .write(toFile: partial + "/MANIFEST", atomically: true, encoding: .utf8)
    let radiographOnly = try AnalysisModels.shipped(in: partial)
    #expect(radiographOnly.ct == nil && radiographOnly.radiograph?.kind == .radiograph)

    let ct = try AnalysisModels.load(weights + "/" + AnalysisModels.ctFileName, requireManifest: true)
    #expect(ct.kind == .ct)
    let phantom = smallPhantom(seed: 9)
    let score = try #require(try CovidScoring.scoreCT(hu: phantom.ct, labels: phantom.lungs, model: ct))
    #expect((0...1).contains(score.probability))
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
