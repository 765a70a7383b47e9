import AppSupport
import Foundation
import ImageCodecs
import ModelEvaluation
import NeuralEngine
import TestSupport
import Testing
import Training

/// A two-class image folder made here: gray noise, and gray noise with a bright disk
/// ("lesion"), 32×32 PNGs, with some images split into NAME%k figure parts.
func syntheticFolder(perClass: Int, seed: UInt64) throws -> String {
    let root = try temporaryDirectory() + "/data"
    var rng = SeededGenerator(seed: seed)
    for (label, name) in ["covid", "noncovid"].enumerated() {
        try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
        for index in 0..<perClass {
            var pixels = (0..<(32 * 32)).map { _ in UInt8(60 + rng.uniform() * 60) }
            if label == 0 {
                let cx = 8 + Int(rng.uniform() * 16)
                let cy = 8 + Int(rng.uniform() * 16)
                for y in 0..<32 {
                    for x in 0..<32 where (x - cx) * (x - cx) + (y - cy) * (y - cy) <= 20 { pixels[y * 32 + x] = 250 }
                }
            }
            let file = index % 5 == 0 ? "fig\(index / 5)%\(index % 2).png" : "img\(index).png"
            try PNGWriter.write(path: "\(root)/\(name)/\(file)", width: 32, height: 32, channels: 1, pixels: pixels)
        }
    }
    return root
}

@Test func trainThenEvaluateEndToEnd() throws {
    let data = try syntheticFolder(perClass: 40, seed: 5)
    let weights = try temporaryDirectory()
    var job = TrainJob(task: .ct, data: data, output: weights + "/synthetic.h5")
    job.folds = 4
    job.size = 32
    job.width = 4
    job.options.epochs = 12
    job.options.learningRate = 5e-3
    let report = try ModelTraining.train(job)
    #expect(report.folds.count == 4)
    #expect(report.classes == ["covid", "noncovid"])
    let aucs = report.folds.compactMap(\.auc)
    #expect(aucs.count == 4 && aucs.allSatisfy { $0 >= 0.95 }, "fold AUCs \(aucs)")
    #expect(report.trainingImagesPerSecond > 0)
    // Manifest, report and curves beside the model.
    let manifest = try String(contentsOfFile: weights + "/MANIFEST", encoding: .utf8)
    #expect(manifest.contains("\(report.sha256)  synthetic.h5"))
    #expect(FileManager.default.fileExists(atPath: weights + "/synthetic.report.json"))
    #expect(FileManager.default.fileExists(atPath: weights + "/synthetic.curves.png"))
    // Every image's out-of-fold prediction, its class probabilities summing to 1.
    let outOfFold = try PredictionsCSV.read(path: weights + "/synthetic.out-of-fold.csv")
    #expect(outOfFold.rows.count == 80 && outOfFold.classes == ["covid", "noncovid"])
    #expect(outOfFold.rows.allSatisfy { abs($0.probabilities.reduce(0, +) - 1) < 1e-4 })

    // Evaluate on fresh images of the same kind.
    let fresh = try syntheticFolder(perClass: 30, seed: 99)
    let csv = weights + "/predictions.csv"
    let maps = weights + "/maps"
    let evaluation = try ModelEvaluationRun.evaluate(
        model: weights + "/synthetic.h5", manifest: weights + "/MANIFEST", data: fresh, predictions: csv, maps: maps)
    #expect(evaluation.images == 60)
    #expect((evaluation.accuracy ?? 0) >= 0.9, "accuracy \(String(describing: evaluation.accuracy))")
    #expect(((evaluation.auc["covid"] ?? nil) ?? 0) >= 0.95)
    let table = try PredictionsCSV.read(path: csv)
    #expect(table.classes == ["covid", "noncovid"] && table.rows.count == 60)
    #expect(try FileManager.default.contentsOfDirectory(atPath: maps).count == 60)

    // A changed model file is refused as an invalid model (exit code 4).
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: weights + "/synthetic.h5"))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data([0]))
    try handle.close()
    #expect {
        try ModelEvaluationRun.evaluate(
            model: weights + "/synthetic.h5", manifest: weights + "/MANIFEST", data: fresh, predictions: nil, maps: nil)
    } throws: { ($0 as? LungCTError)?.category == .modelInvalid }
}

@Test func progressPrintsEpochLinesInLogsAndAnETA() {
    let plain = TrainingProgress(totalBatches: 10, batchSize: 4, interactive: false)
    #expect(plain.batch(stage: "fold 1/3", epoch: 1, batch: 1, batches: 2, loss: 0.5) == nil)
    let line = plain.batch(stage: "fold 1/3", epoch: 1, batch: 2, batches: 2, loss: 0.25) ?? ""
    #expect(line.contains("fold 1/3 epoch 1") && line.contains("loss 0.2500") && line.contains("ETA"))
    let terminal = TrainingProgress(totalBatches: 10, batchSize: 4, interactive: true)
    #expect(terminal.batch(stage: "final", epoch: 2, batch: 1, batches: 5, loss: 1)?.hasPrefix("\r") == true)
}

@Test func augmentationIsSeededAndKeepsTheRange() {
    let size = 16
    let image = (0..<(size * size)).map { Float($0 % size) / Float(size - 1) }
    var a = image
    var b = image
    var rngA = SeededGenerator(seed: 4)
    var rngB = SeededGenerator(seed: 4)
    Augmentation.apply(&a, size: size, rng: &rngA)
    Augmentation.apply(&b, size: size, rng: &rngB)
    #expect(a == b)
    #expect(a != image)
    #expect(a.allSatisfy { $0 >= 0 && $0 <= 1 })
    var c = image
    var rngC = SeededGenerator(seed: 5)
    Augmentation.apply(&c, size: size, rng: &rngC)
    #expect(c != a)
}
