import Foundation

/// The loss of a segmentation network on [N, K, H, W] logits and a class per pixel:
/// `crossEntropyWeight` · pixel cross-entropy + `diceWeight` · (1 − soft Dice), the usual
/// pairing for small structures such as lesions (the cross-entropy gives every pixel a
/// gradient from the start; the Dice term keeps a small foreground from being outvoted by the
/// background; Isensee et al., nnU-Net, Nature Methods 2021).
///
/// Each pixel's weight (0 leaves it out, e.g. outside the lungs) scales its share in both terms.
///
/// - Cross-entropy: Σᵢ mᵢ·w(yᵢ)·(−log pᵢ,yᵢ) / Σᵢ mᵢ·w(yᵢ), with pixel weights m and class weights w.
/// - Soft Dice, for each class c of `diceClasses` over the whole batch ("batch Dice", so an
///   image without foreground does not make the term jump): Dc = (2·Σ m·p·y + s) / (Σ m·p + Σ m·y + s)
///   with y the one-hot label and s `smoothing`; the term is 1 − the mean Dc.
///
/// The gradient with respect to the logits is exact (through the softmax), not a surrogate.
public struct SegmentationLoss: Sendable, Codable, Hashable {
    public var crossEntropyWeight: Float
    public var diceWeight: Float
    /// Cross-entropy weight of each class (nil: 1 each).
    public var classWeights: [Float]?
    /// The classes whose soft Dice is averaged; nil means every class but 0, the background.
    public var diceClasses: [Int]?
    /// Added to the Dice numerator and denominator: a batch without a class's pixels and
    /// without its predictions scores 1, and the gradient stays finite.
    public var smoothing: Float

    public init(
        crossEntropyWeight: Float = 1, diceWeight: Float = 1, classWeights: [Float]? = nil, diceClasses: [Int]? = nil,
        smoothing: Float = 1
    ) {
        self.crossEntropyWeight = crossEntropyWeight
        self.diceWeight = diceWeight
        self.classWeights = classWeights
        self.diceClasses = diceClasses
        self.smoothing = smoothing
    }

    /// The loss and ∂loss/∂logits for [N, K, H, W] `logits`, `labels` (N·H·W classes, each
    /// below K) and optional `pixelWeights` (N·H·W, not negative; nil weighs every pixel 1).
    /// Labels or weights that do not fit the logits are programmer errors and trap.
    public func callAsFunction(logits: Tensor, labels: [UInt8], pixelWeights: [Float]? = nil) -> (Float, Tensor) {
        let pixels = PixelSet(logits: logits, labels: labels, weights: pixelWeights)
        let probabilities = Activation.pixelSoftmax(logits)
        var gradient = Tensor(zeros: logits.shape)
        var loss: Float = 0
        if crossEntropyWeight != 0 {
            loss +=
                crossEntropyWeight
                * pixels.crossEntropy(
                    logits: logits, probabilities: probabilities, classWeights: classWeights,
                    scale: crossEntropyWeight, gradient: &gradient)
        }
        if diceWeight != 0 {
            let classes = diceClasses ?? Array(1..<max(1, pixels.classes))
            loss +=
                diceWeight
                * pixels.diceLoss(
                    probabilities: probabilities, classes: classes, smoothing: smoothing, scale: diceWeight,
                    gradient: &gradient)
        }
        return (loss, gradient)
    }
}

extension Loss {
    /// Softmax cross-entropy at every pixel of [N, K, H, W] logits (`SegmentationLoss` with
    /// only its cross-entropy term): the weighted mean loss and ∂loss/∂logits.
    public static func pixelCrossEntropy(
        logits: Tensor, labels: [UInt8], pixelWeights: [Float]? = nil, classWeights: [Float]? = nil
    ) -> (Float, Tensor) {
        SegmentationLoss(crossEntropyWeight: 1, diceWeight: 0, classWeights: classWeights)(
            logits: logits, labels: labels, pixelWeights: pixelWeights)
    }

    /// 1 − the mean soft Dice of `classes` (nil: all but 0) over the batch (`SegmentationLoss`
    /// with only its Dice term), and ∂loss/∂logits.
    public static func softDice(
        logits: Tensor, labels: [UInt8], pixelWeights: [Float]? = nil, classes: [Int]? = nil, smoothing: Float = 1
    ) -> (Float, Tensor) {
        SegmentationLoss(crossEntropyWeight: 0, diceWeight: 1, diceClasses: classes, smoothing: smoothing)(
            logits: logits, labels: labels, pixelWeights: pixelWeights)
    }
}

/// The pixels of one loss evaluation: sizes, labels and weights, checked against the logits.
private struct PixelSet {
    let images, classes, plane: Int
    let labels: [UInt8]
    let weights: [Float]?

