import AppSupport
import Foundation
import ImageCodecs
import ModelRuntime
import ModelStore
import NeuralEngine
import Radiograph
import SeededRandom
import TestSupport
import Testing
import Training

/// A synthetic frontal radiograph made here, 80×72: a bright body, two dark lung fields (the one
/// on the image's left a little larger, as a right lung is), noise; and its both-lungs mask.
func syntheticRadiograph(seed: UInt64) -> (pixels: [UInt8], mask: [UInt8]) {
    var rng = SplitMix64(seed: seed)
    let (width, height) = (80, 72)
    var pixels = [UInt8](repeating: 30, count: width * height)
    var mask = [UInt8](repeating: 0, count: width * height)
    let shift = Double(rng.uniform() - 0.5) * 6
    let fields = [(22.0 + shift, 36.0, 13.0, 25.0), (57.0 + shift, 38.0, 12.0, 23.0)]
    for y in 0..<height {
        for x in 0..<width {
            let body = abs(Double(x) - 40 - shift) < 36 && y > 4
            var value = body ? 190.0 : 30.0
            for (cx, cy, rx, ry) in fields {
                let (dx, dy) = ((Double(x) - cx) / rx, (Double(y) - cy) / ry)
                if dx * dx + dy * dy <= 1 {
                    value = 70
                    mask[y * width + x] = 255
                }
            }
            pixels[y * width + x] = UInt8(max(0, min(255, value + Double(rng.normal()) * 8)))
        }
    }
    return (pixels, mask)
}

/// DATA/images and DATA/masks with `count` synthetic pairs per source.
func syntheticLungFieldFolder(sources: [String], count: Int) throws -> String {
    let root = try temporaryDirectory() + "/lung-masks"
    for sub in ["images", "masks"] {
        try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
    }
    for (s, source) in sources.enumerated() {
        for index in 1...count {
            let (pixels, mask) = syntheticRadiograph(seed: UInt64(100 * s + index))
            let name = "\(source)-\(index).png"
            try PNGWriter.write(path: root + "/images/" + name, width: 80, height: 72, channels: 1, pixels: pixels)
            try PNGWriter.write(path: root + "/masks/" + name, width: 80, height: 72, channels: 1, pixels: mask)
        }
    }
    return root
}

@Test func sourcesComeFromFileNames() {
    #expect(LungFieldPair.source(of: "CHNCXR_0001_0") == "CHNCXR")
    #expect(LungFieldPair.source(of: "jsrt-like-3") == "jsrt-like")
    #expect(LungFieldPair.source(of: "plain") == "plain")
}

@Test func lungFieldNetworkTrainsMeasuresAndFindsBothSides() throws {
    let data = try syntheticLungFieldFolder(sources: ["alpha", "beta"], count: 2)
    let weights = try temporaryDirectory()
    var job = LungFieldTrainJob(data: data, output: weights + "/fields.h5")
    job.leaveOneOut = true
    job.options.size = 32
    job.options.width = 4
    job.options.depth = 2
    job.options.batchSize = 4
    job.options.training.epochs = 6
    job.options.training.batchesPerEpoch = 10
    job.options.training.learningRate = 5e-3
    let report = try LungFieldTraining.train(job)
    #expect(report.leaveOneOut?.count == 4)
    #expect(Set(report.summary?.keys.map { $0 } ?? []) == ["all", "alpha", "beta"])
    #expect((report.summary?["all"]?.mean ?? 0) >= 0.8, "leave-one-out Dice \(String(describing: report.summary))")

    // The model written, listed in the MANIFEST, loads as a lung-field model and finds the
    // patient's right lung field (label 1) on the image's left of a new radiograph.
    let model = try AnalysisModels.load(weights + "/fields.h5", requireManifest: true)
    #expect(model.kind == .lungFields)
    let (pixels, mask) = syntheticRadiograph(seed: 777)
    try PNGWriter.write(path: weights + "/new.png", width: 80, height: 72, channels: 1, pixels: pixels)
    let picture = try RadiographLoader.load(path: weights + "/new.png")
    let labels = LungFieldModel.segment(RadiographNormalization.normalize(picture).volume, model: model)
    func meanColumn(_ label: UInt8) -> Double {
        let columns = labels.voxels.indices.filter { labels.voxels[$0] == label }.map { Double($0 % 80) }
        return columns.isEmpty ? -1 : columns.reduce(0, +) / Double(columns.count)
    }
    let (right, left) = (meanColumn(LungFields.rightLung), meanColumn(LungFields.leftLung))
    #expect(right >= 0 && right < 40, "right lung field's mean column \(right)")
    #expect(left > 40, "left lung field's mean column \(left)")
    let dice = LungFields.dice(labels.voxels.map { $0 != 0 }, mask.map { $0 > 127 })
    #expect(dice >= 0.8, "Dice \(dice)")
}
