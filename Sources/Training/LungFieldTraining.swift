import AppSupport
import Foundation
import ModelRuntime
import ModelStore
import NeuralEngine
import Radiograph
import SeededRandom

/// How the radiograph lung-field network is trained (`lungct train --task lung-fields`).
public struct LungFieldTrainingOptions: Sendable, Codable {
    /// The network's square input side: low, since lung fields are large shapes, and close to
    /// the 64 px NIH films so that those are not enlarged much.
    public var size = 96
    public var width = 8
    public var depth = 3
    public var batchSize = 8
    public var seed: UInt64 = 1
    public var training = SegmentationTrainingOptions()

    public init() {
        training.epochs = 12
        training.batchesPerEpoch = 25
        training.patience = 100
        training.prefetch = true
        training.loss = SegmentationLoss(
            crossEntropyWeight: 1, diceWeight: 1, classWeights: nil, diceClasses: [1], smoothing: 1)
    }
}

/// What `lungct train --task lung-fields` was asked for.
public struct LungFieldTrainJob: Sendable {
    public var data: String
    /// The model to write; nil with `leaveOneOut` only.
    public var output: String?
    /// Measure by leave-one-out: one network per pair, trained on the others, scored on it.
    public var leaveOneOut = false
    public var options = LungFieldTrainingOptions()
    public var dataDescription: String?
    public var dataTerms: String?

    public init(data: String, output: String?) {
        self.data = data
        self.output = output
    }
}

/// One held-out image's result.
public struct LungFieldScore: Codable, Sendable {
    public var name: String
    public var source: String
    /// Both lung fields (labels 1 and 2 together) against the true mask, on the image's own grid.
    public var dice: Double
    public var rightPixels: Int
    public var leftPixels: Int
}

/// What the lung-field training reports (NAME.report.json, and `--json`).
public struct LungFieldTrainingReport: Codable, Sendable {
    public var data: String
    public var pairs: Int
    public var options: LungFieldTrainingOptions
    /// Leave-one-out, when asked for: per image, and summaries over all and per source.
    public var leaveOneOut: [LungFieldScore]?
    public var summary: [String: DiceSummary]?
    public var model: String?
    public var sha256: String?
    public var seconds: Double

    public struct DiceSummary: Codable, Sendable {
        public var images: Int
        public var mean: Double
        public var min: Double
        public var max: Double
    }
}

public enum LungFieldTraining {
    /// Leave-one-out (when asked), then the network trained on every pair and written (when an
    /// output is named) with its card, MANIFEST line and NAME.report.json.
    public static func train(_ job: LungFieldTrainJob, progress: (@Sendable (String) -> Void)? = nil)
        throws(LungCTError) -> LungFieldTrainingReport
    {
        let start = Date()
        let pairs = try LungFieldData.load(job.data)
        progress?(
            "\(pairs.count) pairs: "
                + Dictionary(grouping: pairs, by: \.source).map { "\($0.key) \($0.value.count)" }.sorted().joined(
                    separator: ", "))
        var report = LungFieldTrainingReport(
            data: job.data, pairs: pairs.count, options: job.options, seconds: 0)
        if job.leaveOneOut {
            var scores: [LungFieldScore] = []
            for (index, held) in pairs.enumerated() {
                let network = try fit(pairs.enumerated().filter { $0.offset != index }.map(\.element), job.options)
                scores.append(score(network, held, size: job.options.size))
                progress?(String(format: "left out %@ (%@): Dice %.3f", held.name, held.source, scores.last!.dice))
            }
            report.leaveOneOut = scores
            report.summary = summaries(scores)
        }
        if let output = job.output {
            try OutputFolder.prepare(URL(fileURLWithPath: output).deletingLastPathComponent().path)
            let network = try fit(pairs, job.options, progress: progress)
            let sha = try save(network, job: job, output: output, pairs: pairs, summary: report.summary)
            try ModelTraining.updateManifest(for: output, sha256: sha)
            (report.model, report.sha256) = (output, sha)
        }
        report.seconds = Date().timeIntervalSince(start)
        if let output = job.output {
            try JSON.write(report, to: URL(fileURLWithPath: output).deletingPathExtension().path + ".report.json")
        }
        return report
    }

    /// A U-Net trained on `pairs` with fresh augmentation every batch.
    static func fit(
        _ pairs: [LungFieldPair], _ options: LungFieldTrainingOptions, progress: (@Sendable (String) -> Void)? = nil
    ) throws(LungCTError) -> Sequential {
        let layers = layers(options)
        let network: Sequential
        do { network = try Architecture.build(layers, seed: options.seed) } catch {
            throw .internalFailure("cannot build the lung-field network: \(error)")
        }
        let samples = pairs.map { LungFieldSample($0, size: options.size) }
        _ = Trainer.trainSegmentation(
            network, options: options.training,
            batches: { epoch, index in batch(samples, options: options, epoch: epoch, index: index) },
            epochEnded: { record in
                progress?(
                    String(format: "epoch %d: train loss %.4f (%.0f s)", record.epoch, record.trainLoss, record.seconds)
                )
            })
        return network
    }

