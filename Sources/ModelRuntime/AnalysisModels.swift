import AppSupport
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

    /// What the model is for, from its description (`ModelKind.init`); nil for a model of no
    /// stated kind (`lungct model init`), which `analyze` may apply to radiographs.
    public var kind: ModelKind? { ModelKind(description) }
}

/// The kind of input a model was trained for.
public enum ModelKind: Sendable {
    /// The per-voxel lesion network of CT volumes in HU (`lungct train --task lesion`): the
    /// model every CT volume goes through.
    case lesion
    /// A classifier of 2D CT slice images (the UCSD figure images, `ct-covid.h5`): `analyze`
    /// applies it to nothing, since a picture cannot say that it is a CT slice.
    case ct
    case radiograph
    /// The radiograph lung-field network (`LungFieldModel`): per-pixel lung or background.
    case lungFields

    /// A model with a lesion grid, or whose card's task names lesions, is a lesion model; a task
    /// naming radiographs ("chest radiograph: ...", as `lungct train` writes it) wins over
    /// "lesion", so that a radiograph class of that name does not make one. Otherwise "CT" in
    /// the task ("... chest CT slice images") makes a slice-image model.
    public init?(_ description: ModelDescription) {
        let task = description.card.task
        let words = task.lowercased()
        if description.grid != nil {
            self = .lesion
        } else if words.contains(LungFieldModel.taskWords) {
            self = .lungFields
        } else if words.contains("radiograph") {
            self = .radiograph
        } else if words.contains("lesion") {
            self = .lesion
        } else if task.contains("CT") {
            self = .ct
        } else {
            return nil
        }
    }
}

/// The models `analyze` and `batch` use: the lesion network for CT volumes and the radiograph
/// model for pictures, each optional (no model means no lesion map or probability, said in the
/// report). The CT slice-image model (`ct-covid.h5`) is not among them: no CT volume goes
/// through it, and pictures are analysed as radiographs.
public struct AnalysisModels: Sendable {
    public var lesion: LoadedModel?
    public var radiograph: LoadedModel?
    /// The radiograph lung-field network: without it radiographs get no lung fields (the report says so).
    public var lungFields: LoadedModel?
    /// The user asked for no model (--no-model), as opposed to none being found.
    public var declined = false

    public init(lesion: LoadedModel? = nil, radiograph: LoadedModel? = nil, lungFields: LoadedModel? = nil) {
        self.lesion = lesion
        self.radiograph = radiograph
        self.lungFields = lungFields
    }

    /// The model CT volumes go through, `lesion`, under the name of its slot in a batch's work
    /// orders (`WorkOrder.Model.Slot.ct`), so that isolated batch workers receive it.
    public var ct: LoadedModel? {
        get { lesion }
        set { lesion = newValue }
    }

    public static let none = AnalysisModels()
    /// No model, because the user asked for none.
    public static let declinedByUser: AnalysisModels = {
        var models = AnalysisModels()
        models.declined = true
        return models
    }()

    /// The shipped file names in `Weights/`.
    public static let lesionFileName = "ct-lesions.h5"
    public static let radiographFileName = "cxr-3class.h5"
    /// The CT slice-image classifier (UCSD figure images): shipped for `lungct evaluate` and 2D
    /// pictures of CT slices; `analyze` does not load it.
    public static let sliceImageFileName = "ct-covid.h5"

    /// Loads one model file, checking it against the MANIFEST beside it when there is one
    /// (a model without a manifest is accepted only when given explicitly with --model), and
    /// checking that `analyze` can apply it: a lesion model by `checkLesionModel`, any other
    /// by `checkApplicable`.
    public static func load(_ path: String, requireManifest: Bool) throws(LungCTError) -> LoadedModel {
        let manifest = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("MANIFEST").path
        let hasManifest = FileManager.default.fileExists(atPath: manifest)
        if requireManifest && !hasManifest {
            throw .modelInvalid("\(path): no MANIFEST beside the model to check its SHA-256 against")
        }
        let loaded: ModelFile.Loaded
        do {
            loaded = try ModelFile.open(path, manifest: hasManifest ? manifest : nil)
        } catch {
            throw .modelInvalid(error.description)
        }
        let network = loaded.network.foldedForInference()
        switch ModelKind(loaded.description) {
        case .lesion?: try checkLesionModel(loaded.description, network: network, path: path)
        case .lungFields?: try LungFieldModel.check(loaded.description, path: path)
        default:
            try checkApplicable(loaded.description, path: path)
        }
        return LoadedModel(network: network, description: loaded.description, path: path, sha256: loaded.sha256)
    }

