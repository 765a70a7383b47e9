import Foundation

/// Images ready for a network: N×C×H×W float32 and one class label each.
public struct LabeledImages: Sendable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var pixels: [Float]
    public var labels: [Int]

    public init(channels: Int, height: Int, width: Int, pixels: [Float], labels: [Int]) {
        precondition(pixels.count == labels.count * channels * height * width, "pixels do not match labels × C×H×W")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
    }

    public var count: Int { labels.count }
    public var imageSize: Int { channels * height * width }

    func image(_ index: Int) -> ArraySlice<Float> { pixels[(index * imageSize)..<((index + 1) * imageSize)] }
}

/// How to train.
public struct TrainingOptions: Sendable, Codable {
    public var epochs = 30
    public var batchSize = 16
    public var learningRate: Float = 2e-3
    public var weightDecay: Float = 1e-4
    public var seed: UInt64 = 1
    /// Stop when the validation loss has not improved for this many epochs; the best
    /// epoch's weights are kept.
    public var patience = 8
    /// Weight each class by the inverse of its frequency in the training set.
    public var classWeighting = true
    public init() {}
}

/// One epoch of training, as reported and stored in the training report.
public struct EpochRecord: Sendable, Codable {
    public var epoch: Int
    public var trainLoss: Float
    public var validationLoss: Float?
    public var validationAccuracy: Float?
    /// The caller's validation score (e.g. ROC AUC), when early stopping follows it.
    public var validationScore: Float?
    public var learningRate: Float
    public var seconds: Double
    /// Segmentation: the validation Dice of each class the loss's Dice term follows
    /// (`validationScore` is their mean).
    public var validationDice: [Float]? = nil
}

public struct TrainingResult: Sendable {
    public var history: [EpochRecord]
    /// The epoch whose weights the network holds after `fit` (best validation loss, or last).
    public var bestEpoch: Int
}

public enum Trainer {
    /// Trains `network` on `trainIndices` of `data` with AdamW, a cosine learning-rate schedule,
    /// optional class weighting, `augment` applied to each training image (with a generator
    /// seeded from `options.seed`), early stopping on the validation loss, and keeps the best
    /// epoch's weights. `validationScore` (higher is better, from the validation images'
    /// probabilities and labels), when given, replaces the validation loss as what early
    /// stopping and the best epoch follow. `progress` is called after every batch (epoch,
    /// batch, batches, loss).
    public static func fit(
        _ network: Sequential, data: LabeledImages, trainIndices: [Int], validationIndices: [Int],
        options: TrainingOptions, classes: Int,
        augment: ((inout [Float], inout SeededGenerator) -> Void)? = nil,
        validationScore: (([[Float]], [Int]) -> Float)? = nil,
        progress: ((Int, Int, Int, Float) -> Void)? = nil
    ) -> TrainingResult {
        var rng = SeededGenerator(seed: options.seed)
        let optimizer = AdamW(learningRate: options.learningRate, weightDecay: options.weightDecay)
        var counts = [Int](repeating: 0, count: classes)
        for index in trainIndices { counts[data.labels[index]] += 1 }
        let weights: [Float]? =
            options.classWeighting
            ? counts.map { $0 == 0 ? 0 : Float(trainIndices.count) / Float(classes * $0) } : nil
        var history: [EpochRecord] = []
        var stopping = EarlyStopping(patience: options.patience)
        var order = trainIndices
        let batches = max(1, (trainIndices.count + options.batchSize - 1) / options.batchSize)
        for epoch in 1...max(1, options.epochs) {
            let start = Date()
            optimizer.learningRate = cosineRate(options.learningRate, epoch: epoch, epochs: options.epochs)
            rng.shuffle(&order)
            var lossSum: Float = 0
            for batch in 0..<batches {
                let members = Array(
                    order[(batch * options.batchSize)..<min(order.count, (batch + 1) * options.batchSize)])
                guard !members.isEmpty else { continue }
                var pixels: [Float] = []
                pixels.reserveCapacity(members.count * data.imageSize)
                for index in members {
                    var image = Array(data.image(index))
                    augment?(&image, &rng)
                    pixels += image
                }
                let input = Tensor(shape: [members.count, data.channels, data.height, data.width], storage: pixels)
                network.zeroGradients()
                let logits = network.forward(input, training: true)
                let (loss, gradient) = Loss.softmaxCrossEntropy(
                    logits: logits, labels: members.map { data.labels[$0] }, classWeights: weights)
                network.backward(gradient)
                optimizer.update(network.parameters)
                lossSum += loss
                progress?(epoch, batch + 1, batches, loss)
            }
            var record = EpochRecord(
                epoch: epoch, trainLoss: lossSum / Float(batches), validationLoss: nil, validationAccuracy: nil,
                validationScore: nil, learningRate: optimizer.learningRate, seconds: 0)
            if !validationIndices.isEmpty {
                let probabilities = predict(
                    network, data: data, indices: validationIndices, batchSize: options.batchSize)
                var loss: Double = 0
                var correct = 0
                for (row, index) in validationIndices.enumerated() {
                    let label = data.labels[index]
                    loss -= log(Double(max(probabilities[row][label], 1e-12)))
                    if probabilities[row].indices.max(by: { probabilities[row][$0] < probabilities[row][$1] }) == label
                    {
                        correct += 1
                    }
                }
                record.validationLoss = Float(loss / Double(validationIndices.count))
                record.validationAccuracy = Float(correct) / Float(validationIndices.count)
                record.validationScore = validationScore?(probabilities, validationIndices.map { data.labels[$0] })
            }
            record.seconds = Date().timeIntervalSince(start)
            history.append(record)
            if stopping.shouldStop(after: record, network: network) { break }
        }
        return stopping.finish(network, history: history)
    }

