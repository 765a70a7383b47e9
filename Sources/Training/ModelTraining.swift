import AppSupport
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
    /// COVID-19 vs other on 2D pictures of CT slices (figure images, not HU).
    case ct
    case cxr
    /// The per-voxel lesion network on CT in HU, from normal CTs with synthetic lesions
    /// (`LesionTraining`).
    case lesion
    /// The radiograph lung-field U-Net, from radiographs with lung masks (`LungFieldTraining`).
    case lungFields = "lung-fields"
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
    /// Radiographs: the lung-field network that crops every image to its lung fields
    /// (`LungFieldInput`); nil: whole images (`ModelInputPreparation`).
    public var lungFieldModel: String?
    /// Repeat the images of a class's smaller sources (up to `SourceBalance.maximumRepeat`
    /// times) so that each source of a class weighs about the same in training.
    public var balanceSources = false
    /// Also train once per source without it and test on it (`SourceHoldout`).
    public var leaveSourceOut = false

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
    /// The input preparation (the model file's input normalisation).
    public var inputPreparation: String? = nil
    /// The out-of-fold predictions broken down by source, when the folder has several.
    public var outOfFoldBySource: [EvaluationReport.SourceBreakdown]? = nil
    /// With --leave-source-out: one model per source trained without it, tested on it.
    public var leaveOneSourceOut: [SourceHoldout]? = nil
}

public enum ModelTraining {
    /// Grouped k-fold cross-validation (fold k tests, fold k+1 validates for early stopping,
    /// the rest train), then a final model on all images for the median best epoch count,
    /// temperature-calibrated on the held-out predictions; writes the model, its manifest
    /// entry, NAME.report.json, NAME.curves.png and NAME.out-of-fold.csv (each image's
    /// prediction from the fold that tested it, uncalibrated).
    /// `progress` receives status text for stderr: lines from `TrainingProgress` (which start
    /// with "\r" when redrawn in place on a terminal) and one line per finished fold.
    public static func train(_ job: TrainJob, progress: (@Sendable (String) -> Void)? = nil) throws(LungCTError)
        -> TrainingReport
    {
        guard job.task != .lesion else {
            throw .usage("the lesion task trains on CT volumes, not on an image folder (LesionTraining.train)")
        }
        let start = Date()
        // Checked before any training: a run can take minutes.
        try OutputFolder.prepare(URL(fileURLWithPath: job.output).deletingLastPathComponent().path)
        let input = try trainingInput(job)
        let folder = try ImageFolder.load(job.data, size: job.size, input: input)
        let run = try TrainingRun(job, folder: folder, progress: progress)
        let folds = try crossValidate(run)
        let holdouts = job.leaveSourceOut ? try SourceHoldout.run(run) : nil
        let temperature = calibrate(folds.outOfFold, truth: run.data.labels)
        let final = try trainFinalModel(run, epochs: finalEpochCount(folds.reports))
        let metrics = summaryMetrics(folds.reports, classes: run.classes.count)
        let bySource = ModelEvaluationRun.bySource(
            run.folder.sources, classes: run.classes, truth: run.data.labels, probabilities: folds.outOfFold)
        var card = modelCard(run, metrics: metrics, temperature: temperature)
        card.metrics.merge(SourceHoldout.cardMetrics(outOfFold: bySource, holdouts: holdouts, classes: run.classes)) {
            a, _ in a
        }
        let sha = try saveModel(final.network, run, card: card, temperature: temperature)
        try updateManifest(for: job.output, sha256: sha)
        let base = URL(fileURLWithPath: job.output).deletingPathExtension().path
        writeCurves(folds.reports, to: base + ".curves.png")
        // Each image's out-of-fold prediction, from the fold that tested it (uncalibrated).
        try ModelEvaluationRun.writePredictions(
            run.folder, probabilities: folds.outOfFold, classes: run.classes, to: base + ".out-of-fold.csv")
        var report = trainingReport(
            run, folds: folds, metrics: metrics, temperature: temperature, finalEpochs: final.epochs,
            seconds: Date().timeIntervalSince(start), sha256: sha)
        report.inputPreparation = run.inputNormalization
        report.outOfFoldBySource = bySource
        report.leaveOneSourceOut = holdouts
        try JSON.write(report, to: base + ".report.json")
        return report
    }

