import AppSupport
import Dispatch
import Foundation
import VolumeCore

/// Summary numbers of a loaded image, for `lungct info --stats`.
public struct VolumeStatistics: Codable, Sendable {
    public var voxels: Int
    public var minimum: Double
    public var maximum: Double
    public var mean: Double
    /// The voxel type the image was loaded as (int16 or float32).
    public var type: String
    public var loadSeconds: Double

    public init(_ image: LoadedImage, loadSeconds: Double) {
        switch image {
        case .ct(.int16(let v)):
            let (low, high, sum) = Self.int16Range(v.voxels)
            let count = v.voxels.count
            self.init(
                voxels: count, minimum: Double(low), maximum: Double(high),
                mean: count > 0 ? Double(sum) / Double(count) : 0, type: "int16", loadSeconds: loadSeconds)
        case .ct(.float32(let v)):
            self.init(v.voxels.lazy.map(Double.init), count: v.voxels.count, type: "float32", seconds: loadSeconds)
        case .radiograph(let r):
            self.init(
                r.volume.voxels.lazy.map(Double.init), count: r.volume.voxels.count, type: "float32",
                seconds: loadSeconds)
        }
    }

    /// The minimum, maximum and exact sum of int16 voxels: parts on every core, each summed in
    /// runs of 65,536 values in 32-bit lanes (65,536 × 32,768 = 2³¹ bounds a run's sum), twice
    /// as many a vector as 64-bit ones, and with baseline x86-64's 16-bit minimum and maximum.
    static func int16Range(_ voxels: [Int16]) -> (low: Int16, high: Int16, sum: Int) {
        let parts = max(1, min(4 * ProcessInfo.processInfo.activeProcessorCount, voxels.count >> 16))
        let results = Slots(count: parts, initial: (low: Int16.max, high: Int16.min, sum: 0))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let range = (voxels.count * part / parts)..<(voxels.count * (part + 1) / parts)
            var (low, high, sum) = (Int16.max, Int16.min, 0)
            voxels.withUnsafeBufferPointer { buffer in
                for start in stride(from: range.lowerBound, to: range.upperBound, by: 65536) {
                    var run: Int32 = 0
                    for value in buffer[start..<min(start + 65536, range.upperBound)] {
                        low = Swift.min(low, value)
                        high = Swift.max(high, value)
                        run &+= Int32(value)
                    }
                    sum += Int(run)
                }
            }
            results.set(part, (low, high, sum))
        }
        return (0..<parts).map(results.get).reduce((Int16.max, Int16.min, 0)) {
            (Swift.min($0.0, $1.0), Swift.max($0.1, $1.1), $0.2 + $1.2)
        }
    }

    init(voxels: Int, minimum: Double, maximum: Double, mean: Double, type: String, loadSeconds: Double) {
        self.voxels = voxels
        self.minimum = minimum
        self.maximum = maximum
        self.mean = mean
        self.type = type
        self.loadSeconds = loadSeconds
    }

    init<S: Sequence<Double>>(_ values: S, count: Int, type: String, seconds: Double) {
        var low = Double.infinity
        var high = -Double.infinity
        var sum = 0.0
        for value in values {
            low = Swift.min(low, value)
            high = Swift.max(high, value)
            sum += value
        }
        voxels = count
        minimum = low
        maximum = high
        mean = count > 0 ? sum / Double(count) : 0
        self.type = type
        loadSeconds = seconds
    }
}
