import AppSupport
import Foundation
import HDF5Store
import ImageCodecs
import ModelRuntime
import ModelStore
import NIfTIIO
import NeuralEngine
import Phantom
import TestSupport
import Testing
import VolumeCore

@testable import StudyAnalysis

/// The lesion classes of `lungct train --task lesion`.
let lesionClasses = ["background", "ground-glass", "consolidation"]

/// A small lesion U-Net written and loaded as a shipped lesion model is. With `everywhere`, its
/// final convolution is set to give that class at every pixel (weights 0, that class's bias
/// high), so the plumbing's results are known exactly; without, it is untrained (seeded).
func lesionModel(everywhere: Int? = nil, grid: LesionGridSpec? = LesionGridSpec(), seed: UInt64 = 7) throws
    -> LoadedModel
{
    let layers = Architecture.unet(inputChannels: 3, classes: 3, width: 4, depth: 2)
    let network = try Architecture.build(layers, seed: seed)
    if let everywhere, let last = network.layers.last as? Conv2D {
        for index in last.weight.value.storage.indices { last.weight.value.storage[index] = 0 }
        for c in 0..<3 { last.bias?.value.storage[c] = c == everywhere ? 20 : 0 }
    }
    var description = ModelDescription(
        layers: layers, input: ModelInput(width: 64, height: 64, channels: 3, normalization: "lesion grid"),
        classes: lesionClasses,
        card: ModelCard(
            name: "lesion-test", task: "COVID-19-type lesions per voxel, chest CT in HU (test)", trainingData: "none",
            dataTerms: "none", createdBy: "test"))
    description.grid = grid
    let path = try temporaryDirectory() + "/lesion.h5"
    try ModelFile.save(network, description: description, to: path)
    return try AnalysisModels.load(path, requireManifest: false)
}

/// The phantom the lesion tests analyse: small, so the debug build's network is quick.
func lesionPhantom() -> Phantom {
    testPhantom(size: 64, slices: 16, spacing: 10, lesions: 2, seed: 5).phantom
}

/// `lesionPhantom()` written as ct.nii.gz and analysed with `model`: its outputs folder (ending
/// in "/") and the report.
func analyzeLesionPhantom(with model: LoadedModel) throws -> (out: String, report: AnalysisReport) {
    let folder = try temporaryDirectory()
    try NIfTI.write(lesionPhantom().ct, to: folder + "/ct.nii.gz")
    var options = AnalysisOptions(input: folder + "/ct.nii.gz", output: folder + "/out")
    options.models = AnalysisModels(lesion: model)
    return (folder + "/out/", try Analyzer.analyze(options))
}

@Test func everyLungVoxelGroundGlassGivesFullOpacityAndSeverity30() throws {
    let phantom = lesionPhantom()
    let model = try lesionModel(everywhere: 1)
    let found = try #require(try LesionScoring.analyze(hu: phantom.ct, labels: phantom.lungs, model: model))
    #expect(found.probability.geometry == phantom.ct.geometry && found.mask.geometry == phantom.ct.geometry)
    let wrong = phantom.lungs.voxels.indices.filter { index in
        let (p, m) = (found.probability.voxels[index], found.mask.voxels[index])
        return phantom.lungs.voxels[index] == 0 ? p != 0 || m != 0 : p <= 0.999 || m != 1
    }
    #expect(wrong.isEmpty, "\(wrong.count) voxels with a probability or label other than 1 inside the lungs, 0 outside")
    let panel = found.report.panel
    #expect(abs(panel.total.opacityPercent - 100) < 1e-9)
    #expect(abs(panel.right.classML["ground-glass"]! - panel.right.lesionML) < 1e-9)
    #expect(panel.total.classML["consolidation"] == 0)
    #expect(panel.bilateral)
    #expect(found.report.severity.total == 30 && panel.zones.allSatisfy { $0.points == 5 })
    // All of both lungs: the zones hold the lung's own thirds, and the score is its typicality.
    let score = found.report.score
    let typicality =
        0.4 + 0.3 + 0.15 * panel.total.peripheralFraction! + 0.15 * panel.total.zoneFractions!.lower
    #expect(abs(score.value - typicality) < 1e-6 && !score.calibrated)
    #expect(score.features["opacityPercent"] == panel.total.opacityPercent)
    #expect(found.report.topSlices.count == 5 && found.report.maskLabels["1"] == "ground-glass")
}