    /// Held-out predictions below this probability count as it when turned into logits, so
    /// that a confident miss gives a large finite logit, not -∞.
    static let smallestProbability = 1e-12

    /// The calibration temperature, fitted on the held-out predictions (log-probabilities are
    /// logits up to a constant); nil when none can be fitted.
    static func calibrate(_ outOfFold: [[Double]], truth: [Int]) -> Double? {
        let logits = outOfFold.map { $0.map { log(max($0, smallestProbability)) } }
        return TemperatureScaling.fit(logits: logits, truth: truth)?.temperature
    }

    /// The final model's epochs: the folds' median best epoch (the upper one of an even count),
    /// at least 1.
    static func finalEpochCount(_ reports: [FoldReport]) -> Int {
        max(1, reports.map(\.bestEpoch).sorted()[reports.count / 2])
    }

    /// The final model: all images, `epochs` epochs, no early stopping (nothing is held out).
    static func trainFinalModel(_ run: TrainingRun, epochs: Int) throws(LungCTError) -> (
        network: Sequential, epochs: Int
    ) {
        let job = run.job
        var finalOptions = job.options
        finalOptions.epochs = epochs
        let network: Sequential
        do { network = try Architecture.build(run.layers, seed: job.options.seed) } catch {
            throw .internalFailure("cannot build the final network: \(error)")
        }
        run.progress?("final model on all \(run.data.count) images for \(finalOptions.epochs) epochs")
        run.meter.skip((job.options.epochs - finalOptions.epochs) * run.batchesPerEpoch(run.data.count))
        _ = Trainer.fit(
            network, data: run.data, trainIndices: run.balanced(Array(0..<run.data.count)), validationIndices: [],
            options: finalOptions,
            classes: run.classes.count, augment: run.augment, validationScore: nil
        ) { epoch, batch, batches, loss in
            if let line = run.meter.batch(stage: "final", epoch: epoch, batch: batch, batches: batches, loss: loss) {
                run.progress?(line)
            }
        }
        run.progress?("")
        return (network, finalOptions.epochs)
    }

    /// "mean ± sd" over the folds of accuracy and AUC, and for two classes of sensitivity and
    /// specificity too.
    static func summaryMetrics(_ reports: [FoldReport], classes: Int) -> [String: String] {
        func summary(_ values: [Double?]) -> String { MetricSummary(values).formatted() }
        var metrics = [
            "accuracy": summary(reports.map(\.accuracy)), "auc": summary(reports.map(\.auc)),
        ]
        if classes == 2 {
            metrics["sensitivity"] = summary(reports.map(\.sensitivity))
            metrics["specificity"] = summary(reports.map(\.specificity))
        }
        return metrics
    }

    /// The model card: the task, the data and its terms, the cross-validated metrics and the
    /// calibration, the known biases and how the model was made.
    static func modelCard(_ run: TrainingRun, metrics: [String: String], temperature: Double?) -> ModelCard {
        let (job, classes, data, folder) = (run.job, run.classes, run.data, run.folder)
        return ModelCard(
            name: URL(fileURLWithPath: job.output).deletingPathExtension().lastPathComponent,
            task: job.task == .ct
                ? "COVID-19 pattern vs other, chest CT slice images"
                : "chest radiograph: \(classes.joined(separator: " / "))",
            trainingData: (job.dataDescription.map { $0 + "; " } ?? "") + "\(data.count) usable images: "
                + classes.enumerated().map { c, name in "\(name) \(data.labels.filter { $0 == c }.count)" }.joined(
                    separator: ", ")
                + (folder.skipped.isEmpty ? "" : " (\(folder.skipped.count) skipped, listed in the training report)"),
            dataTerms: job.dataTerms ?? "see the data set's own terms",
            metrics: metrics.mapValues {
                "\($0) (mean ± sd over grouped \(job.folds)-fold cross-validation test folds)"
            }
            .merging(
                temperature.map {
                    ["calibration": String(format: "temperature %.3f fitted on the out-of-fold predictions", $0)]
                } ?? [:]
            ) { a, _ in a },
            knownBiases: job.knownBiases,
            createdBy:
                "lungct \(LungCTVersion.string) train, seed \(job.options.seed), \(job.blocks) blocks, width \(job.width), "
                + "input \(job.size)², dropout \(job.dropout), augmentation \(job.augment ? job.augmentation.name : "none"), "
                + "early stopping on the validation \(job.monitor.rawValue)")
    }