    static func layers(_ options: LungFieldTrainingOptions) -> [LayerSpecification] {
        Architecture.unet(
            inputChannels: 1, classes: LungFieldModel.classes.count, width: options.width, depth: options.depth)
    }

    /// Training batch (`epoch`, `index`): random pairs, each freshly augmented; the same
    /// arguments give the same batch.
    static func batch(_ samples: [LungFieldSample], options: LungFieldTrainingOptions, epoch: Int, index: Int)
        -> SegmentationBatch
    {
        var rng = SplitMix64(seed: options.seed &+ UInt64(epoch) &* 1_000_003 &+ UInt64(index) &* 7919)
        let size = options.size
        var pixels: [Float] = []
        var labels: [UInt8] = []
        for _ in 0..<options.batchSize {
            let sample = samples[Int(rng.next() % UInt64(samples.count))]
            let augmented = LungFieldAugmentation.apply(sample, size: size, rng: &rng)
            pixels += augmented.pixels
            labels += augmented.labels
        }
        return SegmentationBatch(
            input: Tensor(shape: [options.batchSize, 1, size, size], storage: pixels), labels: labels)
    }

    /// A held-out pair scored as `analyze` would find its lung fields: the network's
    /// probability on the image's own grid, thresholded and post-processed (`LungFields`).
    static func score(_ network: Sequential, _ pair: LungFieldPair, size: Int) -> LungFieldScore {
        let inference = network.foldedForInference()
        let lung = LungFieldModel.probability(
            pair.normalized, width: pair.width, height: pair.height, network: inference, size: size)
        let labels = LungFields.labels(
            foreground: lung.map { $0 >= LungFieldModel.threshold }, width: pair.width, height: pair.height)
        return LungFieldScore(
            name: pair.name, source: pair.source, dice: LungFields.dice(labels.map { $0 != 0 }, pair.truth),
            rightPixels: labels.filter { $0 == LungFields.rightLung }.count,
            leftPixels: labels.filter { $0 == LungFields.leftLung }.count)
    }

    /// Mean, min and max Dice over all images ("all") and per source.
    static func summaries(_ scores: [LungFieldScore]) -> [String: LungFieldTrainingReport.DiceSummary] {
        func summary(_ group: [LungFieldScore]) -> LungFieldTrainingReport.DiceSummary {
            let dice = group.map(\.dice)
            return .init(
                images: dice.count, mean: dice.reduce(0, +) / Double(max(1, dice.count)), min: dice.min() ?? 0,
                max: dice.max() ?? 0)
        }
        var result = ["all": summary(scores)]
        for (source, group) in Dictionary(grouping: scores, by: \.source) { result[source] = summary(group) }
        return result
    }
}

extension LungFieldTraining {
    /// Writes the network with its description and card; returns the file's SHA-256.
    static func save(
        _ network: Sequential, job: LungFieldTrainJob, output: String, pairs: [LungFieldPair],
        summary: [String: LungFieldTrainingReport.DiceSummary]?
    ) throws(LungCTError) -> String {
        let options = job.options
        let sources = Dictionary(grouping: pairs, by: \.source).map { "\($0.value.count) \($0.key)" }.sorted()
        var metrics: [String: String] = [:]
        for (group, s) in summary ?? [:] {
            metrics["dice-\(group)"] = String(
                format: "%.3f mean, %.3f min, %.3f max over %d images (leave-one-out, both lung fields, image grid)",
                s.mean, s.min, s.max, s.images)
        }
        let card = ModelCard(
            name: URL(fileURLWithPath: output).deletingPathExtension().lastPathComponent,
            task: "chest radiograph \(LungFieldModel.taskWords): lung or background per pixel (right and left "
                + "by the side of the image's midline, the patient's right on the image's left)",
            trainingData: (job.dataDescription.map { $0 + "; " } ?? "")
                + "\(pairs.count) adult chest radiographs with both-lungs masks (\(sources.joined(separator: ", ")))",
            dataTerms: job.dataTerms ?? "see the data sets' own terms",
            metrics: metrics,
            knownBiases: [
                "trained on \(pairs.count) images from \(sources.count) sources: unusual anatomy, devices, large "
                    + "effusions or consolidation at the lung edge, children and lateral views are not represented",
                "frontal views only; assumes the usual display (patient's right on the image's left)",
            ],
            createdBy:
                "lungct \(LungCTVersion.string) train --task lung-fields, seed \(options.seed), U-Net width "
                + "\(options.width) depth \(options.depth), input \(options.size)², \(options.training.epochs) epochs × "
                + "\(options.training.batchesPerEpoch) batches of \(options.batchSize), augmented (rotation, scale, "
                + "shift, gamma, contrast, blur, noise, 64 px; no flips)")
        let description = ModelDescription(
            layers: layers(options),
            input: ModelInput(
                width: options.size, height: options.size, channels: 1,
                normalization: ModelInputPreparation.normalization),
            classes: LungFieldModel.classes, card: card)
        do {
            try ModelFile.save(network, description: description, to: output)
            return try ModelFile.sha256(output)
        } catch {
            throw .outputFailed(error.description)
        }
    }
}
