import AppSupport
import Foundation
import ModelStore
import NeuralEngine

/// Developer tools for model files: make an untrained one, run one on raw float32 input
/// (what the ONNX Runtime comparison in benchmarks/ drives), describe one.
public enum ModelTools {
    /// Writes an untrained fully convolutional model (seeded) for `classes` classes.
    public static func initialize(
        to path: String, classes: [String], size: Int, channels: Int, width: Int, seed: UInt64
    ) throws(LungCTError) {
        do {
            let layers = Architecture.fullyConvolutional(inputChannels: channels, classes: classes.count, width: width)
            let network = try Architecture.build(layers, seed: seed)
            let description = ModelDescription(
                layers: layers,
                input: ModelInput(
                    width: size, height: size, channels: channels, normalization: ModelInputPreparation.normalization),
                classes: classes,
                card: ModelCard(
                    name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, task: "untrained",
                    intendedUse: "benchmarks and tests only; untrained; not for clinical use", trainingData: "none",
                    dataTerms: "none", createdBy: "lungct \(LungCTVersion.string) model init, seed \(seed)"))
            try ModelFile.save(network, description: description, to: path)
        } catch let error as ModelError {
            throw .outputFailed(error.description)
        } catch {
            throw .internalFailure("cannot build the network lungct model init describes: \(error)")
        }
    }

    /// A model file and its description, checked against `manifest` when one is given; a file
    /// that cannot be used is `.modelInvalid`.
    public static func load(
        _ path: String, manifest: String?
    ) throws(LungCTError) -> (network: Sequential, description: ModelDescription) {
        do {
            return try ModelFile.load(path, manifest: manifest)
        } catch {
            throw .modelInvalid(error.description)
        }
    }

    /// Timing of `run`.
    public struct RunResult: Codable, Sendable {
        public var batch: Int
        public var outputShape: [Int]
        public var repeats: Int
        /// Median seconds per forward pass of the whole batch.
        public var medianSeconds: Double
        public var minimumSeconds: Double
    }

    /// Runs the model (inference mode, batch norms folded into the convolutions) on `input` (raw little-endian float32, N×C×H×W with
    /// the model's C, H, W) and writes the logits as raw float32 to `output`.
    /// With `warmupSeconds` above 0, untimed passes come first, at least one and until that long
    /// has passed (as a benchmark warms its peer up).
    public static func run(
        model: String, manifest: String?, input: String, batch: Int, output: String?, repeats: Int,
        warmupSeconds: Double = 0
    ) throws(LungCTError) -> RunResult {
        let (network, description) = try load(model, manifest: manifest)
        guard let data = FileManager.default.contents(atPath: input) else {
            throw .inputFailed("\(input): cannot read")
        }
        let spec = description.input
        let count = batch * spec.channels * spec.height * spec.width
        guard data.count == count * 4 else {
            throw .inputFailed(
                "\(input): holds \(data.count) bytes; batch \(batch) × \(spec.channels)×\(spec.height)×\(spec.width) float32 needs \(count * 4)"
            )
        }
        let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let tensor = Tensor(shape: [batch, spec.channels, spec.height, spec.width], storage: values)
        let inference = network.foldedForInference()
        if warmupSeconds > 0 {
            let end = DispatchTime.now().uptimeNanoseconds + UInt64(min(warmupSeconds, 3600) * 1e9)
            repeat { _ = inference.infer(tensor) } while DispatchTime.now().uptimeNanoseconds < end
        }
        var times: [Double] = []
        var logits = Tensor(zeros: [0])
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            logits = inference.infer(tensor)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        if let output {
            let bytes = logits.storage.withUnsafeBytes { Data($0) }
            do { try bytes.write(to: URL(fileURLWithPath: output)) } catch {
                throw .outputFailed("\(output): \(error.localizedDescription)")
            }
        }
        let sorted = times.sorted()
        return RunResult(
            batch: batch, outputShape: logits.shape, repeats: times.count, medianSeconds: sorted[sorted.count / 2],
            minimumSeconds: sorted[0])
    }
}