    /// Writes the model file (layers, input, classes, card, temperature) and returns its SHA-256.
    static func saveModel(_ network: Sequential, _ run: TrainingRun, card: ModelCard, temperature: Double?)
        throws(LungCTError) -> String
    {
        let job = run.job
        var description = ModelDescription(
            layers: run.layers,
            input: ModelInput(
                width: job.size, height: job.size, channels: 1, normalization: run.inputNormalization),
            classes: run.classes, card: card)
        description.temperature = temperature
        do {
            try ModelFile.save(network, description: description, to: job.output)
        } catch {
            throw .outputFailed(error.description)
        }
        do { return try ModelFile.sha256(job.output) } catch { throw .outputFailed(error.description) }
    }

    /// NAME.curves.png: each fold's training and validation loss per epoch. A chart that cannot
    /// be drawn is no reason to fail the run: the report holds the same numbers.
    static func writeCurves(_ reports: [FoldReport], to path: String) {
        let curves = reports.flatMap { fold in
            [
                LineChart.Series(name: "fold \(fold.fold) train", values: fold.history.map { Double($0.trainLoss) }),
                LineChart.Series(
                    name: "fold \(fold.fold) validation", values: fold.history.map { Double($0.validationLoss ?? .nan) }
                ),
            ]
        }
        try? LineChart.write(curves, title: "loss per epoch", xLabel: "epoch", to: path)
    }

    /// NAME.report.json's content.
    static func trainingReport(
        _ run: TrainingRun, folds: CrossValidation, metrics: [String: String], temperature: Double?, finalEpochs: Int,
        seconds: Double, sha256: String
    ) -> TrainingReport {
        let (job, classes, data) = (run.job, run.classes, run.data)
        return TrainingReport(
            task: job.task, classes: classes,
            imagesPerClass: classes.indices.map { c in data.labels.filter { $0 == c }.count },
            skipped: run.folder.skipped, folds: folds.reports, summary: metrics,
            outOfFoldConfusion: ConfusionMatrix(classes: classes, truth: data.labels, probabilities: folds.outOfFold),
            temperature: temperature, finalEpochs: finalEpochs, options: job.options, inputSize: job.size,
            width: job.width, blocks: job.blocks, dropout: job.dropout,
            augmentation: job.augment ? job.augmentation : nil,
            monitor: job.monitor,
            trainingImagesPerSecond: folds.trainingSeconds > 0 ? Double(folds.imagesSeen) / folds.trainingSeconds : 0,
            seconds: seconds, model: job.output, sha256: sha256)
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
        var lines = ((try? String(contentsOfFile: manifest, encoding: .utf8)) ?? "").split(separator: "\n").map(
            String.init)
        lines.removeAll { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) == name }
        lines.append("\(sha256)  \(name)")
        try AtomicFile.write(to: manifest) { partial in
            try
                (lines.sorted { $0.split(separator: " ").last! < $1.split(separator: " ").last! }.joined(
                    separator: "\n") + "\n")
                .write(toFile: partial, atomically: false, encoding: .utf8)
        }
    }
}
