import Crypto
import Foundation
import HDF5Store
import NeuralEngine

/// What a model expects as input.
public struct ModelInput: Codable, Sendable, Hashable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// How pixels become 0...1, e.g. "lung window L -600 W 1500" or "percentile-0.5-99.5".
    public var normalization: String

    public init(width: Int, height: Int, channels: Int, normalization: String) {
        self.width = width
        self.height = height
        self.channels = channels
        self.normalization = normalization
    }
}

/// The model card: what the model is for, what it was trained on, how well it did.
public struct ModelCard: Codable, Sendable {
    public var name: String
    public var task: String
    public var intendedUse: String
    public var trainingData: String
    public var dataTerms: String
    /// Metric name → "mean ± sd (split)".
    public var metrics: [String: String]
    public var knownBiases: [String]
    public var createdBy: String

    public init(
        name: String, task: String, intendedUse: String = "research only; not for clinical use", trainingData: String,
        dataTerms: String, metrics: [String: String] = [:], knownBiases: [String] = [], createdBy: String
    ) {
        self.name = name
        self.task = task
        self.intendedUse = intendedUse
        self.trainingData = trainingData
        self.dataTerms = dataTerms
        self.metrics = metrics
        self.knownBiases = knownBiases
        self.createdBy = createdBy
    }
}

/// Everything about a model except its numbers: stored as JSON in the file's `architecture`
/// attribute.
public struct ModelDescription: Codable, Sendable {
    public var format = "lungct-model-1"
    public var layers: [LayerSpecification]
    public var input: ModelInput
    public var classes: [String]
    public var card: ModelCard
    /// Temperature that calibrates the logits (divide, then softmax), fitted on the
    /// cross-validation folds' held-out predictions; nil when not calibrated.
    public var temperature: Double?
    /// Volumetric models (the lesion network): the grid their input planes are resampled to;
    /// nil for models of 2D images.
    public var grid: LesionGridSpec?

    public init(layers: [LayerSpecification], input: ModelInput, classes: [String], card: ModelCard) {
        self.layers = layers
        self.input = input
        self.classes = classes
        self.card = card
    }
}

/// A model file lungct will not use, with the reason.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// One HDF5 file per model: the description as JSON (`/` attribute `architecture`), one
/// float32 dataset per parameter and buffer under `/parameters/<layer index>_<kind>/<name>`.
public enum ModelFile {
    public static func save(_ network: Sequential, description: ModelDescription, to path: String) throws(ModelError) {
        do throws(HDF5Error) {
            let file = try HDF5File(creating: path)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            guard let json = try? encoder.encode(description) else {
                throw HDF5Error(operation: "encode", file: path, message: "the model description is not encodable")
            }
            try file.setAttribute("architecture", .string(String(decoding: json, as: UTF8.self)), at: "/")
            for (index, layer) in network.layers.enumerated() {
                for (position, parameter) in (layer.parameters + layer.buffers).enumerated() {
                    try file.writeArray(
                        datasetPath(index, layer, position, parameter), values: parameter.value.storage,
                        shape: parameter.value.shape)
                }
            }
            try file.close()
        } catch {
            throw ModelError(path: path, message: "cannot write the model: \(error)")
        }
    }

    /// A parameter's dataset. Composite layers (skip connections) hold several parameters of
    /// one name, so theirs are numbered by position ("3_weight").
    static func datasetPath(_ index: Int, _ layer: Layer, _ position: Int, _ parameter: Parameter) -> String {
        let names = (layer.parameters + layer.buffers).map(\.name)
        let name = Set(names).count == names.count ? parameter.name : "\(position)_\(parameter.name)"
        return "/parameters/\(String(format: "%03d", index))_\(layer.specification.kind)/\(name)"
    }

    /// A model as loaded: the network, its description and the SHA-256 of the very bytes it
    /// was built from.
    public struct Loaded {
        public var network: Sequential
        public var description: ModelDescription
        public var sha256: String
    }