    /// Refuses a model whose description `analyze` and `evaluate` cannot feed: they prepare one
    /// gray, square image normalised as `ImageFolder` does, and read the per-location logits
    /// in front of a final global average pooling.
    public static func checkApplicable(_ description: ModelDescription, path: String) throws(LungCTError) {
        func refuse(_ problem: String) -> LungCTError {
            .modelInvalid("\(path): \(problem): lungct cannot apply this model (train one with lungct train)")
        }
        let input = description.input
        guard input.channels == 1 else {
            throw refuse("the model takes \(input.channels) input channels, lungct prepares 1")
        }
        guard input.width == input.height, input.width >= 8 else {
            throw refuse(
                "the model's input is \(input.width)×\(input.height); lungct prepares square images of at least 8 pixels"
            )
        }
        guard [ModelInputPreparation.normalization, LungFieldInput.normalization].contains(input.normalization) else {
            throw refuse("the model expects input normalised as \"\(input.normalization)\"")
        }
        let layers = description.layers
        guard layers.count >= 2, layers.last?.kind == "globalavgpool",
            let classifier = layers.dropLast().last(where: { $0.kind == "conv2d" }),
            description.classes.count >= 2, classifier.outputChannels == description.classes.count
        else {
            throw refuse(
                "the model does not end in a convolution to its \(description.classes.count) classes and global average pooling"
            )
        }
    }

    /// The folder of shipped weights: $LUNGCT_WEIGHTS, else the first `Weights/` holding a
    /// MANIFEST found walking up from the executable (a build in .build/release finds the
    /// repository's), else /usr/local/share/lungct/Weights.
    public static func weightsFolder() -> String? {
        let fm = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment["LUNGCT_WEIGHTS"], !explicit.isEmpty { return explicit }
        // /proc/self/exe names the program even when it was started from PATH (argv[0] = "lungct").
        let program =
            (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? "."
        var folder = URL(fileURLWithPath: program).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("Weights")
            if fm.fileExists(atPath: candidate.appendingPathComponent("MANIFEST").path) { return candidate.path }
            folder.deleteLastPathComponent()
        }
        let installed = "/usr/local/share/lungct/Weights"
        return fm.fileExists(atPath: installed + "/MANIFEST") ? installed : nil
    }

    /// The shipped models of the given kinds in the weights folder. A model the MANIFEST lists
    /// but the folder lacks is refused (exit 4), not quietly skipped, except the lung-field
    /// network, whose absence `analyze` reports as a warning; one it does not list is simply not
    /// shipped there.
    public static func shipped(
        _ kinds: Set<ModelKind> = [.lesion, .radiograph, .lungFields], in weights: String? = weightsFolder()
    ) throws(LungCTError) -> AnalysisModels {
        guard let folder = weights else { return .none }
        let listed = ModelFile.manifestEntries(folder + "/MANIFEST") ?? [:]
        func shippedModel(_ name: String, _ kind: ModelKind) throws(LungCTError) -> LoadedModel? {
            let path = folder + "/" + name
            guard kinds.contains(kind) else { return nil }
            if FileManager.default.fileExists(atPath: path) { return try load(path, requireManifest: true) }
            // The lung-field network only adds the lung fields: without it a radiograph is still
            // analysed, and the report says that no lung fields were drawn.
            if listed[name] != nil && kind != .lungFields {
                throw .modelInvalid(
                    "\(path): listed in \(folder)/MANIFEST but missing; restore it (git checkout Weights/), or run with --no-model"
                )
            }
            return nil
        }
        return AnalysisModels(
            lesion: try shippedModel(lesionFileName, .lesion),
            radiograph: try shippedModel(radiographFileName, .radiograph),
            lungFields: try shippedModel(LungFieldModel.fileName, .lungFields))
    }

    /// What --model / --no-model ask for: no model; the given file in place of the shipped
    /// model of its kind (the other kind keeps the shipped one; a model of no stated kind serves
    /// radiographs); or the shipped models. A CT slice-image model is refused: nothing in
    /// `analyze` or `batch` would apply it.
    public static func forCommandLine(model: String?, none: Bool) throws(LungCTError) -> AnalysisModels {
        if none { return .declinedByUser }
        guard let model else { return try shipped() }
        let loaded = try load(model, requireManifest: false)
        switch loaded.kind {
        case .lesion?:
            let others = try shipped([.radiograph, .lungFields])
            return AnalysisModels(lesion: loaded, radiograph: others.radiograph, lungFields: others.lungFields)
        case .radiograph?, nil:
            let others = try shipped([.lesion, .lungFields])
            return AnalysisModels(lesion: others.lesion, radiograph: loaded, lungFields: others.lungFields)
        case .lungFields?:
            let others = try shipped([.lesion, .radiograph])
            return AnalysisModels(lesion: others.lesion, radiograph: others.radiograph, lungFields: loaded)
        case .ct?:
            throw .modelInvalid(
                "\(model): a classifier of 2D CT slice images (\(loaded.description.card.task)); analyze and batch "
                    + "no longer apply it: CT volumes go through the lesion network (\(lesionFileName), or --model "
                    + "with a lesion model) and pictures through the radiograph model; lungct evaluate still takes it")
        }
    }
}
