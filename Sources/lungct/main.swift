import ArgumentParser
import DICOMSeries
import Dispatch
import Foundation
import LungCTKit
import LungSegmentation
import NeuralEngine
import Phantom

@main
struct LungCT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lungct",
        abstract:
            "Volumetric CT lung analysis: lung masks, a lung panel and standard outputs from CT series and radiographs.",
        discussion: """
            Exit codes: 0 done, 1 usage error, 2 nothing to analyse, 3 an input could not be loaded, \
            4 model missing or hash mismatch, 5 an output could not be written; batch also 6 some \
            cases failed, 7 shards unfinished (--merge), 130 interrupted.
            """,
        version: LungCTVersion.string,
        subcommands: [
            Analyze.self, BatchCommand.self, Info.self, Convert.self, PhantomCommand.self, Train.self, Evaluate.self,
            ModelCommand.self,
        ])

    /// ArgumentParser exits with 64 (EX_USAGE) on a usage error; lungct's documented code is 1.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}

/// --model and --no-model, shared by `analyze` and `batch`.
struct ModelOptions: ParsableArguments {
    @Option(
        help:
            "A model file (.h5) in place of the shipped model of its kind, CT or radiograph (the other kind keeps the shipped one), checked against the MANIFEST beside it when there is one."
    )
    var model: String?

    @Flag(name: .customLong("no-model"), help: "Run no model: segmentation and lung panel only.")
    var noModel = false

    func validate() throws {
        guard model == nil || !noModel else { throw ValidationError("--model and --no-model exclude each other") }
    }

    /// The models the command runs (exit code 4 for a model that cannot be used).
    func load() throws(LungCTError) -> AnalysisModels {
        try AnalysisModels.forCommandLine(model: model, none: noModel)
    }
}

/// Runs a command body, turning lungct's errors into a message on stderr and an exit code.
func run(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as LungCTError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(error.exitCode)
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment the lungs of the chosen series, measure them and write every output.",
        discussion: """
            Writes into OUT: lung_mask.nii.gz (0 background, 1 right lung, 2 left lung, on the input \
            grid), probability.nii.gz (the COVID-19 model's per-voxel probability, 0 outside the \
            lungs), study.h5 (HU volume, mask, map, geometry, lung panel, model answer, provenance), \
            report.json (series chosen and rejected, geometry, warnings, lung panel, study \
            probability and top slices, timings) and overview.png. The models come from Weights/ \
            (checked against Weights/MANIFEST); --model replaces one, --no-model runs none. \
            Research use only, not for clinical use. Patient name, ID and birth date appear only \
            with --keep-phi. Example:

              lungct analyze ../shared/data/ct/popi-00 -o out/popi
              lungct analyze chest.png -o out/cxr --json
            """)

    @Argument(help: "A folder of DICOM files, a DICOM file, a .nii/.nii.gz, or a PNG/JPEG radiograph.")
    var input: String

    @Option(name: .shortAndLong, help: "Output folder (created if missing).")
    var output: String

    @Option(help: "Series Instance UID (full or as `lungct info` shortens it) instead of the chosen one.")
    var series: String?

    @Option(help: "Window for the overview: lung, mediastinum, or L,W in HU (e.g. -600,1500).")
    var window = "lung"

    @Flag(name: .customLong("keep-phi"), help: "Write patient name, ID and birth date into report.json.")
    var keepPHI = false

    @OptionGroup var models: ModelOptions

    @Flag(help: "Print report.json on stdout.")
    var json = false

    func validate() throws {
        guard HUWindow(parsing: window) != nil else {
            throw ValidationError("--window must be lung, mediastinum or L,W with W > 0 (e.g. -600,1500)")
        }
    }

    func run() throws {
        try lungct.run {
            var options = AnalysisOptions(input: input, output: output)
            options.series = series
            options.keepPHI = keepPHI
            options.window = HUWindow(parsing: window)!
            options.models = try models.load()
            let report = try Analyzer.analyze(options)
            if json {
                try printJSON(report)
            } else {
                print(AnalysisFormatter.text(report))
            }
        }
    }
}

struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Score every study in an archive (folders and zip files), resumably, with a summary.csv.",
        discussion: """
            ARCHIVE is a folder tree (or a zip file) of DICOM studies, NIfTI volumes and radiographs in \
            any nesting, zip files included. Every DICOM series (grouped by Study and Series Instance \
            UID across folders), NIfTI file and picture is one case, analysed as `lungct analyze` does \
            and written to OUT/<case id>/ (16 hex digits, a hash of the series' UIDs or of the path: \
            no patient identifiers). OUT/summary.csv gets one row per case as it finishes: case_id, \
            source, kind, series, status (ok, skipped, failed), reason, lung volumes, study \
            probability, model SHA-256, seconds. A damaged study is a failed row and the run goes on.

            Interrupted at any moment (Ctrl-C, kill -9, power loss), the same command finishes what \
            is missing: nothing finished is redone or duplicated. Ctrl-C (or SIGTERM) once: the \
            cases in progress finish, no new one starts; twice: stop at once.

            --shard K/N takes a deterministic share (0 <= K < N) into one shared OUT, writing \
            OUT/summary.shard-K-of-N.csv; `lungct batch --merge OUT` then writes OUT/summary.csv.

            Exit codes: 0 every case ok (or skipped), 1 usage error, 2 nothing to analyse in the \
            archive, 3 the archive cannot be read, 4 model missing or hash mismatch, 5 an output could \
            not be written (disk full, no permission), 6 some cases failed (see summary.csv), 7 (--merge) \
            some shards have not finished, 130 interrupted (rerun to finish).

            Example:

              lungct batch /archive/pacs-export -o results/ --jobs 2
              lungct batch /archive -o /shared/results --shard $SLURM_ARRAY_TASK_ID/8
              lungct batch --merge /shared/results
            """)

    @Argument(help: "A folder of studies (searched recursively, zip files unpacked) or a zip file.")
    var archive: String?

    @Option(name: .shortAndLong, help: "Output folder (created if missing; shared by the shards).")
    var output: String?

    @Option(help: "Cases analysed at once (one more is decoded meanwhile).")
    var jobs = 1

    @Option(help: "K/N: take share K (0-based) of N, e.g. $SLURM_ARRAY_TASK_ID/8.")
    var shard: String?

    @Option(help: "Write OUT/summary.csv from every finished case (after a sharded run) and report unfinished shards.")
    var merge: String?

    @Flag(name: .customLong("retry-failed"), help: "Analyse the cases that failed in an earlier run again.")
    var retryFailed = false

    @OptionGroup var models: ModelOptions

    @Option(
        name: .customLong("progress-interval"), help: "Seconds between progress lines when stderr is not a terminal.")
    var progressInterval = 60.0

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    func validate() throws {
        if merge != nil {
            guard archive == nil, output == nil, shard == nil else {
                throw ValidationError("--merge OUT takes no ARCHIVE, -o or --shard")
            }
            return
        }
        guard archive != nil else { throw ValidationError("missing ARCHIVE (or --merge OUT)") }
        guard output != nil else { throw ValidationError("missing -o OUT") }
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be between 1 and 64") }
        if let shard, Shard(parsing: shard) == nil {
            throw ValidationError("--shard must be K/N with 0 <= K < N, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/N)")
        }
        guard progressInterval > 0 else { throw ValidationError("--progress-interval must be positive") }
    }

    func run() throws {
        try lungct.run {
            if let merge {
                try runMerge(merge)
            } else {
                try runBatch()
            }
        }
    }

    func runBatch() throws {
        var options = BatchOptions(archive: archive!, output: output!)
        options.jobs = jobs
        options.shard = shard.flatMap(Shard.init(parsing:))
        options.retryFailed = retryFailed
        options.progressInterval = progressInterval
        options.models = try models.load()
        let control = BatchControl()
        let signals = Self.stopOnSignals(control)
        let result = try Batch.run(options, control: control) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
        withExtendedLifetime(signals) {}
        if json {
            try printJSON(result)
        } else {
            print(Self.text(result))
        }
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }

    func runMerge(_ folder: String) throws {
        let result = try Batch.merge(folder)
        if json {
            try printJSON(result)
        } else {
            print(
                "wrote \(result.summary): \(result.cases) case(s), \(result.ok) ok, \(result.skipped) skipped, \(result.failed) failed"
            )
            for state in result.shards {
                print(
                    "  shard \(state.shard): \(state.cases) case(s), \(state.unfinished) unfinished, at \(state.finishedAt)"
                )
            }
            if !result.unfinishedShards.isEmpty {
                print(
                    "unfinished shards: \(result.unfinishedShards.joined(separator: ", ")) (rerun them, then --merge again)"
                )
            }
        }
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }

    /// SIGINT and SIGTERM (Slurm's at the time limit): the first stops new cases, the second
    /// ends the process at once (safe: finished cases are on disk, a rerun resumes).
    static func stopOnSignals(_ control: BatchControl) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if control.requestStop() {
                    FileHandle.standardError.write(
                        Data(
                            "\nbatch: stopping after the cases in progress (again to stop now; a rerun finishes the rest)\n"
                                .utf8))
                } else {
                    _exit(ExitStatus.interrupted)
                }
            }
            source.resume()
            return source
        }
    }

    static func text(_ r: BatchResult) -> String {
        var lines = [
            "\(r.archive): \(r.casesInArchive) case(s) in \(r.filesScanned) file(s)"
                + (r.shard.map { ", \(r.cases) in shard \($0)" } ?? "")
                + ": \(r.ok) ok, \(r.skipped) skipped, \(r.failed) failed"
                + (r.unfinished > 0 ? ", \(r.unfinished) unfinished" : "")
        ]
        var run = "  this run: \(r.analysedThisRun) case(s) in " + String(format: "%.0f s", r.seconds)
        if let rate = r.studiesPerHour { run += String(format: " (%.0f studies/hour)", rate) }
        if r.alreadyDone > 0 { run += ", \(r.alreadyDone) already done" }
        lines.append(run + String(format: ", peak memory %.0f MB", r.peakMemoryMB))
        if !r.setAsideFiles.isEmpty {
            lines.append("  \(r.setAsideFiles.count) file(s) set aside (not images; --json lists them)")
        }
        for row in r.failures.prefix(10) { lines.append("  failed \(row.caseID) \(row.source): \(row.reason)") }
        if r.failures.count > 10 { lines.append("  ... \(r.failures.count - 10) more failed case(s) in the summary") }
        lines.append("  summary: \(r.summary)")
        if r.interrupted {
            lines.append("interrupted: rerun the same command to finish the \(r.unfinished) case(s) left")
        }
        return lines.joined(separator: "\n")
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every series in a DICOM folder, NIfTI file or radiograph, and which one would be analysed.",
        discussion: """
            Reads headers only (add --stats to load the chosen image). Shows each series with its \
            modality, description, slice count, size, spacing and transfer syntax; the one that would \
            be chosen; every rejection with its reason; geometry corrections and warnings; quality \
            findings for radiographs. Example:

              lungct info ../shared/data/ct/popi-00
              lungct info study/ --json > study-info.json
            """)

    @Argument(help: "A folder of DICOM files (searched recursively), a DICOM file, a .nii/.nii.gz, or a PNG/JPEG.")
    var input: String

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    @Flag(help: "Also load the chosen image and report its value range and load time.")
    var stats = false

    func run() throws {
        try lungct.run {
            var inspection = try Inspection.inspect(input)
            if stats {
                let start = Date()
                let image = try inspection.load()
                inspection.report.statistics = VolumeStatistics(image, loadSeconds: Date().timeIntervalSince(start))
            }
            if json {
                try printJSON(inspection.report)
            } else {
                print(InfoFormatter.text(inspection.report))
            }
            if inspection.report.chosen == nil {
                throw LungCTError.nothingToAnalyse(
                    input: input, details: "No series can be analysed (see the list above).")
            }
        }
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the chosen series as a NIfTI volume in Hounsfield units.",
        discussion: """
            Like dcm2niix, but the voxels are HU (int16 when exact, float32 otherwise) and the series \
            goes through lungct's checks (ordering by position, gaps, tilt). The affine maps DICOM's \
            LPS to NIfTI's RAS, so the file overlays the series in 3D Slicer or ITK-SNAP. Example:

              lungct convert ../shared/data/ct/popi-00 popi.nii.gz
              lungct convert study/ ct.nii.gz --series 1.2.840.113619.2.55.3...
            """)

    @Argument(help: "A folder of DICOM files, a DICOM file, a NIfTI file, or a PNG/JPEG.")
    var input: String

    @Argument(help: "The NIfTI file to write (.nii or .nii.gz).")
    var output: String

    @Option(help: "Series Instance UID (full or as `lungct info` shortens it) to convert instead of the chosen one.")
    var series: String?

    @Flag(help: "Print what was written as JSON on stdout.")
    var json = false

    func validate() throws {
        guard output.hasSuffix(".nii") || output.hasSuffix(".nii.gz") else {
            throw ValidationError("the output must end in .nii or .nii.gz")
        }
    }

    func run() throws {
        try lungct.run {
            let result = try Converter.convert(input: input, output: output, series: series)
            if json {
                try printJSON(result)
            } else {
                print(
                    "wrote \(result.output): \(result.size.map(String.init).joined(separator: "×")) \(result.type) HU, "
                        + "spacing \(result.spacingMM.map { String($0) }.joined(separator: " × ")) mm, \(result.orientation), "
                        + String(format: "%.2f s", result.seconds))
            }
        }
    }
}