    /// Loads a model after checking its SHA-256 against `manifest` (lines "<sha256>  <file name>",
    /// as sha256sum writes them); a missing entry or a mismatch is refused.
    public static func load(_ path: String, manifest: String?) throws(ModelError) -> (Sequential, ModelDescription) {
        let loaded = try open(path, manifest: manifest)
        return (loaded.network, loaded.description)
    }

    /// As `load`, reading the file once: the bytes that are hashed and checked are the bytes
    /// HDF5 parses, so a file replaced in between cannot slip through unchecked.
    public static func open(_ path: String, manifest: String?) throws(ModelError) -> Loaded {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(path: path, message: "model file missing or unreadable")
        }
        let bytes = [UInt8](data)
        let sha = hex(SHA256.hash(data: bytes))
        if let manifest { try verify(path, sha256: sha, manifest: manifest) }
        do throws(HDF5Error) {
            let file = try HDF5File(image: bytes, path: path)
            guard case .string(let json) = try file.attribute("architecture", at: "/"),
                let description = try? JSONDecoder().decode(ModelDescription.self, from: Data(json.utf8))
            else {
                throw HDF5Error(
                    operation: "read", file: path, message: "no readable model description (architecture attribute)")
            }
            if let problem = ModelLimits.problem(in: description) {
                throw HDF5Error(operation: "check", file: path, message: "the model description asks for \(problem)")
            }
            let network: Sequential
            do {
                network = try Architecture.build(description.layers)
            } catch {
                throw HDF5Error(operation: "build", file: path, message: "\(error)")
            }
            for (index, layer) in network.layers.enumerated() {
                for (position, parameter) in (layer.parameters + layer.buffers).enumerated() {
                    let dataset = datasetPath(index, layer, position, parameter)
                    // The shape before the values: a damaged file can claim any extent, and
                    // reading allocates all of it (a trap when it cannot).
                    let shape = try file.datasetInfo(dataset).shape
                    guard shape == parameter.value.shape else {
                        throw HDF5Error(
                            operation: "read", file: path, object: dataset,
                            message: "shape \(shape), the architecture needs \(parameter.value.shape)")
                    }
                    let array = try file.readDataset(dataset, as: Float.self)
                    guard array.values.allSatisfy(\.isFinite) else {
                        throw HDF5Error(
                            operation: "read", file: path, object: dataset,
                            message: "it holds NaN or infinite weights: the model would answer nan")
                    }
                    parameter.value = Tensor(shape: array.shape, storage: array.values)
                }
            }
            try file.close()
            return Loaded(network: network, description: description, sha256: sha)
        } catch {
            throw ModelError(path: path, message: "cannot load the model: \(error)")
        }
    }

    static func hex(_ digest: SHA256.Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }

    /// SHA-256 of a file, hex.
    public static func sha256(_ path: String) throws(ModelError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(path: path, message: "model file missing or unreadable")
        }
        return hex(SHA256.hash(data: data))
    }

    /// A MANIFEST's entries, file name → lower-case SHA-256 (lines "<sha256>  <name>", or
    /// "<sha256> *<name>", as sha256sum writes them; the first line for a name counts). Nil when
    /// the file cannot be read.
    public static func manifestEntries(_ manifest: String) -> [String: String]? {
        guard let text = try? String(contentsOfFile: manifest, encoding: .utf8) else { return nil }
        var entries: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else { continue }
            let name = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "*"))
            if entries[name] == nil { entries[name] = String(parts[0]).lowercased() }
        }
        return entries
    }

    /// Refuses `sha256` (of the file at `path`) unless `manifest` lists it for that file name.
    static func verify(_ path: String, sha256 actual: String, manifest: String) throws(ModelError) {
        guard let entries = manifestEntries(manifest) else {
            throw ModelError(path: path, message: "manifest \(manifest) missing or unreadable")
        }
        guard let expected = entries[URL(fileURLWithPath: path).lastPathComponent] else {
            throw ModelError(path: path, message: "not listed in \(manifest): refusing an unknown model")
        }
        guard actual == expected else {
            throw ModelError(
                path: path,
                message: "SHA-256 \(actual) does not match \(expected) in \(manifest): the file was changed or damaged")
        }
    }
}
