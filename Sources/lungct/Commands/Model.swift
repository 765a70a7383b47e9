import ArgumentParser
import ModelRuntime

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Developer tools for model files: make an untrained one, run one on raw input.",
        subcommands: [ModelInit.self, ModelRun.self])
}

struct ModelInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write an untrained (seeded) fully convolutional model file.",
        discussion: """
            For benchmarks and tests: the architecture lungct trains, with random weights; with \
            --lesion, the CT lesion U-Net on the lesion grid (classes background, ground-glass, \
            consolidation; --width and --seed apply). Example:

              lungct model init /tmp/ct-untrained.h5 --classes covid,noncovid --size 128
              lungct model init /tmp/lesion-untrained.h5 --lesion
            """)

    @Argument(help: "The model file to write (.h5).")
    var output: String

    @Option(help: "Class names, comma-separated.")
    var classes = "negative,positive"

    @Option(help: "Input width and height in pixels.")
    var size = 128

    @Option(help: "Input channels (adjacent slices for a 2.5D CT model).")
    var channels = 1

    @Option(help: "Channels of the first block (later blocks have 2× and 4×).")
    var width = 16

    @Option(help: "Random seed for the initial weights.")
    var seed: UInt64 = 1

    @Flag(help: "An untrained lesion U-Net (what analyze runs on CT volumes) instead of a classifier.")
    var lesion = false

    /// The lesion U-Net's levels below the top: the shipped network's (`lungct train --task lesion`).
    static let lesionDepth = 3

    var classNames: [String] { classes.split(separator: ",").map(String.init) }

    func validate() throws {
        guard classNames.count >= 2 else { throw ValidationError("--classes needs at least two names") }
        guard size >= 8, channels >= 1, width >= 1 else {
            throw ValidationError("--size ≥ 8, --channels ≥ 1, --width ≥ 1")
        }
    }

    func run() throws {
        if lesion {
            try ModelTools.initializeLesion(to: output, width: width, depth: Self.lesionDepth, seed: seed)
        } else {
            try ModelTools.initialize(
                to: output, classes: classNames, size: size, channels: channels, width: width, seed: seed)
        }
        print("wrote \(output)")
    }
}

struct ModelRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a model on raw float32 input and time it (what benchmarks/ compares with ONNX Runtime).",
        discussion: """
            INPUT holds N×C×H×W little-endian float32 values (C, H, W from the model). The logits \
            (N×classes) are written as raw float32 to --output. Example:

              lungct model run m.h5 --input x.f32 --batch 16 --output y.f32 --repeat 10 --json
            """)

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Raw float32 input, N×C×H×W.")
    var input: String

    @Option(help: "N, the number of images in the input.")
    var batch = 1

    @Option(help: "Where to write the logits (raw float32).")
    var output: String?

    @Option(help: "Timed repetitions (the median is reported).")
    var `repeat` = 1

    @Option(help: "Seconds of untimed passes before the timed ones (at least one pass when above 0).")
    var warmupSeconds = 0.0

    @Option(help: "A MANIFEST (sha256sum format) the model must be listed in.")
    var manifest: String?

    @OptionGroup var json: JSONOption

    func validate() throws {
        guard warmupSeconds.isFinite, (0...3600).contains(warmupSeconds) else {
            throw ValidationError("--warmup-seconds must be between 0 and 3600")
        }
    }

    func run() throws {
        let result = try ModelTools.run(
            model: model, manifest: manifest, input: input, batch: batch, output: output, repeats: `repeat`,
            warmupSeconds: warmupSeconds)
        try json.print(result, text: TextRenderer.modelRun)
    }
}
