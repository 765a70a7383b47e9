import Testing

@testable import StudyInput

/// `info --stats`'s int16 pass (parts on every core, runs of 65,536 values summed in 32 bits)
/// against a plain 64-bit pass: random values, and runs of the extreme values that would
/// overflow a 32-bit sum if a run were longer than 65,536.
@Test(arguments: [0, 1, 65535, 65536, 65537, 300_001])
func int16StatisticsMatchAPlainPass(count: Int) {
    var generator = SystemRandomNumberGenerator()
    let random = (0..<count).map { _ in Int16(truncatingIfNeeded: generator.next() as UInt64) }
    for voxels in [random, [Int16](repeating: .min, count: count), [Int16](repeating: .max, count: count)] {
        let (low, high, sum) = VolumeStatistics.int16Range(voxels)
        #expect(low == voxels.min() ?? .max)
        #expect(high == voxels.max() ?? .min)
        #expect(sum == voxels.reduce(0) { $0 + Int($1) })
    }
}
