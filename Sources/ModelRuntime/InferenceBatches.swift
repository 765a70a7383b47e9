/// How many images a trained classifier is shown at once when it scores many (an evaluation
/// folder; the lesion network has its own `LesionInference.planesPerBatch`); the images of one
/// batch run on all cores. 16 is training's default batch
/// size (`TrainingOptions.batchSize`): enough images to keep the cores busy, few enough that a
/// batch's inputs and activations stay small.
public enum InferenceBatches {
    public static let size = 16

    /// The consecutive ranges of `size` items (the last may be shorter) that cover 0..<count.
    public static func ranges(_ count: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: size).map { $0..<min(count, $0 + size) }
    }
}