struct PhantomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Write a synthetic chest CT as a DICOM series, with its true lung and lesion masks.",
        discussion: """
            The phantom has a body with a fat layer, a table, spine and ribs, heart and aorta, trachea \
            and main bronchi, two lungs at about -850 HU with vessels, a domed diaphragm, ground-glass \
            and consolidation lesions touching the pleura, and noise. OUT gets dicom/ (the series), \
            lung_mask_truth.nii.gz (1 right lung, 2 left lung), lesion_mask_truth.nii.gz (1 ground \
            glass, 2 consolidation) and phantom.json. Example:

              lungct phantom /tmp/chest --size 512 --slices 300 --spacing 1.0
              lungct phantom /tmp/chest-rle --syntax rle --shuffle --feet-first
            """)

    @Argument(help: "Folder to write to (created if missing).")
    var output: String

    @Option(help: "Rows and columns per slice.")
    var size = 256

    @Option(help: "Number of slices.")
    var slices = 120

    @Option(help: "Slice spacing in mm.")
    var spacing = 2.5

    @Option(name: .customLong("pixel-spacing"), help: "In-plane pixel spacing in mm (default: a 380 mm field of view).")
    var pixelSpacing: Double?

    @Option(help: "Number of lesions touching the pleura (alternating ground glass and consolidation).")
    var lesions = 2

    @Option(help: "Random seed: the same seed gives the same phantom.")
    var seed: UInt64 = 1

    @Option(help: "Noise standard deviation in HU.")
    var noise = 12.0

    @Option(help: "Transfer syntax: \(OutputTransferSyntax.allCases.map(\.rawValue).joined(separator: ", ")).")
    var syntax = "explicit"

    @Flag(help: "Give the files names in random order relative to their positions.")
    var shuffle = false

    @Flag(
        name: .customLong("feet-first"), help: "Write a feet-first series (FFS orientation, slices from head to feet).")
    var feetFirst = false

    func validate() throws {
        guard (8...2048).contains(size) else { throw ValidationError("--size must be between 8 and 2048") }
        guard (1...4096).contains(slices) else { throw ValidationError("--slices must be between 1 and 4096") }
        guard spacing > 0, (pixelSpacing ?? 1) > 0 else { throw ValidationError("spacings must be positive") }
        guard lesions >= 0 else { throw ValidationError("--lesions cannot be negative") }
        guard OutputTransferSyntax(rawValue: syntax) != nil else {
            throw ValidationError(
                "--syntax must be one of \(OutputTransferSyntax.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        try lungct.run {
            var options = PhantomOptions()
            options.size = size
            options.slices = slices
            options.sliceSpacing = spacing
            options.pixelSpacing = pixelSpacing
            options.lesions = lesions
            options.seed = seed
            options.noise = noise
            var layout = PhantomLayout()
            layout.syntax = OutputTransferSyntax(rawValue: syntax)!
            layout.shuffleFiles = shuffle
            layout.feetFirst = feetFirst
            let phantom = ChestPhantom.make(options)
            do {
                let files = try PhantomWriter.write(phantom, options: options, layout: layout, to: output)
                print("wrote \(output): \(files.description)")
            } catch {
                throw LungCTError.outputFailed("\(output): \(error)")
            }
        }
    }
}

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
            For benchmarks and tests: the architecture lungct trains, with random weights. Example:

              lungct model init /tmp/ct-untrained.h5 --classes covid,noncovid --size 128
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

    func validate() throws {
        guard classes.split(separator: ",").count >= 2 else {
            throw ValidationError("--classes needs at least two names")
        }
        guard size >= 8, channels >= 1, width >= 1 else {
            throw ValidationError("--size ≥ 8, --channels ≥ 1, --width ≥ 1")
        }
    }

    func run() throws {
        try lungct.run {
            try ModelTools.initialize(
                to: output, classes: classes.split(separator: ",").map(String.init), size: size, channels: channels,
                width: width, seed: seed)
            print("wrote \(output)")
        }
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

    @Option(help: "A MANIFEST (sha256sum format) the model must be listed in.")
    var manifest: String?

    @Flag(help: "Print the timing as JSON.")
    var json = false

    func run() throws {
        try lungct.run {
            let result = try ModelTools.run(
                model: model, manifest: manifest, input: input, batch: batch, output: output, repeats: `repeat`)
            if json {
                try printJSON(result)
            } else {
                print(
                    String(
                        format: "batch %d: %.4f s median over %d run(s)", result.batch, result.medianSeconds,
                        result.repeats))
            }
        }
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a classifier on a folder of images with grouped k-fold cross-validation.",
        discussion: """
            DATA holds one subfolder per class (PNG, JPEG or DICOM images). Images named NAME%k \
            (and other parts of one figure from one article) stay in one fold. Each fold trains on \
            k-2 folds, stops early on one and is tested on the last; the final model is trained on \
            all images for the median best epoch count and calibrated (temperature) on the held-out \
            predictions. Writes OUT (the model, with its card), its line in MANIFEST beside it, \
            OUT's NAME.report.json (per-fold metrics, loss histories) and NAME.curves.png. Example:

              lungct train --task ct --data ../shared/data/ct-slices --out Weights/ct-slices.h5 --folds 5
            """)

    @Option(help: "ct or cxr.")
    var task: String

    @Option(help: "Folder with one subfolder per class.")
    var data: String

    @Option(help: "The model file to write (.h5).")
    var out: String

    @Option(help: "Cross-validation folds.")
    var folds = 5

    @Option(help: "Maximum epochs per fold.")
    var epochs = 30

    @Option(help: "Random seed (initialisation, folds, shuffling, augmentation).")
    var seed: UInt64 = 1

    @Option(help: "Input size in pixels (square).")
    var size = 128

    @Option(help: "Channels of the first block.")
    var width = 16

    @Option(help: "Conv blocks (each but the last followed by 2×2 pooling).")
    var blocks = 4

    @Option(help: "Dropout rate before the per-location classifier (0 = none).")
    var dropout: Float = 0

    @Option(name: .customLong("weight-decay"), help: "AdamW decoupled weight decay.")
    var weightDecay: Float = 1e-4

    @Option(help: "Epochs without a better validation loss before a fold stops.")
    var patience = 8

    @Option(name: .customLong("batch-size"), help: "Images per batch.")
    var batchSize = 16

    @Option(name: .customLong("learning-rate"), help: "AdamW base learning rate (cosine schedule).")
    var learningRate: Float = 2e-3

    @Flag(name: .customLong("no-augment"), help: "Train without augmentation.")
    var noAugment = false

    @Option(help: "Augmentation ranges: standard, strong, or window (standard plus random re-windowing).")
    var augmentation = "standard"

    @Option(help: "What early stopping follows on the validation fold: loss or auc.")
    var monitor = "loss"

    @Option(name: .customLong("card-data"), help: "Model card: what the training data is and where it comes from.")
    var cardData: String?

    @Option(name: .customLong("card-terms"), help: "Model card: the training data's terms of use.")
    var cardTerms: String?

    @Option(name: .customLong("card-bias"), help: "Model card: a known bias or limit (repeatable).")
    var cardBias: [String] = []

    @Flag(help: "Print the training report as JSON.")
    var json = false

    func validate() throws {
        guard task == "ct" || task == "cxr" else { throw ValidationError("--task must be ct or cxr") }
        guard folds >= 3 else { throw ValidationError("--folds must be at least 3 (test, validation, training)") }
        guard epochs >= 1, size >= 16, width >= 1, batchSize >= 1, blocks >= 1, patience >= 1 else {
            throw ValidationError(
                "--epochs ≥ 1, --size ≥ 16, --width ≥ 1, --batch-size ≥ 1, --blocks ≥ 1, --patience ≥ 1")
        }
        guard size >> (blocks - 1) >= 2 else {
            throw ValidationError("--size \(size) is too small for \(blocks) blocks")
        }
        guard monitor == "loss" || monitor == "auc" else { throw ValidationError("--monitor must be loss or auc") }
        guard Augmentation.Strength.named(augmentation) != nil else {
            throw ValidationError("--augmentation must be standard, strong or window")
        }
        guard (0..<1).contains(dropout), weightDecay >= 0 else {
            throw ValidationError("--dropout in 0..<1, --weight-decay ≥ 0")
        }
    }

    func run() throws {
        try lungct.run {
            var job = TrainJob(task: task, data: data, output: out)
            job.folds = folds
            job.size = size
            job.width = width
            job.blocks = blocks
            job.dropout = dropout
            job.options.weightDecay = weightDecay
            job.options.patience = patience
            job.augment = !noAugment
            job.augmentation = Augmentation.Strength.named(augmentation)!
            job.monitor = monitor
            job.dataDescription = cardData
            job.dataTerms = cardTerms
            job.knownBiases = cardBias
            job.options.epochs = epochs
            job.options.seed = seed
            job.options.batchSize = batchSize
            job.options.learningRate = learningRate
            let report = try ModelTraining.train(job) { line in
                // Redrawn lines ("\r...") stay on one terminal line; others end theirs.
                FileHandle.standardError.write(Data((line.hasPrefix("\r") ? line : line + "\n").utf8))
            }
            if json {
                try printJSON(report)
            } else {
                print("wrote \(report.model) (sha256 \(report.sha256.prefix(16))…)")
                for (name, value) in report.summary.sorted(by: { $0.key < $1.key }) { print("  \(name): \(value)") }
                print(
                    String(
                        format: "  %.1f training images/s, %.0f s in all", report.trainingImagesPerSecond,
                        report.seconds))
            }
        }
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a folder of labelled images with a model: confusion matrix, AUC, calibration.",
        discussion: """
            DATA holds one subfolder per class, named as the model's classes. --predictions writes \
            path,label,prob_<class>... per image (README, "Predictions CSV"); --maps writes each image \
            with the class-activation map of its predicted class. The model must be listed with its \
            SHA-256 in the MANIFEST beside it (or --manifest). Example:

              lungct evaluate --model Weights/ct-slices.h5 --data held-out/ --predictions p.csv --json
            """)

    @Option(help: "The model file.")
    var model: String

    @Option(help: "Folder with one subfolder per class.")
    var data: String

    @Option(help: "MANIFEST to check the model against (default: MANIFEST beside the model).")
    var manifest: String?

    @Option(help: "Write per-image predictions as CSV here.")
    var predictions: String?

    @Option(help: "Write class-activation overlays (PNG) into this folder.")
    var maps: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        try lungct.run {
            let manifestPath = manifest ?? URL(fileURLWithPath: model).deletingLastPathComponent().path + "/MANIFEST"
            let report = try ModelEvaluationRun.evaluate(
                model: model, manifest: manifestPath, data: data, predictions: predictions, maps: maps)
            if json {
                try printJSON(report)
            } else {
                print("\(report.images) images, accuracy \(report.accuracy.map { String(format: "%.3f", $0) } ?? "-")")
                print("confusion (rows true, columns predicted): \(report.confusion.classes)")
                for (name, row) in zip(report.confusion.classes, report.confusion.counts) { print("  \(name): \(row)") }
                for name in report.confusion.classes {
                    let f = { (v: Double??) in (v ?? nil).map { String(format: "%.3f", $0) } ?? "-" }
                    print(
                        "  \(name): AUC \(f(report.auc[name])), sensitivity \(f(report.sensitivity[name])), specificity \(f(report.specificity[name]))"
                    )
                }
                print(
                    "  expected calibration error: \(report.expectedCalibrationError.map { String(format: "%.3f", $0) } ?? "-")"
                )
            }
        }
    }
}