    init(logits: Tensor, labels: [UInt8], weights: [Float]?) {
        precondition(logits.shape.count == 4, "segmentation loss: logits must be [N, K, H, W], got \(logits.shape)")
        (images, classes, plane) = (logits.shape[0], logits.shape[1], logits.shape[2] * logits.shape[3])
        precondition(labels.count == images * plane, "segmentation loss: \(labels.count) labels for \(logits.shape)")
        precondition(
            weights == nil || weights!.count == labels.count,
            "segmentation loss: \(weights?.count ?? 0) pixel weights for \(labels.count) labels")
        precondition(
            labels.allSatisfy { Int($0) < logits.shape[1] }, "segmentation loss: a label ≥ \(logits.shape[1]) classes")
        self.labels = labels
        self.weights = weights
    }

    /// Offset of (pixel `index` in N·H·W order, class 0) in NCHW storage; class c is c·plane further.
    func base(_ index: Int) -> Int { (index / plane) * classes * plane + index % plane }

    func crossEntropy(
        logits: Tensor, probabilities: Tensor, classWeights: [Float]?, scale: Float, gradient: inout Tensor
    ) -> Float {
        precondition(
            classWeights == nil || classWeights!.count == classes,
            "segmentation loss: \(classWeights?.count ?? 0) class weights for \(classes) classes")
        func weight(_ index: Int) -> Double {
            Double(weights?[index] ?? 1) * Double(classWeights?[Int(labels[index])] ?? 1)
        }
        let total = labels.indices.reduce(0) { $0 + weight($1) }
        guard total > 0 else { return 0 }
        var loss: Double = 0
        for index in labels.indices {
            let share = weight(index) / total
            guard share != 0 else { continue }
            let (base, label) = (base(index), Int(labels[index]))
            // −log p_label = log Σ exp(z_c − z_label): exact where p_label underflows to 0.
            var sum: Double = 0
            for c in 0..<classes {
                sum += exp(Double(logits.storage[base + c * plane] - logits.storage[base + label * plane]))
            }
            loss += share * log(sum)
            for c in 0..<classes {
                let p = Double(probabilities.storage[base + c * plane])
                gradient.storage[base + c * plane] += scale * Float(share * (p - (c == label ? 1 : 0)))
            }
        }
        return Float(loss)
    }

    func diceLoss(
        probabilities: Tensor, classes diceClasses: [Int], smoothing: Float, scale: Float, gradient: inout Tensor
    ) -> Float {
        guard !diceClasses.isEmpty else { return 0 }
        precondition(diceClasses.allSatisfy { (0..<classes).contains($0) }, "soft Dice: a class outside 0..<\(classes)")
        // Σ m·p·y, Σ m·p and Σ m·y for each Dice class.
        var overlap = [Double](repeating: 0, count: classes)
        var predicted = overlap
        var actual = overlap
        for index in labels.indices {
            let m = Double(weights?[index] ?? 1)
            guard m != 0 else { continue }
            let base = base(index)
            for c in diceClasses {
                let p = Double(probabilities.storage[base + c * plane])
                let y: Double = Int(labels[index]) == c ? 1 : 0
                overlap[c] += m * p * y
                predicted[c] += m * p
                actual[c] += m * y
            }
        }
        // ∂loss/∂p_ic = −m_i·(2·y_ic − D_c) / (|classes|·denominator_c), then through the softmax.
        let s = Double(smoothing)
        var dice = [Double](repeating: 0, count: classes)
        var factor = [Double](repeating: 0, count: classes)
        for c in diceClasses {
            let denominator = predicted[c] + actual[c] + s
            dice[c] = denominator > 0 ? (2 * overlap[c] + s) / denominator : 1
            if denominator > 0 { factor[c] = -1 / (Double(diceClasses.count) * denominator) }
        }
        var g = [Double](repeating: 0, count: classes)
        for index in labels.indices {
            let m = Double(weights?[index] ?? 1)
            guard m != 0 else { continue }
            let base = base(index)
            var dot: Double = 0
            for c in diceClasses {
                g[c] = m * factor[c] * ((Int(labels[index]) == c ? 2 : 0) - dice[c])
                dot += g[c] * Double(probabilities.storage[base + c * plane])
            }
            // ∂loss/∂z_j = p_j·(g_j − Σ_c g_c·p_c); g is 0 outside the Dice classes.
            for j in 0..<classes {
                let p = Double(probabilities.storage[base + j * plane])
                gradient.storage[base + j * plane] += scale * Float(p * (g[j] - dot))
            }
            for c in diceClasses { g[c] = 0 }
        }
        let mean = diceClasses.reduce(0) { $0 + dice[$1] } / Double(diceClasses.count)
        return Float(1 - mean)
    }
}
