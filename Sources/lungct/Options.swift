import AppSupport
import ArgumentParser
import BatchScoring
import DICOMSeries
import Foundation
import ModelRuntime
import Training
import VolumeCore

/// `--model` and `--no-model`, shared by `analyze` and `batch`.
struct ModelOptions: ParsableArguments {
    @Option(
        help:
            "A model file (.h5) in place of the shipped model of its kind, CT lesion network or radiograph (the other kind keeps the shipped one), checked against the MANIFEST beside it when there is one."
    )
    var model: String?

    @Flag(name: .customLong("no-model"), help: "Run no model: segmentation and lung panel only.")
    var noModel = false

    func validate() throws {
        guard model == nil || !noModel else { throw ValidationError("--model and --no-model exclude each other") }
    }

    /// The models the command runs.
    func load() throws(LungCTError) -> AnalysisModels {
        try AnalysisModels.forCommandLine(model: model, none: noModel)
    }
}

/// `--json`, for every command whose result a program may read.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    /// Prints `value` as JSON when --json was given, else the text `render` makes of it.
    func print<Value: Encodable>(_ value: Value, text render: (Value) -> String) throws {
        if json {
            Swift.print(String(decoding: try JSON.encode(value), as: UTF8.self))
        } else {
            Swift.print(render(value))
        }
    }
}

/// `--series`, shared by `analyze` and `convert`.
struct SeriesOption: ParsableArguments {
    @Option(help: "Series Instance UID (full or as `lungct info` shortens it) instead of the chosen one.")
    var series: String?
}

extension HUWindow: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public static var defaultCompletionKind: CompletionKind { .list(["lung", "mediastinum"]) }
}

extension OutputTransferSyntax: ExpressibleByArgument {}

extension Shard: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension TrainingTask: ExpressibleByArgument {}

extension EarlyStoppingMonitor: ExpressibleByArgument {}

extension Augmentation.Strength: ExpressibleByArgument {
    public init?(argument: String) {
        guard let strength = Self.named(argument) else { return nil }
        self = strength
    }
    public var defaultValueDescription: String { name }
    public static var allValueStrings: [String] { ["standard", "strong", "window"] }
}
