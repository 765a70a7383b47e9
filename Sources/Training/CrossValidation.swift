import AppSupport
import Dispatch
import Foundation
import ModelEvaluation
import ModelRuntime
import NeuralEngine

/// What the stages of one training run share: the job, the images and their fold assignment,
/// the network's layers, the augmentation and early-stopping score, and the progress meter.
struct TrainingRun: Sendable {
    let job: TrainJob
    let folder: ImageFolder
    /// Each image's fold (0..<job.folds), images of a group always in the same fold.
    let assignment: [Int]
    let layers: [LayerSpecification]
    let augment: (@Sendable (inout [Float], inout SeededGenerator) -> Void)?
    /// With --monitor auc: the validation AUC early stopping follows; nil: the validation loss.
    let score: (@Sendable ([[Float]], [Int]) -> Float)?
    let meter: TrainingProgress
    let progress: (@Sendable (String) -> Void)?

    var data: LabeledImages { folder.images }
    var classes: [String] { folder.classes }

    /// Checks there are enough images for the folds, assigns them to folds by group, and sets
    /// up the network, augmentation, early-stopping score and progress meter.
    init(_ job: TrainJob, folder: ImageFolder, progress: (@Sendable (String) -> Void)?) throws(LungCTError) {
        let data = folder.images
        guard data.count >= job.folds * 2 else {
            throw .nothingToAnalyse(
                input: job.data, details: "\(data.count) usable images are too few for \(job.folds) folds")
        }
        do {
            assignment = try GroupedKFold.split(
                groups: folder.groups, labels: data.labels, folds: job.folds, seed: job.options.seed)
        } catch {
            throw .usage("\(job.data): \(error)")
        }
        self.job = job
        self.folder = folder
        self.progress = progress
        let classes = folder.classes
        layers = Architecture.fullyConvolutional(
            inputChannels: 1, classes: classes.count, width: job.width, blocks: job.blocks, dropout: job.dropout)
        let (size, strength) = (job.size, job.augmentation)
        augment =
            job.augment
            ? { @Sendable image, rng in Augmentation.apply(&image, size: size, strength: strength, rng: &rng) } : nil
        let positive = ModelInputPreparation.positiveClass(classes)
        let classCount = classes.count
        score =
            job.monitor == .auc
            ? { @Sendable in ModelTraining.validationAUC($0, truth: $1, classes: classCount, positive: positive) } : nil
        // Every fold trains on all but two folds' images; the final model on all of them.
        let foldTrainingImages = data.count * (job.folds - 2) / job.folds
        let batchSize = job.options.batchSize
        meter = TrainingProgress(
            totalBatches: (job.folds + 1) * job.options.epochs * Self.batches(foldTrainingImages, of: batchSize)
                + job.options.epochs * Self.batches(data.count, of: batchSize),
            batchSize: batchSize)
    }

    /// The model file's input normalisation: the lung-field crop's or the whole image's.
    var inputNormalization: String {
        job.lungFieldModel == nil ? ModelInputPreparation.normalization : LungFieldInput.normalization
    }

    /// Training indices, with the smaller sources of each class repeated when the job balances
    /// sources (`SourceBalance`).
    func balanced(_ indices: [Int]) -> [Int] {
        job.balanceSources ? SourceBalance.repeated(indices, labels: data.labels, sources: folder.sources) : indices
    }

    /// Batches in one epoch over `images` training images.
    func batchesPerEpoch(_ images: Int) -> Int { Self.batches(images, of: job.options.batchSize) }

    /// `images` in batches of `batchSize`, the last one partial.
    static func batches(_ images: Int, of batchSize: Int) -> Int { (images + batchSize - 1) / batchSize }
}

/// The folds' results put together.
struct CrossValidation {
    var reports: [FoldReport]
    /// Per image: the class probabilities from the fold that tested it.
    var outOfFold: [[Double]]
    /// Training images seen (images × epochs) over all folds.
    var imagesSeen: Int
    /// Wall time of the training, as if the folds had run one after the other on all cores.
    var trainingSeconds: Double

