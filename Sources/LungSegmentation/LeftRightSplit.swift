import Foundation
import VolumeCore

/// Stage 4 of `LungSegmenter.segment`: which lung air is the right lung and which the left.
extension LungSegmenter {
    /// Labels right (1) and left (2) lung: the two largest components by the side of their
    /// centre, or, when the lungs touch (one component), a split at the sagittal plane where
    /// the lung is thinnest between them.
    static func label(
        lungs: inout [UInt8], geometry g: Geometry, parameters: SegmentationParameters, notes: inout [String]
    ) -> [UInt8] {
        let (nx, ny, nz) = (g.size.x, g.size.y, g.size.z)
        let components = Components3D.find(in: &lungs, size: (nx, ny, nz), value: 1, visited: 2)
        var labels = [UInt8](repeating: 0, count: lungs.count)
        guard let largest = components.first else { return labels }
        var kept = components.prefix(2).filter {
            Double($0.size) >= parameters.minimumLungFraction * Double(largest.size)
        }
        var queue = [Int32]()
        if kept.count == 2 {
            // A lung reaches the upper half of the other lung's height; gas in the stomach or
            // colon under the diaphragm does not.
            let middle = (kept[0].slices.lowerBound + kept[0].slices.upperBound) / 2
            if kept[1].slices.upperBound < middle {
                notes.append("an air region below the lungs (bowel or stomach gas) was not taken for a lung")
                kept.removeLast()
            }
        }
        for (offset, component) in kept.enumerated() {
            Components3D.flood(
                &lungs, size: (nx, ny, nz), from: component.seed, match: 2, set: UInt8(3 + offset), queue: &queue)
        }
        if kept.count == 2 {
            // LPS: x grows to the patient's left, so the component with the smaller mean x is right.
            var sums = [0.0, 0.0]
            for row in stride(from: 0, to: lungs.count, by: nx) {
                for x in 0..<nx where lungs[row + x] >= 3 { sums[Int(lungs[row + x]) - 3] += Double(x) }
            }
            let meanX = [sums[0] / Double(kept[0].size), sums[1] / Double(kept[1].size)]
            let rightValue: UInt8 = meanX[0] < meanX[1] ? 3 : 4
            for index in 0..<lungs.count where lungs[index] >= 3 {
                labels[index] = lungs[index] == rightValue ? LungLabel.right : LungLabel.left
            }
            return labels
        }
        // One component: the lungs touch (anterior or posterior junction). Split at the column
        // with the fewest lung voxels in the middle half of the lungs' left–right extent.
        var profile = [Int](repeating: 0, count: nx)
        for row in stride(from: 0, to: lungs.count, by: nx) {
            for x in 0..<nx where lungs[row + x] == 3 { profile[x] += 1 }
        }
        let occupied = profile.indices.filter { profile[$0] > 0 }
        guard let low = occupied.first, let high = occupied.last else { return labels }
        let from = low + (high - low) / 4
        let to = max(from, high - (high - low) / 4)
        let split = (from...to).min { profile[$0] < profile[$1] } ?? (low + high) / 2
        for row in stride(from: 0, to: lungs.count, by: nx) {
            for x in 0..<nx where lungs[row + x] == 3 { labels[row + x] = x < split ? LungLabel.right : LungLabel.left }
        }
        notes.append(
            String(
                format: "the lungs touch; separated at the sagittal plane x = %.1f mm (LPS), where they are thinnest",
                g.physicalPoint(i: Double(split), j: 0, k: 0).x))
        return labels
    }
}
