import AppSupport
import Dispatch
import Foundation
import ModelEvaluation
import ModelRuntime
import NeuralEngine

/// Source balance in training: within each class, the images of a smaller source are repeated
/// so that every source of the class weighs about as much as its largest one, at most
/// `maximumRepeat` times (a handful of images repeated fifty times would be learned by heart).
/// Augmentation makes the repeats differ. Class balance stays the trainer's class weighting.
public enum SourceBalance {
    public static let maximumRepeat = 4

    /// `indices` with each (class, source) cell repeated round(largest cell of its class / its
    /// size) times, clamped to 1...`maximumRepeat`; the order is the trainer's to shuffle.
    public static func repeated(_ indices: [Int], labels: [Int], sources: [String]) -> [Int] {
        var cells: [Int: [String: [Int]]] = [:]
        for index in indices { cells[labels[index], default: [:]][sources[index], default: []].append(index) }
        var result: [Int] = []
        for label in cells.keys.sorted() {
            let bySource = cells[label]!
            let largest = bySource.values.map(\.count).max() ?? 0
            for source in bySource.keys.sorted() {
                let members = bySource[source]!
                let times = min(maximumRepeat, max(1, Int((Double(largest) / Double(members.count)).rounded())))
                for _ in 0..<times { result += members }
            }
        }
        return result
    }
}

/// Leave-one-source-out: for each source (a class folder's sub-folder, `ImageFolder`), a model
/// trained on every other source and tested on this one, so that the figures say how the model
/// does on a source it never saw. A source's name is the same in every class folder it appears
/// in (normal/nih and other/nih are one source, held out together).
public struct SourceHoldout: Codable, Sendable {
    /// The held-out source's test figures.
    public var test: EvaluationReport.SourceBreakdown
    public var trainImages: Int
    public var validationImages: Int
    public var bestEpoch: Int
    /// Classes with no training image once the source is out: the model cannot learn them.
    public var classesWithoutTraining: [String]

    /// Trains and tests one model per source, the sources side by side on the cores. Early
    /// stopping follows one grouped fold of the remaining sources.
    static func run(_ run: TrainingRun) throws(LungCTError) -> [SourceHoldout] {
        let sources = Array(Set(run.folder.sources)).sorted()
        guard sources.count >= 2 else {
            throw .usage(
                "\(run.job.data): --leave-source-out needs images in at least two sources "
                    + "(sub-folders of the class folders), found \(sources.count)")
        }
        let networks: [Sequential]
        do {
            networks = try sources.indices.map {
                try Architecture.build(run.layers, seed: run.job.options.seed &+ 1000 &+ UInt64($0))
            }
        } catch {
            throw .internalFailure("cannot build the network to train: \(error)")
        }
        let results = Slots<SourceHoldout?>(count: sources.count, initial: nil)
        GEMM.singleThreaded {
            DispatchQueue.concurrentPerform(iterations: sources.count) { index in
                let holdout = holdOut(sources[index], network: networks[index], run)
                results.set(index, holdout)
                run.progress?(
                    "\nwithout \(label(sources[index])): "
                        + holdout.test.sensitivity.sorted { $0.key < $1.key }.compactMap { name, value in
                            value.map { String(format: "%@ sensitivity %.3f", name, $0) }
                        }.joined(separator: ", "))
            }
        }
        return sources.indices.map { results.get($0)! }
    }

    /// A source's printable name ("" is the images directly in their class folders).
    static func label(_ source: String) -> String { source.isEmpty ? "(no source folder)" : source }

    /// One held-out source: train on the others (one of their grouped folds validates), test on it.
    static func holdOut(_ source: String, network: Sequential, _ run: TrainingRun) -> SourceHoldout {
        let (job, data, folder) = (run.job, run.data, run.folder)
        let test = folder.sources.indices.filter { folder.sources[$0] == source }
        let rest = folder.sources.indices.filter { folder.sources[$0] != source }
        let folds =
            (try? GroupedKFold.split(
                groups: rest.map { folder.groups[$0] }, labels: rest.map { data.labels[$0] }, folds: job.folds,
                seed: job.options.seed)) ?? rest.indices.map { $0 % job.folds }
        let validation = rest.indices.filter { folds[$0] == 0 }.map { rest[$0] }
        let training = rest.indices.filter { folds[$0] != 0 }.map { rest[$0] }
        let result = Trainer.fit(
            network, data: data, trainIndices: run.balanced(training), validationIndices: validation,
            options: job.options, classes: run.classes.count, augment: run.augment, validationScore: run.score)
        let probabilities = Trainer.predict(network, data: data, indices: test, batchSize: job.options.batchSize)
            .map { $0.map(Double.init) }
        let trained = Set(training.map { data.labels[$0] })
        return SourceHoldout(
            test: ModelEvaluationRun.breakdown(
                source, classes: run.classes, truth: test.map { data.labels[$0] }, probabilities: probabilities),
            trainImages: training.count, validationImages: validation.count, bestEpoch: result.bestEpoch,
            classesWithoutTraining: run.classes.indices.filter { !trained.contains($0) }.map { run.classes[$0] })
    }

    /// The card's lines: per source, the share of each class's images the model gives its own
    /// class (its sensitivity), out of fold and with the source left out of training.
    static func cardMetrics(
        outOfFold: [EvaluationReport.SourceBreakdown]?, holdouts: [SourceHoldout]?, classes: [String]
    ) -> [String: String] {
        func line(_ breakdown: EvaluationReport.SourceBreakdown) -> String {
            classes.compactMap { name in
                guard let count = breakdown.imagesPerClass[name], count > 0,
                    let value = breakdown.sensitivity[name] ?? nil
                else { return nil }
                return String(format: "%@ %.3f of %d", name, value, count)
            }.joined(separator: ", ")
        }
        var metrics: [String: String] = [:]
        for breakdown in outOfFold ?? [] {
            metrics["out-of-fold, source \(label(breakdown.source))"] =
                line(breakdown) + " (share of each class called that class)"
        }
        for holdout in holdouts ?? [] {
            metrics["left out of training, source \(label(holdout.test.source))"] =
                line(holdout.test) + " (share of each class called that class)"
                + (holdout.classesWithoutTraining.isEmpty
                    ? "" : "; no training image of " + holdout.classesWithoutTraining.joined(separator: ", "))
        }
        return metrics
    }
}

extension ModelTraining {
    /// The preparation a job's images get: cropped to their lung fields by the job's lung-field
    /// network, or whole.
    static func trainingInput(_ job: TrainJob) throws(LungCTError) -> RadiographInput {
        guard let path = job.lungFieldModel else { return .whole }
        guard job.task == .cxr else { throw .usage("--lung-field-crop applies to radiographs (--task cxr)") }
        let model = try AnalysisModels.load(path, requireManifest: false)
        guard model.kind == .lungFields else {
            throw .usage("\(path): not a radiograph lung-field network (lungct train --task lung-fields)")
        }
        return .lungFieldCrop(model)
    }
}
