import AppSupport
import Foundation
import ImageCodecs
import ModelEvaluation
import ModelRuntime
import ModelStore
import NeuralEngine
import Radiograph
import StudyInput

/// What `lungct evaluate` reports.
public struct EvaluationReport: Codable, Sendable {
    public var model: String
    public var data: String
    public var images: Int
    public var confusion: ConfusionMatrix
    public var accuracy: Double?
    /// Per class: one-vs-rest ROC AUC (for two classes, both equal the binary AUC).
    public var auc: [String: Double?]
    public var sensitivity: [String: Double?]
    public var specificity: [String: Double?]
    public var expectedCalibrationError: Double?
    public var skipped: [FileNote]
    /// Class folders that are absent: what they would have measured is not reported.
    public var missingClasses: [String] = []
    /// What the numbers cannot say (an absent class folder, a class without images).
    public var notes: [String] = []
    /// With more than one source (sub-folders under the class folders): the same figures per source.
    public var bySource: [SourceBreakdown]?

    /// One source's share of the evaluation.
    public struct SourceBreakdown: Codable, Sendable {
        /// The sub-folder name ("" for images directly in a class folder).
        public var source: String
        public var images: Int
        /// Images per true class.
        public var imagesPerClass: [String: Int]
        public var accuracy: Double?
        public var sensitivity: [String: Double?]
        public var specificity: [String: Double?]
    }
}

public enum ModelEvaluationRun {
    /// Scores every image under `data` (one subfolder per class, named as the model's
    /// classes) with the model, applying its calibration temperature; optionally writes the
    /// per-file predictions CSV and class-activation overlays.
    public static func evaluate(
        model: String, manifest: String?, data: String, predictions: String?, maps: String?
    ) throws(LungCTError) -> EvaluationReport {
        let (network, description) = try ModelTools.load(model, manifest: manifest)
        try AnalysisModels.checkApplicable(description, path: model)
        // A model that sees lung-field crops needs the shipped lung-field network.
        let lungFields =
            description.input.normalization == LungFieldInput.normalization
            ? try AnalysisModels.shipped([.lungFields]).lungFields : nil
        let input = try RadiographInput.forModel(
            normalization: description.input.normalization, lungFields: lungFields, path: model)
        let folder = try ImageFolder.load(
            data, size: description.input.width, classes: description.classes, allowMissingClasses: true,
            input: input)
        let inference = network.foldedForInference()
        let images = folder.images
        let logits = imageLogits(inference, images: images)
        let temperature = description.temperature ?? 1
        let probabilities = logits.map { Calibration.softmax($0.map { $0 / temperature }) }
        let classes = description.classes
        let truth = images.labels
        let confusion = ConfusionMatrix(classes: classes, truth: truth, probabilities: probabilities)
        let perClass = PerClassMetrics(
            classes: classes, confusion: confusion, probabilities: probabilities, truth: truth)
        if let predictions {
            try writePredictions(folder, probabilities: probabilities, classes: classes, to: predictions)
        }
        if let maps {
            try writeMaps(inference, folder: folder, probabilities: probabilities, classes: classes, to: maps)
        }
        var report = EvaluationReport(
            model: model, data: data, images: images.count, confusion: confusion, accuracy: confusion.accuracy,
            auc: perClass.auc, sensitivity: perClass.sensitivity, specificity: perClass.specificity,
            expectedCalibrationError: Calibration.expectedCalibrationError(probabilities: probabilities, truth: truth),
            skipped: folder.skipped)
        report.missingClasses = folder.missingClasses
        report.notes = coverageNotes(classes: classes, truth: truth, missing: folder.missingClasses)
        report.bySource = bySource(folder.sources, classes: classes, truth: truth, probabilities: probabilities)
        return report
    }

    /// What the evaluation cannot measure: per absent class folder, or class without images,
    /// its sensitivity (no positives) and the other classes' specificity against it.
    static func coverageNotes(classes: [String], truth: [Int], missing: [String]) -> [String] {
        var notes: [String] = []
        for (c, name) in classes.enumerated() where !truth.contains(c) {
            let why = missing.contains(name) ? "the class folder \(name)/ is absent" : "\(name)/ holds no usable image"
            notes.append(
                "\(why): no sensitivity for \(name), no specificity of the other classes against it, no AUC for it")
        }
        return notes
    }

    /// The figures of each source's images (`breakdown`), sources in name order; nil when all
    /// images come from one source.
    static func bySource(_ sources: [String], classes: [String], truth: [Int], probabilities: [[Double]])
        -> [EvaluationReport.SourceBreakdown]?
    {
        let names = Set(sources)
        guard names.count > 1 else { return nil }
        return names.sorted().map { source in
            let rows = sources.indices.filter { sources[$0] == source }
            return breakdown(
                source, classes: classes, truth: rows.map { truth[$0] }, probabilities: rows.map { probabilities[$0] })
        }
    }