@Test func backgroundEverywhereGivesNoLesionAndAZeroScore() throws {
    let phantom = lesionPhantom()
    let found = try #require(
        try LesionScoring.analyze(hu: phantom.ct, labels: phantom.lungs, model: try lesionModel(everywhere: 0)))
    #expect(found.probability.voxels.allSatisfy { $0 < 1e-6 })
    #expect(found.mask.voxels.allSatisfy { $0 == 0 })
    let panel = found.report.panel
    #expect(panel.total.lesionML == 0 && panel.total.opacityPercent == 0 && !panel.bilateral)
    #expect(panel.total.peripheralFraction == nil && panel.total.zoneFractions == nil)
    #expect(found.report.severity.total == 0 && found.report.score.value == 0)
    #expect(found.report.topSlices.isEmpty)
    // Consolidation everywhere: the mask says 2 inside the lungs.
    let consolidation = try #require(
        try LesionScoring.analyze(hu: phantom.ct, labels: phantom.lungs, model: try lesionModel(everywhere: 2)))
    #expect(zip(consolidation.mask.voxels, phantom.lungs.voxels).allSatisfy { $0 == ($1 == 0 ? 0 : 2) })
}

@Test func lesionMapsDoNotDependOnHowTheVolumeIsStored() throws {
    let phantom = lesionPhantom()
    let model = try lesionModel()
    let direct = try #require(try LesionScoring.analyze(hu: phantom.ct, labels: phantom.lungs, model: model))
    // The same patient stored feet first with rows flipped (RAI): the same maps, on its own grid.
    let hu = try phantom.ct.reoriented(to: "RAI")
    let lungs = try phantom.lungs.reoriented(to: "RAI")
    let flipped = try #require(try LesionScoring.analyze(hu: hu, labels: lungs, model: model))
    #expect(flipped.probability.geometry == hu.geometry)
    let back = try flipped.probability.reoriented(to: "LPS")
    #expect(zip(back.voxels, direct.probability.voxels).map { abs($0 - $1) }.max() ?? 1 < 1e-5)
    #expect(try flipped.mask.reoriented(to: "LPS").voxels == direct.mask.voxels)
    #expect(flipped.report.panel == direct.report.panel)
    // Slice indices are the input's: reversed along z.
    let z = phantom.ct.size.z
    #expect(Set(flipped.slices.map { z - 1 - $0.z }) == Set(direct.slices.map(\.z)))
}

@Test func theLesionModelCheckRefusesWhatItCannotApply() throws {
    // A lesion model (its task names lesions) without a grid.
    #expect {
        _ = try lesionModel(grid: nil)
    } throws: { error in
        let error = error as? LungCTError
        return error?.category == .modelInvalid && error?.description.contains("no lesion grid") == true
    }
    // A grid whose planes do not match the network's input channels.
    var wide = LesionGridSpec()
    wide.contextSlices = 2
    #expect {
        _ = try lesionModel(grid: wide)
    } throws: { ($0 as? LungCTError)?.description.contains("5 planes") == true }
    // A classifier (global pooling) with a grid is refused as a lesion model.
    let layers = Architecture.fullyConvolutional(inputChannels: 3, classes: 3, width: 4, blocks: 2)
    var description = ModelDescription(
        layers: layers, input: ModelInput(width: 32, height: 32, channels: 3, normalization: "lesion grid"),
        classes: lesionClasses,
        card: ModelCard(name: "x", task: "lesions", trainingData: "none", dataTerms: "none", createdBy: "test"))
    description.grid = LesionGridSpec()
    let path = try temporaryDirectory() + "/pooled.h5"
    try ModelFile.save(try Architecture.build(layers, seed: 1), description: description, to: path)
    #expect {
        _ = try AnalysisModels.load(path, requireManifest: false)
    } throws: { ($0 as? LungCTError)?.category == .modelInvalid }
    // The good one is a lesion model, and --model puts it in the lesion slot.
    let good = try lesionModel()
    #expect(good.kind == .lesion)
    let models = try AnalysisModels.forCommandLine(model: good.path, none: false)
    #expect(models.lesion?.path == good.path && models.radiograph?.path != good.path)
}

/// A lesion model given for a radiograph is not used on it.
@Test func aLesionModelIsNotAppliedToARadiograph() throws {
    let folder = try temporaryDirectory()
    var pixels = [UInt8](repeating: 0, count: 120 * 100)
    for y in 0..<100 { for x in 0..<120 { pixels[y * 120 + x] = UInt8((3 * x + y) % 256) } }
    try PNGWriter.write(path: folder + "/cxr.png", width: 120, height: 100, channels: 1, pixels: pixels)
    var options = AnalysisOptions(input: folder + "/cxr.png", output: folder + "/out")
    options.models = AnalysisModels(lesion: try lesionModel(everywhere: 1))
    let report = try Analyzer.analyze(options)
    #expect(report.kind == "radiograph" && !report.model.ran && report.lesions == nil)
    #expect(!FileManager.default.fileExists(atPath: folder + "/out/" + OutputFile.lesionMask))
}
