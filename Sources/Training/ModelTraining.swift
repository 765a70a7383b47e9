import AppSupport
import Dispatch
import Foundation
import ModelEvaluation
import ModelRuntime
import ModelStore
import NeuralEngine
import Overview
import StudyInput

/// The kind of images a model is trained on; its card's task says so, and `analyze` picks
/// the model for a CT or a radiograph by it.
public enum TrainingTask: String, Codable, Sendable, CaseIterable {
    case ct
    case cxr
}

/// What early stopping follows on the validation fold.
public enum EarlyStoppingMonitor: String, Codable, Sendable, CaseIterable {
    /// The validation loss.
    case loss
    /// Binary: the positive class's ROC AUC; more classes: the macro one-vs-rest AUC.
    case auc
}

/// What `lungct train` was asked to do.
public struct TrainJob: Sendable {
    public var task: TrainingTask
    public var data: String
    public var output: String
    public var folds = 5
    public var size = 128
    public var width = 16
    /// Conv blocks of the network (all but the last followed by 2×2 pooling).
    public var blocks = 4
    /// Dropout before the per-location classifier.
    public var dropout: Float = 0
    public var options = TrainingOptions()
    public var augment = true
    public var augmentation = Augmentation.Strength.standard
    public var monitor = EarlyStoppingMonitor.loss
    /// For the model card: where the data comes from, its terms, and what a user must know.
    public var dataDescription: String?
    public var dataTerms: String?
    public var knownBiases: [String] = []

    public init(task: TrainingTask, data: String, output: String) {
        self.task = task
        self.data = data
        self.output = output
    }
}

/// One cross-validation fold's result.
public struct FoldReport: Codable, Sendable {
    public var fold: Int
    public var trainImages: Int
    public var validationImages: Int
    public var testImages: Int
    public var bestEpoch: Int
    public var accuracy: Double
    /// Binary tasks: AUC of the positive class; multi-class: macro one-vs-rest AUC.
    public var auc: Double?
    public var sensitivity: Double?
    public var specificity: Double?
    public var history: [EpochRecord]
}

/// `NAME.report.json` beside the model.
public struct TrainingReport: Codable, Sendable {
    public var task: TrainingTask
    public var classes: [String]
    public var imagesPerClass: [Int]
    public var skipped: [FileNote]
    public var folds: [FoldReport]
    /// "mean ± sd" over folds.
    public var summary: [String: String]
    public var outOfFoldConfusion: ConfusionMatrix
    public var temperature: Double?
    public var finalEpochs: Int
    public var options: TrainingOptions
    public var inputSize: Int
    public var width: Int
    public var blocks: Int
    public var dropout: Float
    /// Nil when trained without augmentation.
    public var augmentation: Augmentation.Strength?
    public var monitor: EarlyStoppingMonitor
    public var trainingImagesPerSecond: Double
    public var seconds: Double
    public var model: String
    public var sha256: String
}