    /// The confusion-based figures of one source's images.
    static func breakdown(_ source: String, classes: [String], truth: [Int], probabilities: [[Double]])
        -> EvaluationReport.SourceBreakdown
    {
        let confusion = ConfusionMatrix(classes: classes, truth: truth, probabilities: probabilities)
        var perClass: [String: Int] = [:]
        var sensitivity: [String: Double?] = [:]
        var specificity: [String: Double?] = [:]
        for (c, name) in classes.enumerated() {
            perClass[name] = truth.filter { $0 == c }.count
            sensitivity[name] = confusion.sensitivity(of: c)
            specificity[name] = confusion.specificity(of: c)
        }
        return .init(
            source: source, images: truth.count, imagesPerClass: perClass, accuracy: confusion.accuracy,
            sensitivity: sensitivity, specificity: specificity)
    }

    /// Every image's logits, inferred `InferenceBatches.size` images at a time.
    static func imageLogits(_ network: Sequential, images: LabeledImages) -> [[Double]] {
        var logits: [[Double]] = []
        for batch in InferenceBatches.ranges(images.count) {
            let input = Tensor(
                shape: [batch.count, 1, images.height, images.width],
                storage: Array(
                    images.pixels[(batch.lowerBound * images.imageSize)..<(batch.upperBound * images.imageSize)]))
            let output = network.infer(input)
            let k = output.shape[1]
            for row in 0..<batch.count { logits.append((0..<k).map { Double(output.storage[row * k + $0]) }) }
        }
        return logits
    }

    /// The per-file predictions CSV: each image's path, true class and class probabilities.
    static func writePredictions(
        _ folder: ImageFolder, probabilities: [[Double]], classes: [String], to path: String
    ) throws(LungCTError) {
        let truth = folder.images.labels
        let table = PredictionTable(
            classes: classes,
            rows: folder.paths.indices.map {
                PredictionRow(path: folder.paths[$0], label: classes[truth[$0]], probabilities: probabilities[$0])
            })
        do { try PredictionsCSV.write(table, to: path) } catch { throw .outputFailed("\(error)") }
    }

    /// One PNG per image, named <true class>-<file>-<predicted class>.png: the image with the
    /// class-activation map (per-location probability) of its predicted class over it.
    static func writeMaps(
        _ network: Sequential, folder: ImageFolder, probabilities: [[Double]], classes: [String], to output: String
    ) throws(LungCTError) {
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
            throw .outputFailed("\(output): \(error.localizedDescription)")
        }
        let images = folder.images
        let size = images.width
        for index in 0..<images.count {
            let pixels = Array(images.pixels[(index * images.imageSize)..<((index + 1) * images.imageSize)])
            guard let maps = network.probabilityMaps(Tensor(shape: [1, 1, size, size], storage: pixels)) else { return }
            let predicted =
                probabilities[index].indices.max { probabilities[index][$0] < probabilities[index][$1] } ?? 0
            let (h, w) = (maps.shape[2], maps.shape[3])
            // Upsample the class's map (nearest cell) onto the image grid.
            var heat = [Float](repeating: 0, count: size * size)
            for y in 0..<size {
                for x in 0..<size {
                    heat[y * size + x] = maps.storage[(predicted * h + y * h / size) * w + x * w / size]
                }
            }
            let rgb = overlay(heat, on: pixels)
            let name = URL(fileURLWithPath: folder.paths[index]).deletingPathExtension().lastPathComponent
            try AtomicFile.write(to: output + "/\(classes[images.labels[index]])-\(name)-\(classes[predicted]).png") {
                partial in
                try PNGWriter.write(path: partial, width: size, height: size, channels: 3, pixels: rgb)
            }
        }
    }

    /// Where the map starts to show: locations below this probability leave the image as it is.
    static let overlayThreshold = 0.5
    /// The map's opacity where the probability is 1.
    static let overlayOpacity = 0.6

    /// The gray image (0...1) in RGB with the map over it: transparent below
    /// `overlayThreshold`, then from yellow to red, up to `overlayOpacity`.
    static func overlay(_ heat: [Float], on pixels: [Float]) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: pixels.count * 3)
        for p in pixels.indices {
            let gray = Double(max(0, min(1, pixels[p]))) * 255
            let alpha = Double(max(0, min(1, (heat[p] - Float(overlayThreshold)) / Float(1 - overlayThreshold))))
            let colour = (255.0, 255.0 * (1 - alpha), 0.0)
            let weight = alpha * overlayOpacity
            rgb[p * 3] = UInt8((1 - weight) * gray + weight * colour.0)
            rgb[p * 3 + 1] = UInt8((1 - weight) * gray + weight * colour.1)
            rgb[p * 3 + 2] = UInt8((1 - weight) * gray + weight * colour.2)
        }
        return rgb
    }
}

/// Each class's one-vs-rest AUC, sensitivity and specificity, by class name.
struct PerClassMetrics {
    var auc: [String: Double?] = [:]
    var sensitivity: [String: Double?] = [:]
    var specificity: [String: Double?] = [:]

    init(classes: [String], confusion: ConfusionMatrix, probabilities: [[Double]], truth: [Int]) {
        for (c, name) in classes.enumerated() {
            auc[name] = ROC.auc(scores: probabilities.map { $0[c] }, positives: truth.map { $0 == c })
            sensitivity[name] = confusion.sensitivity(of: c)
            specificity[name] = confusion.specificity(of: c)
        }
    }
}
