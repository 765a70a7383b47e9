import Foundation
import ModelStore
import NeuralEngine
import TestSupport
import Testing

/// A U-Net from `Architecture.unet` (three levels of skip connections nested in one another,
/// several parameters of one name in each) is saved and loaded whole, passes the model limits,
/// and gives the same per-pixel probabilities.
@Test func aUNetRoundTripsThroughAModelFile() throws {
    let folder = try temporaryDirectory()
    let card = ModelCard(
        name: "lesions", task: "lesion segmentation", trainingData: "none", dataTerms: "none", createdBy: "tests")
    for (specification, input) in [
        (
            Architecture.unet(inputChannels: 3, classes: 3, width: 4, depth: 3),
            Tensor(shape: [2, 3, 16, 24], storage: (0..<2304).map { Float($0 % 37) / 37 })
        ),
        // The default size: about 450 000 weights.
        (Architecture.unet(), Tensor(shape: [1, 3, 8, 8], storage: (0..<192).map { Float($0 % 11) / 11 })),
    ] {
        let network = try Architecture.build(specification, seed: 7)
        _ = network.forward(input, training: true)  // running statistics that must be saved
        let description = ModelDescription(
            layers: network.specification,
            input: ModelInput(width: 192, height: 192, channels: 3, normalization: "lung window L -600 W 1500"),
            classes: ["background", "ground glass", "consolidation"], card: card)
        let path = folder + "/unet-\(specification.count).h5"
        try ModelFile.save(network, description: description, to: path)
        let (loaded, loadedDescription) = try ModelFile.load(path, manifest: nil)
        #expect(loadedDescription.layers == specification)
        #expect(loaded.parameters.count == network.parameters.count)
        // Equal up to float rounding: how OpenBLAS splits a product depends on the threads
        // it may use, a process-wide setting that tests running in parallel change.
        let (before, after) = (network.segmentationProbabilities(input), loaded.segmentationProbabilities(input))
        #expect(zip(before.storage, after.storage).allSatisfy { abs($0 - $1) < 1e-5 })
    }
}