public enum ModelTraining {
    /// Grouped k-fold cross-validation (fold k tests, fold k+1 validates for early stopping,
    /// the rest train), then a final model on all images for the median best epoch count,
    /// temperature-calibrated on the held-out predictions; writes the model, its manifest
    /// entry, NAME.report.json and NAME.curves.png.
    /// `progress` receives status text for stderr: lines from `TrainingProgress` (which start
    /// with "\r" when redrawn in place on a terminal) and one line per finished fold.
    public static func train(_ job: TrainJob, progress: (@Sendable (String) -> Void)? = nil) throws(LungCTError) -> TrainingReport {
        let start = Date()
        // Checked before any training: a run can take minutes.
        try OutputFolder.prepare(URL(fileURLWithPath: job.output).deletingLastPathComponent().path)
        let folder = try ImageFolder.load(job.data, size: job.size)
        let data = folder.images
        guard data.count >= job.folds * 2 else {
            throw .nothingToAnalyse(input: job.data, details: "\(data.count) usable images are too few for \(job.folds) folds")
        }
        let assignment: [Int]
        do {
            assignment = try GroupedKFold.split(groups: folder.groups, labels: data.labels, folds: job.folds, seed: job.options.seed)
        } catch {
            throw .usage("\(job.data): \(error)")
        }
        let classes = folder.classes
        let layers = Architecture.fullyConvolutional(
            inputChannels: 1, classes: classes.count, width: job.width, blocks: job.blocks, dropout: job.dropout)
        let size = job.size
        let strength = job.augmentation
        let augment: (@Sendable (inout [Float], inout SeededGenerator) -> Void)? =
            job.augment ? { @Sendable image, rng in Augmentation.apply(&image, size: size, strength: strength, rng: &rng) } : nil
        let positive = ModelInputPreparation.positiveClass(classes)
        let classCount = classes.count
        let score: (@Sendable ([[Float]], [Int]) -> Float)? =
            job.monitor == .auc ? { @Sendable in validationAUC($0, truth: $1, classes: classCount, positive: positive) } : nil
        let batchesPerEpoch: @Sendable (Int) -> Int = { images in (images + job.options.batchSize - 1) / job.options.batchSize }
        let foldTrainingImages = data.count * (job.folds - 2) / job.folds
        let meter = TrainingProgress(
            totalBatches: (job.folds + 1) * job.options.epochs * batchesPerEpoch(foldTrainingImages)
                + job.options.epochs * batchesPerEpoch(data.count),
            batchSize: job.options.batchSize)
        // The folds train concurrently, one per core, each with single-threaded products: each
        // fold is seeded on its own, so the results do not depend on how many run at once.
        let results = Slots<FoldOutcome?>(count: job.folds, initial: nil)
        let networks: [Sequential]
        do {
            networks = try (0..<job.folds).map { try Architecture.build(layers, seed: job.options.seed &+ UInt64($0)) }
        } catch {
            throw .internalFailure("cannot build the network to train: \(error)")
        }
        GEMM.singleThreaded {
            DispatchQueue.concurrentPerform(iterations: job.folds) { fold in
                let test = assignment.indices.filter { assignment[$0] == fold }
                let validation = assignment.indices.filter { assignment[$0] == (fold + 1) % job.folds }
                let training = assignment.indices.filter { assignment[$0] != fold && assignment[$0] != (fold + 1) % job.folds }
                let network = networks[fold]
                let foldStart = Date()
                let result = Trainer.fit(
                    network, data: data, trainIndices: training, validationIndices: validation, options: job.options,
                    classes: classes.count, augment: augment, validationScore: score
                ) { epoch, batch, batches, loss in
                    if let line = meter.batch(stage: "fold \(fold + 1)/\(job.folds)", epoch: epoch, batch: batch, batches: batches, loss: loss) {
                        progress?(line)
                    }
                }
                meter.skip((job.options.epochs - result.history.count) * batchesPerEpoch(training.count))
                let probabilities = Trainer.predict(network, data: data, indices: test, batchSize: job.options.batchSize)
                    .map { $0.map(Double.init) }
                let truth = test.map { data.labels[$0] }
                let confusion = ConfusionMatrix(classes: classes, truth: truth, probabilities: probabilities)
                var report = FoldReport(
                    fold: fold + 1, trainImages: training.count, validationImages: validation.count, testImages: test.count,
                    bestEpoch: result.bestEpoch, accuracy: confusion.accuracy ?? 0, auc: nil, sensitivity: nil, specificity: nil,
                    history: result.history)
                if classes.count == 2 {
                    let positive = ModelInputPreparation.positiveClass(classes)
                    report.auc = ROC.auc(scores: probabilities.map { $0[positive] }, positives: truth.map { $0 == positive })
                    report.sensitivity = confusion.sensitivity(of: positive)
                    report.specificity = confusion.specificity(of: positive)
                } else {
                    report.auc = ROC.macroAUC(probabilities: probabilities, truth: truth)
                }
                results.set(
                    fold,
                    FoldOutcome(
                        report: report, test: test, probabilities: probabilities, seconds: Date().timeIntervalSince(foldStart),
                        images: training.count * result.history.count))
                progress?(
                    String(
                        format: "\nfold %d/%d: accuracy %.3f, AUC %@, best epoch %d", fold + 1, job.folds, report.accuracy,
                        report.auc.map { String(format: "%.3f", $0) } ?? "-", result.bestEpoch))
            }
        }
        var reports: [FoldReport] = []
        var outOfFold = [[Double]](repeating: [], count: data.count)
        var imagesSeen = 0
        var trainingSeconds = 0.0
        for fold in 0..<job.folds {
            let outcome = results.get(fold)!
            reports.append(outcome.report)
            for (row, index) in outcome.test.enumerated() { outOfFold[index] = outcome.probabilities[row] }
            imagesSeen += outcome.images
            trainingSeconds += outcome.seconds
        }
        // Folds ran side by side: images per second of wall time, not per fold.
        trainingSeconds /= Double(min(job.folds, ProcessInfo.processInfo.activeProcessorCount))

        // Calibration on the held-out predictions (log-probabilities are logits up to a constant).
        let logits = outOfFold.map { $0.map { log(max($0, 1e-12)) } }
        let temperature = TemperatureScaling.fit(logits: logits, truth: data.labels)?.temperature

        // The final model: all images, the median best epoch count, no early stopping.
        var finalOptions = job.options
        finalOptions.epochs = max(1, reports.map(\.bestEpoch).sorted()[reports.count / 2])
        let network: Sequential
        do { network = try Architecture.build(layers, seed: job.options.seed) } catch {
            throw .internalFailure("cannot build the final network: \(error)")
        }
        progress?("final model on all \(data.count) images for \(finalOptions.epochs) epochs")
        meter.skip((job.options.epochs - finalOptions.epochs) * batchesPerEpoch(data.count))
        _ = Trainer.fit(
            network, data: data, trainIndices: Array(0..<data.count), validationIndices: [], options: finalOptions,
            classes: classes.count, augment: augment, validationScore: nil
        ) { epoch, batch, batches, loss in
            if let line = meter.batch(stage: "final", epoch: epoch, batch: batch, batches: batches, loss: loss) { progress?(line) }
        }
        progress?("")

        func summary(_ values: [Double?]) -> String { MetricSummary(values).formatted() }
        var metrics = [
            "accuracy": summary(reports.map(\.accuracy)), "auc": summary(reports.map(\.auc)),
        ]
        if classes.count == 2 {
            metrics["sensitivity"] = summary(reports.map(\.sensitivity))
            metrics["specificity"] = summary(reports.map(\.specificity))
        }
        let card = ModelCard(
            name: URL(fileURLWithPath: job.output).deletingPathExtension().lastPathComponent,
            task: job.task == .ct ? "COVID-19 pattern vs other, chest CT slice images" : "chest radiograph: \(classes.joined(separator: " / "))",
            trainingData: (job.dataDescription.map { $0 + "; " } ?? "") + "\(data.count) usable images: "
                + classes.enumerated().map { c, name in "\(name) \(data.labels.filter { $0 == c }.count)" }.joined(separator: ", ")
                + (folder.skipped.isEmpty ? "" : " (\(folder.skipped.count) skipped, listed in the training report)"),
            dataTerms: job.dataTerms ?? "see the data set's own terms",
            metrics: metrics.mapValues { "\($0) (mean ± sd over grouped \(job.folds)-fold cross-validation test folds)" }
                .merging(temperature.map { ["calibration": String(format: "temperature %.3f fitted on the out-of-fold predictions", $0)] } ?? [:]) { a, _ in a },
            knownBiases: job.knownBiases,
            createdBy: "lungct \(LungCTVersion.string) train, seed \(job.options.seed), \(job.blocks) blocks, width \(job.width), "
                + "input \(job.size)², dropout \(job.dropout), augmentation \(job.augment ? job.augmentation.name : "none"), "
                + "early stopping on the validation \(job.monitor.rawValue)")
        var description = ModelDescription(
            layers: layers, input: ModelInput(width: job.size, height: job.size, channels: 1, normalization: ModelInputPreparation.normalization),
            classes: classes, card: card)
        description.temperature = temperature
        do {
            try ModelFile.save(network, description: description, to: job.output)
        } catch {
            throw .outputFailed(error.description)
        }
        let sha: String
        do { sha = try ModelFile.sha256(job.output) } catch { throw .outputFailed(error.description) }
        try updateManifest(for: job.output, sha256: sha)

        let base = URL(fileURLWithPath: job.output).deletingPathExtension().path
        let curves = reports.flatMap { fold in
            [
                LineChart.Series(name: "fold \(fold.fold) train", values: fold.history.map { Double($0.trainLoss) }),
                LineChart.Series(name: "fold \(fold.fold) validation", values: fold.history.map { Double($0.validationLoss ?? .nan) }),
            ]
        }
        try? LineChart.write(curves, title: "loss per epoch", xLabel: "epoch", to: base + ".curves.png")
        let report = TrainingReport(
            task: job.task, classes: classes, imagesPerClass: classes.indices.map { c in data.labels.filter { $0 == c }.count },
            skipped: folder.skipped, folds: reports, summary: metrics,
            outOfFoldConfusion: ConfusionMatrix(classes: classes, truth: data.labels, probabilities: outOfFold),
            temperature: temperature, finalEpochs: finalOptions.epochs, options: job.options, inputSize: job.size,
            width: job.width, blocks: job.blocks, dropout: job.dropout, augmentation: job.augment ? job.augmentation : nil,
            monitor: job.monitor,
            trainingImagesPerSecond: trainingSeconds > 0 ? Double(imagesSeen) / trainingSeconds : 0,
            seconds: Date().timeIntervalSince(start), model: job.output, sha256: sha)
        try JSON.write(report, to: base + ".report.json")
        return report
    }