    init(_ outcomes: [FoldOutcome], images: Int) {
        reports = []
        outOfFold = [[Double]](repeating: [], count: images)
        imagesSeen = 0
        trainingSeconds = 0
        for outcome in outcomes {
            reports.append(outcome.report)
            for (row, index) in outcome.test.enumerated() { outOfFold[index] = outcome.probabilities[row] }
            imagesSeen += outcome.images
            trainingSeconds += outcome.seconds
        }
        // Folds ran side by side: images per second of wall time, not per fold.
        trainingSeconds /= Double(min(outcomes.count, ProcessInfo.processInfo.activeProcessorCount))
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

extension ModelTraining {
    /// Trains and tests every fold. The folds train concurrently, one per core, each with
    /// single-threaded products: each fold is seeded on its own, so the results do not depend
    /// on how many run at once.
    static func crossValidate(_ run: TrainingRun) throws(LungCTError) -> CrossValidation {
        let folds = run.job.folds
        let results = Slots<FoldOutcome?>(count: folds, initial: nil)
        let networks: [Sequential]
        do {
            networks = try (0..<folds).map {
                try Architecture.build(run.layers, seed: run.job.options.seed &+ UInt64($0))
            }
        } catch {
            throw .internalFailure("cannot build the network to train: \(error)")
        }
        GEMM.singleThreaded {
            DispatchQueue.concurrentPerform(iterations: folds) { fold in
                let outcome = trainFold(fold, network: networks[fold], run)
                results.set(fold, outcome)
                let report = outcome.report
                run.progress?(
                    String(
                        format: "\nfold %d/%d: accuracy %.3f, AUC %@, best epoch %d", fold + 1, folds, report.accuracy,
                        report.auc.map { String(format: "%.3f", $0) } ?? "-", report.bestEpoch))
            }
        }
        return CrossValidation((0..<folds).map { results.get($0)! }, images: run.data.count)
    }

    /// One fold: fold k tests, fold k+1 validates for early stopping, the rest train.
    static func trainFold(_ fold: Int, network: Sequential, _ run: TrainingRun) -> FoldOutcome {
        let (job, data, assignment) = (run.job, run.data, run.assignment)
        let test = assignment.indices.filter { assignment[$0] == fold }
        let validation = assignment.indices.filter { assignment[$0] == (fold + 1) % job.folds }
        let training = run.balanced(
            assignment.indices.filter { assignment[$0] != fold && assignment[$0] != (fold + 1) % job.folds })
        let foldStart = Date()
        let result = Trainer.fit(
            network, data: data, trainIndices: training, validationIndices: validation, options: job.options,
            classes: run.classes.count, augment: run.augment, validationScore: run.score
        ) { epoch, batch, batches, loss in
            if let line = run.meter.batch(
                stage: "fold \(fold + 1)/\(job.folds)", epoch: epoch, batch: batch, batches: batches, loss: loss)
            {
                run.progress?(line)
            }
        }
        run.meter.skip((job.options.epochs - result.history.count) * run.batchesPerEpoch(training.count))
        let probabilities = Trainer.predict(network, data: data, indices: test, batchSize: job.options.batchSize)
            .map { $0.map(Double.init) }
        let report = foldReport(
            fold, counts: (training.count, validation.count, test.count), result: result, probabilities: probabilities,
            truth: test.map { data.labels[$0] }, classes: run.classes)
        return FoldOutcome(
            report: report, test: test, probabilities: probabilities, seconds: Date().timeIntervalSince(foldStart),
            images: training.count * result.history.count)
    }

    /// A fold's report from its test images' predictions: accuracy and AUC, and for two
    /// classes the positive class's AUC, sensitivity and specificity.
    static func foldReport(
        _ fold: Int, counts: (training: Int, validation: Int, test: Int), result: TrainingResult,
        probabilities: [[Double]], truth: [Int], classes: [String]
    ) -> FoldReport {
        let confusion = ConfusionMatrix(classes: classes, truth: truth, probabilities: probabilities)
        var report = FoldReport(
            fold: fold + 1, trainImages: counts.training, validationImages: counts.validation, testImages: counts.test,
            bestEpoch: result.bestEpoch, accuracy: confusion.accuracy ?? 0, auc: nil, sensitivity: nil,
            specificity: nil,
            history: result.history)
        if classes.count == 2 {
            let positive = ModelInputPreparation.positiveClass(classes)
            report.auc = ROC.auc(scores: probabilities.map { $0[positive] }, positives: truth.map { $0 == positive })
            report.sensitivity = confusion.sensitivity(of: positive)
            report.specificity = confusion.specificity(of: positive)
        } else {
            report.auc = ROC.macroAUC(probabilities: probabilities, truth: truth)
        }
        return report
    }
}
