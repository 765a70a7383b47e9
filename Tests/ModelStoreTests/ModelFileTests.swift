import Foundation
import ModelStore
import NeuralEngine
import TestSupport
import Testing

func smallNetwork(seed: UInt64) throws -> Sequential {
    try Architecture.build(
        [
            LayerSpecification(kind: "conv2d", inputChannels: 1, outputChannels: 4, kernel: 3, padding: 1),
            LayerSpecification(kind: "batchnorm2d", outputChannels: 4), LayerSpecification(kind: "relu"),
            LayerSpecification(kind: "maxpool2d", kernel: 2), LayerSpecification(kind: "globalavgpool"),
            LayerSpecification(kind: "dropout", rate: 0.2),
            LayerSpecification(kind: "dense", inputChannels: 4, outputChannels: 2),
        ], seed: seed)
}

func description(_ network: Sequential) -> ModelDescription {
    ModelDescription(
        layers: network.specification, input: ModelInput(width: 8, height: 8, channels: 1, normalization: "test"),
        classes: ["negative", "positive"],
        card: ModelCard(name: "test", task: "unit test", trainingData: "none", dataTerms: "none", createdBy: "tests"))
}

@Test func aSavedModelLoadsToTheSameOutputs() throws {
    let folder = try temporaryDirectory()
    let network = try smallNetwork(seed: 3)
    // Move the batch-norm running statistics away from their defaults so they must be saved.
    let input = Tensor(shape: [2, 1, 8, 8], storage: (0..<128).map { Float($0 % 13) / 13 })
    _ = network.forward(input, training: true)
    let path = folder + "/m.h5"
    try ModelFile.save(network, description: description(network), to: path)
    let manifest = folder + "/MANIFEST"
    try "\(try ModelFile.sha256(path))  m.h5\n".write(toFile: manifest, atomically: true, encoding: .utf8)
    let (loaded, loadedDescription) = try ModelFile.load(path, manifest: manifest)
    #expect(loadedDescription.classes == ["negative", "positive"])
    #expect(loadedDescription.card.intendedUse.contains("not for clinical use"))
    #expect(loaded.forward(input, training: false) == network.forward(input, training: false))
    // One read: the hash returned is that of the bytes the network was built from.
    #expect(try ModelFile.open(path, manifest: manifest).sha256 == (try ModelFile.sha256(path)))
}

@Test func aChangedOrUnlistedModelIsRefused() throws {
    let folder = try temporaryDirectory()
    let network = try smallNetwork(seed: 4)
    let path = folder + "/m.h5"
    try ModelFile.save(network, description: description(network), to: path)
    let manifest = folder + "/MANIFEST"
    try "\(String(repeating: "0", count: 64))  m.h5\n".write(toFile: manifest, atomically: true, encoding: .utf8)
    #expect { try ModelFile.load(path, manifest: manifest) } throws: {
        String(describing: $0).contains("does not match")
    }
    try "\(try ModelFile.sha256(path))  other.h5\n".write(toFile: manifest, atomically: true, encoding: .utf8)
    #expect { try ModelFile.load(path, manifest: manifest) } throws: { String(describing: $0).contains("not listed") }
}

@Test func skipConnectionsAndUpsamplingRoundTripThroughAModelFile() throws {
    let layers = [
        LayerSpecification(kind: "conv2d", inputChannels: 1, outputChannels: 4, kernel: 3, padding: 1),
        LayerSpecification(
            kind: "skip-concatenate",
            branch: [
                LayerSpecification(kind: "maxpool2d", kernel: 2),
                LayerSpecification(kind: "conv2d", inputChannels: 4, outputChannels: 4, kernel: 3, padding: 1),
                LayerSpecification(kind: "batchnorm2d", outputChannels: 4), LayerSpecification(kind: "relu"),
                LayerSpecification(kind: "upsample-bilinear", stride: 2),
            ]),
        LayerSpecification(
            kind: "skip-add",
            branch: [LayerSpecification(kind: "conv2d", inputChannels: 8, outputChannels: 8, kernel: 1)]),
        LayerSpecification(kind: "conv2d", inputChannels: 8, outputChannels: 2, kernel: 1),
        LayerSpecification(kind: "globalavgpool"),
    ]
    let network = try Architecture.build(layers, seed: 2)
    let input = Tensor(shape: [1, 1, 8, 8], storage: (0..<64).map { Float($0) / 64 })
    _ = network.forward(input, training: true)
    let folder = try temporaryDirectory()
    try ModelFile.save(network, description: description(network), to: folder + "/u.h5")
    let (loaded, loadedDescription) = try ModelFile.load(folder + "/u.h5", manifest: nil)
    #expect(loadedDescription.layers == network.specification)
    #expect(loaded.forward(input, training: false) == network.forward(input, training: false))
}

/// A model file from elsewhere asking for negative or 10⁹ channels used to trap or abort with
/// "failed to allocate"; NaN weights made every answer "probability nan". Each is refused
/// naming the file and the problem, before anything is allocated or run.
@Test func hostileModelDescriptionsAndWeightsAreRefused() throws {
    let folder = try temporaryDirectory()
    let network = try smallNetwork(seed: 5)
    let cases: [(String, (inout ModelDescription) -> Void, String)] = [
        ("negative", { $0.layers[0].outputChannels = -3 }, "outputChannels -3"),
        ("billion", { $0.layers[0].outputChannels = 1_000_000_000 }, "outputChannels 1000000000"),
        ("kernel", { $0.layers[0].kernel = 100_000 }, "kernel 100000"),
        ("input", { $0.input.width = 1 << 20 }, "input 1048576"),
        ("temperature", { $0.temperature = -1 }, "temperature -1"),
    ]
    for (name, change, says) in cases {
        var hostile = description(network)
        change(&hostile)
        let path = folder + "/\(name).h5"
        try ModelFile.save(network, description: hostile, to: path)
        #expect {
            _ = try ModelFile.load(path, manifest: nil)
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains(says)
        }
    }
    let poisoned = try smallNetwork(seed: 6)
    let weight = poisoned.layers[0].parameters[0]
    var storage = weight.value.storage
    storage[0] = .nan
    weight.value = Tensor(shape: weight.value.shape, storage: storage)
    let path = folder + "/nan.h5"
    try ModelFile.save(poisoned, description: description(poisoned), to: path)
    #expect {
        _ = try ModelFile.load(path, manifest: nil)
    } throws: { error in
        "\(error)".contains(path) && "\(error)".contains("NaN or infinite weights")
    }
}