    /// Class probabilities (softmax of the logits) for `indices`, in batches, at inference.
    public static func predict(_ network: Sequential, data: LabeledImages, indices: [Int], batchSize: Int) -> [[Float]]
    {
        var result: [[Float]] = []
        result.reserveCapacity(indices.count)
        var start = 0
        while start < indices.count {
            let members = Array(indices[start..<min(indices.count, start + batchSize)])
            var pixels: [Float] = []
            for index in members { pixels += data.image(index) }
            let logits = network.infer(
                Tensor(shape: [members.count, data.channels, data.height, data.width], storage: pixels))
            let classes = logits.shape[1]
            for row in 0..<members.count {
                result.append(Activation.softmax(Array(logits.storage[(row * classes)..<((row + 1) * classes)])))
            }
            start += batchSize
        }
        return result
    }

    /// Cosine annealing from the base rate at the first epoch to 5 % of it at the last
    /// (Loshchilov & Hutter, SGDR 2017).
    static func cosineRate(_ base: Float, epoch: Int, epochs: Int) -> Float {
        let progressFraction = Float(epoch - 1) / Float(max(1, epochs - 1))
        return base * (0.05 + 0.95 * 0.5 * (1 + cos(.pi * progressFraction)))
    }

    static func snapshot(_ network: Sequential) -> [[Float]] {
        network.layers.flatMap { $0.parameters + $0.buffers }.map(\.value.storage)
    }

    static func restore(_ network: Sequential, _ values: [[Float]]) {
        for (parameter, stored) in zip(network.layers.flatMap { $0.parameters + $0.buffers }, values) {
            parameter.value.storage = stored
        }
    }
}

/// Early stopping shared by the trainers: the best epoch so far and its weights, by the
/// validation score (higher is better), else the validation loss, else the training loss.
struct EarlyStopping {
    let patience: Int
    private var best: (monitored: Float, epoch: Int, values: [[Float]])?

    init(patience: Int) { self.patience = patience }

    /// Records an epoch (snapshotting the network when it is the best so far); true when
    /// `patience` epochs have passed without a better one.
    mutating func shouldStop(after record: EpochRecord, network: Sequential) -> Bool {
        // Lower is better: the negated score, or a loss.
        let monitored = record.validationScore.map { -$0 } ?? record.validationLoss ?? record.trainLoss
        if best == nil || monitored < best!.monitored {
            best = (monitored, record.epoch, Trainer.snapshot(network))
            return false
        }
        return record.epoch - best!.epoch >= patience
    }

    /// Puts the best epoch's weights back into `network`.
    func finish(_ network: Sequential, history: [EpochRecord]) -> TrainingResult {
        if let best { Trainer.restore(network, best.values) }
        return TrainingResult(history: history, bestEpoch: best?.epoch ?? history.count)
    }
}
