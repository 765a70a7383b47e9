import ArgumentParser
import Foundation
import ModelRuntime
import Training

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

            lung-fields: DATA holds images/ and masks/ (one mask PNG per image, same file name, lung > 127); \
            --leave-one-out trains one network per image on the others and prints its Dice, per image, \
            overall and per source (the file name up to its first digit: CHNCXR_0001_0 → CHNCXR). \
            --size is the network's input side, --blocks its levels (depth + 1). Example:

              lungct train --task lung-fields --data ../shared/data/cxr-adult/lung-masks --leave-one-out \
                --out Weights/cxr-lung-fields.h5
            """)

    @Option(
        help:
            "ct or cxr (classifiers of 2D images), lesion (the per-voxel CT lesion network) or lung-fields (radiographs)."
    )
    var task: TrainingTask

    @Option(
        help: "Folder with one subfolder per class; lesion: a folder of normal CT studies (sub-folders or NIfTI files)."
    )
    var data: String

    @Option(help: "lesion: a folder of normal CT studies kept out of training, for early stopping and the Dice.")
    var validation: String?

    @Option(name: .customLong("batches-per-epoch"), help: "lesion: batches of fresh synthetic lesions per epoch.")
    var batchesPerEpoch = 40

    @Option(help: "The model file to write (.h5); lung-fields with --leave-one-out may omit it.")
    var out: String?

    @Flag(name: .customLong("leave-one-out"), help: "lung-fields: measure the Dice by leave-one-out first.")
    var leaveOneOut = false

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
    var augmentation = Augmentation.Strength.standard

    @Option(help: "What early stopping follows on the validation fold: loss or auc.")
    var monitor = EarlyStoppingMonitor.loss

    @Option(name: .customLong("card-data"), help: "Model card: what the training data is and where it comes from.")
    var cardData: String?

    @Option(name: .customLong("card-terms"), help: "Model card: the training data's terms of use.")
    var cardTerms: String?

    @Option(name: .customLong("card-bias"), help: "Model card: a known bias or limit (repeatable).")
    var cardBias: [String] = []

    @Flag(
        name: .customLong("lung-field-crop"),
        help: "cxr: crop every image to its lung fields at 64 px and normalise inside them (LungFieldInput).")
    var lungFieldCrop = false

    @Option(
        name: .customLong("lung-field-model"),
        help: "cxr with --lung-field-crop: the lung-field network (default: the shipped Weights/cxr-lung-fields.h5).")
    var lungFieldModel: String?

    @Flag(name: .customLong("balance-sources"), help: "Repeat a class's smaller sources (sub-folders) in training.")
    var balanceSources = false

    @Flag(
        name: .customLong("leave-source-out"),
        help: "Also train once per source without it and test on it (leave-one-source-out table in the report).")
    var leaveSourceOut = false

    @OptionGroup var json: JSONOption

    /// The fewest folds that leave one to test, one to validate and one to train on.
    static let minimumFolds = 3
    /// The smallest input the network's pooling leaves room for.
    static let minimumSize = 16

    func validate() throws {
        guard out != nil || (task == .lungFields && leaveOneOut) else {
            throw ValidationError("--out is needed (only --task lung-fields --leave-one-out may go without it)")
        }
        guard
            (!lungFieldCrop && lungFieldModel == nil && !balanceSources && !leaveSourceOut) || task == .cxr
                || task == .ct
        else {
            throw ValidationError(
                "--lung-field-crop, --balance-sources and --leave-source-out belong to image classifiers")
        }
        guard !lungFieldCrop || task == .cxr else { throw ValidationError("--lung-field-crop belongs to --task cxr") }
        guard lungFieldModel == nil || lungFieldCrop else {
            throw ValidationError("--lung-field-model goes with --lung-field-crop")
        }
        guard !leaveOneOut || task == .lungFields else {
            throw ValidationError("--leave-one-out belongs to --task lung-fields")
        }
        guard folds >= Self.minimumFolds else {
            throw ValidationError("--folds must be at least \(Self.minimumFolds) (test, validation, training)")
        }
        guard epochs >= 1, size >= Self.minimumSize, width >= 1, batchSize >= 1, blocks >= 1, patience >= 1 else {
            throw ValidationError(
                "--epochs ≥ 1, --size ≥ \(Self.minimumSize), --width ≥ 1, --batch-size ≥ 1, --blocks ≥ 1, --patience ≥ 1"
            )
        }
        // Each block but the last halves the size; the last must still see at least 2×2.
        guard size >> (blocks - 1) >= 2 else {
            throw ValidationError("--size \(size) is too small for \(blocks) blocks")
        }
        guard (0..<1).contains(dropout), weightDecay >= 0 else {
            throw ValidationError("--dropout in 0..<1, --weight-decay ≥ 0")
        }
    }

    var job: TrainJob {
        var job = TrainJob(task: task, data: data, output: out ?? "")
        job.folds = folds
        job.size = size
        job.width = width
        job.blocks = blocks
        job.dropout = dropout
        job.augment = !noAugment
        job.augmentation = augmentation
        job.monitor = monitor
        job.dataDescription = cardData
        job.dataTerms = cardTerms
        job.knownBiases = cardBias
        if lungFieldCrop {
            job.lungFieldModel =
                lungFieldModel ?? ((AnalysisModels.weightsFolder() ?? "Weights") + "/" + LungFieldModel.fileName)
        }
        job.balanceSources = balanceSources
        job.leaveSourceOut = leaveSourceOut
        job.options.weightDecay = weightDecay
        job.options.patience = patience
        job.options.epochs = epochs
        job.options.seed = seed
        job.options.batchSize = batchSize
        job.options.learningRate = learningRate
        return job
    }

    /// The lesion task's job: --size is the crop side, --blocks the U-Net's levels (depth + 1).
    var lesionJob: LesionTrainJob {
        var job = LesionTrainJob(data: data, validation: validation, output: out ?? "")
        job.options.crop = size
        job.options.width = width
        job.options.depth = blocks - 1
        job.options.batchSize = batchSize
        job.options.seed = seed
        job.options.training.epochs = epochs
        job.options.training.batchesPerEpoch = batchesPerEpoch
        job.options.training.learningRate = learningRate
        job.options.training.weightDecay = weightDecay
        job.options.training.patience = patience
        job.dataDescription = cardData
        job.dataTerms = cardTerms
        job.knownBiases = cardBias
        return job
    }

    /// The lung-field task's job: --size the input side, --blocks the U-Net's levels (depth + 1).
    var lungFieldJob: LungFieldTrainJob {
        var job = LungFieldTrainJob(data: data, output: out)
        job.leaveOneOut = leaveOneOut
        job.options.size = size
        job.options.width = width
        job.options.depth = blocks - 1
        job.options.batchSize = batchSize
        job.options.seed = seed
        job.options.training.epochs = epochs
        job.options.training.batchesPerEpoch = batchesPerEpoch
        job.options.training.learningRate = learningRate
        job.options.training.weightDecay = weightDecay
        job.dataDescription = cardData
        job.dataTerms = cardTerms
        return job
    }

    func run() throws {
        if task == .lungFields {
            let report = try LungFieldTraining.train(lungFieldJob) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            try json.print(report, text: TextRenderer.lungFieldTraining)
            return
        }
        if task == .lesion {
            let report = try LesionTraining.train(lesionJob) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            try json.print(report) { report in
                "lesion model \(report.model) (SHA-256 \(report.sha256)): best epoch \(report.bestEpoch), validation Dice "
                    + report.validationDice.sorted { $0.key < $1.key }.map {
                        "\($0.key) \(String(format: "%.3f", $0.value))"
                    }
                    .joined(separator: ", ") + String(format: ", %.0f s", report.seconds)
            }
            return
        }
        let report = try ModelTraining.train(job) { line in
            // Redrawn lines ("\r...") stay on one terminal line; others end theirs.
            FileHandle.standardError.write(Data((line.hasPrefix("\r") ? line : line + "\n").utf8))
        }
        try json.print(report, text: TextRenderer.training)
    }
}
