import Foundation
import Testing

@testable import NeuralEngine

/// Bright disks (radius 2 to 4.5 pixels) on noise in three adjacent "slices", each slice's
/// disks a little larger than the one before, as a lesion's cross-sections are; the label is
/// the middle slice's disks. A 1-pixel border is weighted out, as pixels outside the lungs are.
func diskBatch(seed: UInt64, images: Int, side: Int) -> SegmentationBatch {
    var rng = SeededGenerator(seed: seed)
    let plane = side * side
    var pixels = [Float](repeating: 0, count: images * 3 * plane)
    var labels = [UInt8](repeating: 0, count: images * plane)
    var weights = [Float](repeating: 1, count: images * plane)
    for image in 0..<images {
        let disks = (0..<(1 + Int(rng.next() % 2))).map { _ in
            (x: 2 + rng.uniform() * Float(side - 4), y: 2 + rng.uniform() * Float(side - 4), r: 2 + 2.5 * rng.uniform())
        }
        for slice in 0..<3 {
            let grow = 0.4 * Float(slice - 1)
            for y in 0..<side {
                for x in 0..<side {
                    let inside = disks.contains { disk in
                        let (dx, dy) = (Float(x) - disk.x, Float(y) - disk.y)
                        return dx * dx + dy * dy <= (disk.r + grow) * (disk.r + grow)
                    }
                    pixels[(image * 3 + slice) * plane + y * side + x] =
                        inside ? 0.55 + 0.35 * rng.uniform() : 0.45 * rng.uniform()
                    if slice == 1 && inside { labels[image * plane + y * side + x] = 1 }
                    if slice == 1 && (x == 0 || y == 0 || x == side - 1 || y == side - 1) {
                        weights[image * plane + y * side + x] = 0
                    }
                }
            }
        }
    }
    return SegmentationBatch(
        input: Tensor(shape: [images, 3, side, side], storage: pixels), labels: labels, weights: weights)
}

/// A tiny U-Net trained by `trainSegmentation` on fresh batches segments the disks, scored on
/// its validation batch and on new images through the inference helper.
@Test func tinyUNetLearnsToSegmentDisks() throws {
    let network = try Architecture.build(Architecture.unet(inputChannels: 3, classes: 2, width: 4, depth: 2), seed: 1)
    var options = SegmentationTrainingOptions()
    options.epochs = 8
    options.batchesPerEpoch = 8
    options.learningRate = 1e-2
    let result = Trainer.trainSegmentation(
        network, options: options,
        batches: { epoch, batch in diskBatch(seed: UInt64(100 * epoch + batch), images: 8, side: 16) },
        validation: [diskBatch(seed: 9_999, images: 16, side: 16)])
    let best = result.history[result.bestEpoch - 1]
    #expect((best.validationScore ?? 0) >= 0.9, "validation Dice by epoch: \(result.history.map(\.validationScore))")
    #expect(best.validationDice?.count == 1 && best.validationScore == best.validationDice?.first)

    let test = diskBatch(seed: 12_345, images: 16, side: 16)
    var counts = SegmentationCounts(classes: 2)
    counts.add(
        predicted: Activation.classPerPixel(network.foldedForInference().segmentationProbabilities(test.input)),
        labels: test.labels, weights: test.weights)
    #expect(counts.dice(1) >= 0.9, "test Dice \(counts.dice(1))")
}

/// Prefetching changes when batches are made, not which: the same losses and weights, and
/// every batch asked for once, in order.
@Test func segmentationTrainingRepeatsWithAndWithoutPrefetching() throws {
    final class Calls: @unchecked Sendable {
        let lock = NSLock()
        var made: [[Int]] = []
        func add(_ epoch: Int, _ batch: Int) { lock.withLock { made.append([epoch, batch]) } }
    }
    func train(prefetch: Bool) throws -> (TrainingResult, [Float], [[Int]], Int) {
        let network = try Architecture.build(Architecture.unet(inputChannels: 3, width: 2, depth: 1), seed: 4)
        var options = SegmentationTrainingOptions()
        (options.epochs, options.batchesPerEpoch, options.prefetch) = (2, 3, prefetch)
        let calls = Calls()
        var reports = 0
        let result = Trainer.trainSegmentation(
            network, options: options,
            batches: { epoch, batch in
                calls.add(epoch, batch)
                return diskBatch(seed: UInt64(10 * epoch + batch), images: 4, side: 8)
            },
            validation: [diskBatch(seed: 77, images: 4, side: 8)], progress: { _, _, _, _ in reports += 1 })
        return (result, network.parameters.flatMap(\.value.storage), calls.made, reports)
    }
    let (first, weights, calls, reports) = try train(prefetch: true)
    let (second, again, _, _) = try train(prefetch: false)
    #expect(first.history.map(\.trainLoss) == second.history.map(\.trainLoss))
    #expect(first.history.map(\.validationScore) == second.history.map(\.validationScore))
    #expect(weights == again)
    #expect(calls == [[1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 2]])
    #expect(reports == 6)
}

/// Not a check: the cost and speed of `Architecture.unet` at inference (batch norms folded),
/// run only when LUNGCT_UNET_TIMING is set, in a release build:
/// `LUNGCT_UNET_TIMING=1 swift test -c release -Xswiftc -enable-testing --filter unetForwardTiming`.
/// Wall time is the median of the runs; CPU time (all threads) shows how much of the wall time
/// other processes took.
@Test(.enabled(if: ProcessInfo.processInfo.environment["LUNGCT_UNET_TIMING"] != nil, "set LUNGCT_UNET_TIMING"))
func unetForwardTiming() throws {
    print("OpenBLAS kernels: \(GEMM.coreName), \(ProcessInfo.processInfo.activeProcessorCount) cores")
    // 304×352: a lung crop of about 300×350 pixels, padded to multiples of 8.
    for (width, depth, height, side) in [(16, 3, 256, 256), (8, 3, 256, 256), (16, 4, 256, 256), (16, 3, 304, 352)] {
        let specification = Architecture.unet(inputChannels: 3, classes: 2, width: width, depth: depth)
        let network = try Architecture.build(specification, seed: 1).foldedForInference()
        let weights = network.parameters.reduce(0) { $0 + $1.value.count }
        let gflops = 2 * Double(Architecture.multiplyAdds(specification, height: height, width: side)) / 1e9
        for batch in [1, 16] {
            let input = randomTensor([batch, 3, height, side], seed: 2)
            _ = network.infer(input)
            var (times, cpu) = ([Double](), 0.0)
            for _ in 0..<(batch == 1 ? 9 : 3) {
                let (start, startCPU) = (Date(), clock())
                _ = network.infer(input)
                times.append(Date().timeIntervalSince(start))
                cpu += Double(clock() - startCPU) / Double(CLOCKS_PER_SEC)
            }
            let median = times.sorted()[times.count / 2]
            print(
                String(
                    format: "unet width %d depth %d (%d weights) %dx%d, %.2f GFLOP a slice; batch %2d: %.3f s, "
                        + "%.1f ms a slice (%.1f GFLOP/s), CPU %.1f ms a slice",
                    width, depth, weights, height, side, gflops, batch, median, 1000 * median / Double(batch),
                    gflops * Double(batch) / median, 1000 * cpu / Double(times.count * batch)))
        }
    }
}
