import AppSupport
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
            // An integer pass: exact sums, and several times faster than going through Double.
            var low = Int16.max
            var high = Int16.min
            var sum = 0
            v.voxels.withUnsafeBufferPointer { buffer in
                for value in buffer {
                    low = Swift.min(low, value)
                    high = Swift.max(high, value)
                    sum &+= Int(value)
                }
            }
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
