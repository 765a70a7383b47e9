import Dispatch
import Foundation

/// A batch for segmentation training: N images and, at every pixel, its class and its weight.
public struct SegmentationBatch: Sendable {
    /// The images, [N, C, H, W] (for lungct's 2.5D network, C adjacent slices).
    public var input: Tensor
    /// The class of every pixel, N·H·W values (image, row, column; row-major like the input).
    public var labels: [UInt8]
    /// Every pixel's weight in the loss and the validation scores, N·H·W values (0 leaves a
    /// pixel out, e.g. outside the lungs); nil weighs every pixel 1.
    public var weights: [Float]?

    public init(input: Tensor, labels: [UInt8], weights: [Float]? = nil) {
        precondition(input.shape.count == 4, "SegmentationBatch: input must be [N, C, H, W], got \(input.shape)")
        let pixels = input.shape[0] * input.shape[2] * input.shape[3]
        precondition(labels.count == pixels, "SegmentationBatch: \(labels.count) labels for input \(input.shape)")
        precondition(weights == nil || weights!.count == pixels, "SegmentationBatch: weights do not match the labels")
        self.input = input
        self.labels = labels
        self.weights = weights
    }
}

/// How to train a segmentation network.
public struct SegmentationTrainingOptions: Sendable, Codable {
    public var epochs = 30
    /// Batches per epoch: samples are made on the fly, so an epoch is a number of steps.
    public var batchesPerEpoch = 50
    public var learningRate: Float = 2e-3
    public var weightDecay: Float = 1e-4
    /// Stop when the validation Dice has not improved for this many epochs; the best epoch's
    /// weights are kept.
    public var patience = 8
    public var loss = SegmentationLoss()
    /// Make the next batch on another thread while the network trains on the current one.
    public var prefetch = true
    public init() {}
}

extension Trainer {
    /// Trains a segmentation network (e.g. `Architecture.unet`) with AdamW, the cosine
    /// learning-rate schedule of `fit` and `options.loss` (cross-entropy + soft Dice), on
    /// batches made on the fly, and keeps the best epoch's weights.
    ///
    /// `batches(epoch, batch)` (epochs from 1, batches from 0 within an epoch) makes each
    /// training batch; with `options.prefetch` it runs on a background thread, one call at a
    /// time and in order, while the network trains on the batch before (the other layers run
    /// on the calling thread; convolutions split each batch between the cores). Make its
    /// result depend only on its arguments (a generator seeded from them) for a run that
    /// repeats exactly. After each epoch the network is scored on `validation` at inference:
    /// the loss, the pixel accuracy and the Dice of each of the loss's Dice classes (argmax
    /// masks, counted over all validation pixels with weight > 0); their mean Dice is
    /// `validationScore`, which early stopping and the best epoch follow (the training loss
    /// when there is no validation). `progress` is called after every batch (epoch, batch,
    /// batches, loss); `epochEnded` after every epoch.
    public static func trainSegmentation(
        _ network: Sequential, options: SegmentationTrainingOptions,
        batches: @escaping @Sendable (_ epoch: Int, _ batch: Int) -> SegmentationBatch,
        validation: [SegmentationBatch] = [],
        progress: ((Int, Int, Int, Float) -> Void)? = nil,
        epochEnded: ((EpochRecord) -> Void)? = nil
    ) -> TrainingResult {
        let optimizer = AdamW(learningRate: options.learningRate, weightDecay: options.weightDecay)
        let (epochs, perEpoch) = (max(1, options.epochs), max(1, options.batchesPerEpoch))
        let source = BatchSource(batches, prefetch: options.prefetch)
        defer { source.finish() }
        var history: [EpochRecord] = []
        var stopping = EarlyStopping(patience: options.patience)
        for epoch in 1...epochs {
            let start = Date()
            optimizer.learningRate = cosineRate(options.learningRate, epoch: epoch, epochs: epochs)
            var lossSum: Float = 0
            for index in 0..<perEpoch {
                let next = index + 1 < perEpoch ? (epoch, index + 1) : epoch < epochs ? (epoch + 1, 0) : nil
                let batch = source.take(epoch, index, then: next)
                network.zeroGradients()
                let logits = network.forward(batch.input, training: true)
                let (loss, gradient) = options.loss(logits: logits, labels: batch.labels, pixelWeights: batch.weights)
                network.backward(gradient)
                optimizer.update(network.parameters)
                lossSum += loss
                progress?(epoch, index + 1, perEpoch, loss)
            }
            var record = EpochRecord(
                epoch: epoch, trainLoss: lossSum / Float(perEpoch), validationLoss: nil, validationAccuracy: nil,
                validationScore: nil, learningRate: optimizer.learningRate, seconds: 0)
            if !validation.isEmpty {
                let scores = segmentationScores(network, validation, loss: options.loss)
                record.validationLoss = scores.loss
                record.validationAccuracy = scores.accuracy
                record.validationDice = scores.dice
                record.validationScore = scores.dice.isEmpty ? nil : scores.dice.reduce(0, +) / Float(scores.dice.count)
            }
            record.seconds = Date().timeIntervalSince(start)
            history.append(record)
            epochEnded?(record)
            if stopping.shouldStop(after: record, network: network) { break }
        }
        return stopping.finish(network, history: history)
    }