    /// The validation AUC early stopping follows with --monitor auc: binary, the positive
    /// class's; more classes, the macro one-vs-rest AUC; 0 when undefined.
    static func validationAUC(_ probabilities: [[Float]], truth: [Int], classes: Int, positive: Int) -> Float {
        let auc =
            classes == 2
            ? ROC.auc(scores: probabilities.map { Double($0[positive]) }, positives: truth.map { $0 == positive })
            : ROC.macroAUC(probabilities: probabilities.map { $0.map(Double.init) }, truth: truth)
        return Float(auc ?? 0)
    }

    /// Replaces (or adds) the model's line in MANIFEST beside it.
    static func updateManifest(for model: String, sha256: String) throws(LungCTError) {
        let url = URL(fileURLWithPath: model)
        let manifest = url.deletingLastPathComponent().path + "/MANIFEST"
        let name = url.lastPathComponent
        var lines = ((try? String(contentsOfFile: manifest, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        lines.removeAll { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) == name }
        lines.append("\(sha256)  \(name)")
        try AtomicFile.write(to: manifest) { partial in
            try (lines.sorted { $0.split(separator: " ").last! < $1.split(separator: " ").last! }.joined(separator: "\n") + "\n")
                .write(toFile: partial, atomically: false, encoding: .utf8)
        }
    }
}

/// One fold's result, as the concurrent folds hand them back.
struct FoldOutcome: Sendable {
    var report: FoldReport
    var test: [Int]
    var probabilities: [[Double]]
    var seconds: Double
    var images: Int
}
