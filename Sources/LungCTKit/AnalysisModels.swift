import Foundation
import ModelStore
import NeuralEngine

/// A model loaded, checked and folded for inference, once per process.
public struct LoadedModel: @unchecked Sendable {
    /// The network with batch normalisation folded in; inference does not mutate it.
    public let network: Sequential
    public let description: ModelDescription
    public let path: String
    public let sha256: String
}

/// The models `analyze` and `batch` use: the CT slice model and the radiograph model, each
/// optional (no model means no probability, said in the report).
public struct AnalysisModels: Sendable {
    public var ct: LoadedModel?
    public var radiograph: LoadedModel?

    public init(ct: LoadedModel? = nil, radiograph: LoadedModel? = nil) {
        self.ct = ct
        self.radiograph = radiograph
    }

    public static let none = AnalysisModels()

    /// The shipped file names in `Weights/`.
    public static let ctFileName = "ct-covid.h5"
    public static let radiographFileName = "cxr-3class.h5"

    /// Loads one model file, checking it against the MANIFEST beside it when there is one
    /// (a model without a manifest is accepted only when given explicitly with --model).
    public static func load(_ path: String, requireManifest: Bool) throws(LungCTError) -> LoadedModel {
        let manifest = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("MANIFEST").path
        let hasManifest = FileManager.default.fileExists(atPath: manifest)
        if requireManifest && !hasManifest {
            throw .modelInvalid("\(path): no MANIFEST beside the model to check its SHA-256 against")
        }
        do {
            let (network, description) = try ModelFile.load(path, manifest: hasManifest ? manifest : nil)
            return LoadedModel(
                network: network.foldedForInference(), description: description, path: path,
                sha256: try ModelFile.sha256(path))
        } catch {
            throw .modelInvalid(error.description)
        }
    }

    /// The folder of shipped weights: $LUNGCT_WEIGHTS, else the first `Weights/` holding a
    /// MANIFEST found walking up from the executable (a build in .build/release finds the
    /// repository's), else /usr/local/share/lungct/Weights.
    public static func weightsFolder() -> String? {
        let fm = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment["LUNGCT_WEIGHTS"], !explicit.isEmpty { return explicit }
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("Weights")
            if fm.fileExists(atPath: candidate.appendingPathComponent("MANIFEST").path) { return candidate.path }
            folder.deleteLastPathComponent()
        }
        let installed = "/usr/local/share/lungct/Weights"
        return fm.fileExists(atPath: installed + "/MANIFEST") ? installed : nil
    }

    /// The shipped models that exist in the weights folder (absent files are simply not loaded).
    public static func shipped() throws(LungCTError) -> AnalysisModels {
        guard let folder = weightsFolder() else { return .none }
        var models = AnalysisModels()
        let fm = FileManager.default
        if fm.fileExists(atPath: folder + "/" + ctFileName) {
            models.ct = try load(folder + "/" + ctFileName, requireManifest: true)
        }
        if fm.fileExists(atPath: folder + "/" + radiographFileName) {
            models.radiograph = try load(folder + "/" + radiographFileName, requireManifest: true)
        }
        return models
    }

    /// What --model / --no-model ask for: no model, the given file for either kind of input,
    /// or the shipped models.
    public static func forCommandLine(model: String?, none: Bool) throws(LungCTError) -> AnalysisModels {
        if none { return .none }
        if let model {
            let loaded = try load(model, requireManifest: false)
            return AnalysisModels(ct: loaded, radiograph: loaded)
        }
        return try shipped()
    }
}