    /// The mean loss, pixel accuracy and Dice of each Dice class of `network` on `batches`, at inference.
    static func segmentationScores(_ network: Sequential, _ batches: [SegmentationBatch], loss: SegmentationLoss)
        -> (loss: Float, accuracy: Float, dice: [Float])
    {
        var counts: SegmentationCounts?
        var lossSum: Double = 0
        for batch in batches {
            let logits = network.infer(batch.input)
            lossSum += Double(loss(logits: logits, labels: batch.labels, pixelWeights: batch.weights).0)
            if counts == nil { counts = SegmentationCounts(classes: logits.shape[1]) }
            counts!.add(predicted: Activation.classPerPixel(logits), labels: batch.labels, weights: batch.weights)
        }
        guard let counts else { return (0, 0, []) }
        let classes = loss.diceClasses ?? Array(1..<max(1, counts.classes))
        return (Float(lossSum / Double(batches.count)), counts.accuracy, classes.map { counts.dice($0) })
    }
}

/// Weighted counts of predicted against true classes over many pixels: each class's Dice
/// (2·TP / (2·TP + FP + FN)) and the pixel accuracy. A pixel counts with its weight.
public struct SegmentationCounts: Sendable {
    public let classes: Int
    public private(set) var truePositives: [Double]
    public private(set) var falsePositives: [Double]
    public private(set) var falseNegatives: [Double]
    public private(set) var total: Double = 0

    public init(classes: Int) {
        self.classes = classes
        truePositives = [Double](repeating: 0, count: classes)
        (falsePositives, falseNegatives) = (truePositives, truePositives)
    }

    /// Adds N·H·W predicted classes against their labels (classes below `classes`), with
    /// optional pixel weights.
    public mutating func add(predicted: [UInt8], labels: [UInt8], weights: [Float]? = nil) {
        precondition(
            predicted.count == labels.count,
            "SegmentationCounts: \(predicted.count) predictions, \(labels.count) labels")
        precondition(weights == nil || weights!.count == labels.count, "SegmentationCounts: weights do not match")
        for index in labels.indices {
            let weight = Double(weights?[index] ?? 1)
            guard weight > 0 else { continue }
            let (p, y) = (Int(predicted[index]), Int(labels[index]))
            total += weight
            if p == y {
                truePositives[y] += weight
            } else {
                falsePositives[p] += weight
                falseNegatives[y] += weight
            }
        }
    }

    /// The Dice of class `c`; 1 when the class is neither present nor predicted.
    public func dice(_ c: Int) -> Float {
        let denominator = 2 * truePositives[c] + falsePositives[c] + falseNegatives[c]
        return denominator > 0 ? Float(2 * truePositives[c] / denominator) : 1
    }

    /// The weighted fraction of pixels whose class was predicted right.
    public var accuracy: Float { total > 0 ? Float(truePositives.reduce(0, +) / total) : 0 }
}

/// The training batches. With prefetching, the next batch is made on a background thread
/// while the caller trains on the current one; calls of `make` never overlap and come in
/// order, so a generator the closure keeps is used as without prefetching.
private final class BatchSource: @unchecked Sendable {
    let make: @Sendable (Int, Int) -> SegmentationBatch
    let prefetch: Bool
    private let lock = NSLock()
    private var pending: (epoch: Int, batch: Int, done: DispatchSemaphore)?
    private var made: SegmentationBatch?

    init(_ make: @escaping @Sendable (Int, Int) -> SegmentationBatch, prefetch: Bool) {
        self.make = make
        self.prefetch = prefetch
    }

    /// Batch (`epoch`, `batch`), then starts making `next` in the background.
    func take(_ epoch: Int, _ batch: Int, then next: (Int, Int)?) -> SegmentationBatch {
        let result: SegmentationBatch
        if let pending, pending.epoch == epoch, pending.batch == batch {
            pending.done.wait()
            result = lock.withLock {
                defer { made = nil }
                return made!
            }
            self.pending = nil
        } else {
            finish()
            result = make(epoch, batch)
        }
        if prefetch, let next {
            let done = DispatchSemaphore(value: 0)
            pending = (next.0, next.1, done)
            DispatchQueue.global().async { [self] in
                let batch = make(next.0, next.1)
                lock.withLock { made = batch }
                done.signal()
            }
        }
        return result
    }

    /// Waits for a batch still being made (after the last epoch, or an early stop).
    func finish() {
        pending?.done.wait()
        pending = nil
        lock.withLock { made = nil }
    }
}
