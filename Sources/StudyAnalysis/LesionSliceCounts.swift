import AppSupport
import Dispatch
import VolumeCore

/// One axial slice's lung and lesion voxels, per lung (index 0 right, 1 left): what the lesion
/// panel adds up by zone.
struct SliceLesionCounts: Sendable {
    var lung = [0, 0]
    var lesion = [0, 0]
    /// Lesion voxels above `LesionPanel.highOpacityHU`.
    var high = [0, 0]
    /// Lesion voxels in the periphery (`LesionPanel.peripheryDefinition`).
    var peripheral = [0, 0]
    /// Lesion voxels per lung and class: `lung * classes + (class − 1)`.
    var classes: [Int]

    /// Every slice's counts (slices on both cores); labels other than 1 and 2 are not lung,
    /// and lesion voxels outside the lungs are not counted.
    static func count(hu: Volume<Int16>, lungs: Volume<UInt8>, lesions: Volume<UInt8>, classes: Int)
        -> [SliceLesionCounts]
    {
        let size = hu.size
        let results = Slots(count: size.z, initial: SliceLesionCounts(classes: []))
        DispatchQueue.concurrentPerform(iterations: size.z) { z in
            results.set(z, slice(z, hu: hu, lungs: lungs, lesions: lesions, classes: classes))
        }
        return (0..<size.z).map { results.get($0) }
    }

    /// Slice `z`'s counts; the periphery's distances are found only on slices with lesion.
    static func slice(_ z: Int, hu: Volume<Int16>, lungs: Volume<UInt8>, lesions: Volume<UInt8>, classes: Int)
        -> SliceLesionCounts
    {
        var counts = SliceLesionCounts(classes: [Int](repeating: 0, count: 2 * classes))
        let plane = hu.size.x * hu.size.y
        let offset = z * plane
        for p in 0..<plane {
            let label = Int(lungs.voxels[offset + p])
            guard label == 1 || label == 2 else { continue }
            counts.lung[label - 1] += 1
            let lesion = Int(lesions.voxels[offset + p])
            guard lesion > 0, lesion <= classes else { continue }
            counts.lesion[label - 1] += 1
            counts.classes[(label - 1) * classes + lesion - 1] += 1
            if Int(hu.voxels[offset + p]) > LesionPanel.highOpacityHU { counts.high[label - 1] += 1 }
        }
        guard counts.lesion != [0, 0] else { return counts }
        let labels = Array(lungs.voxels[offset..<(offset + plane)])
        let distance = BorderDistance.chamfer(
            labels, width: hu.size.x, height: hu.size.y, spacing: (hu.geometry.spacing.x, hu.geometry.spacing.y))
        var deepest: [Float] = [0, 0, 0]
        for p in 0..<plane where labels[p] == 1 || labels[p] == 2 {
            deepest[Int(labels[p])] = max(deepest[Int(labels[p])], distance[p])
        }
        for p in 0..<plane where labels[p] == 1 || labels[p] == 2 {
            let lesion = Int(lesions.voxels[offset + p])
            guard lesion > 0, lesion <= classes else { continue }
            if distance[p] <= deepest[Int(labels[p])] / 3 { counts.peripheral[Int(labels[p]) - 1] += 1 }
        }
        return counts
    }
}

/// In-plane distance to the border of a labelled region.
enum BorderDistance {
    /// For every pixel of a labelled slice (row after row): 0 outside the lungs (labels other
    /// than 1 and 2), else the 8-neighbour chamfer distance in mm to the nearest pixel that is
    /// not of its own lung; beyond the slice's edge counts as outside. Steps weigh the pixel
    /// spacing across, down and diagonally (two passes, Rosenfeld and Pfaltz 1966); along rows
    /// and columns the distance is exact.
    static func chamfer(_ labels: [UInt8], width: Int, height: Int, spacing: (x: Double, y: Double)) -> [Float] {
        let (across, down) = (Float(spacing.x), Float(spacing.y))
        let diagonal = (across * across + down * down).squareRoot()
        var distance = labels.map { $0 == 1 || $0 == 2 ? Float.infinity : 0 }
        // A neighbour's distance as seen from a pixel of label `own`: 0 outside the slice or
        // the lung.
        func from(_ x: Int, _ y: Int, _ own: UInt8) -> Float {
            guard x >= 0, y >= 0, x < width, y < height else { return 0 }
            let index = y * width + x
            return labels[index] == own ? distance[index] : 0
        }
        let forward = [(-1, 0, across), (-1, -1, diagonal), (0, -1, down), (1, -1, diagonal)]
        let backward = [(1, 0, across), (1, 1, diagonal), (0, 1, down), (-1, 1, diagonal)]
        for (steps, rows) in [(forward, Array(0..<height)), (backward, Array((0..<height).reversed()))] {
            let columns = steps[0].0 < 0 ? Array(0..<width) : Array((0..<width).reversed())
            for y in rows {
                for x in columns {
                    let index = y * width + x
                    let own = labels[index]
                    guard own == 1 || own == 2 else { continue }
                    var best = distance[index]
                    for (dx, dy, weight) in steps { best = min(best, from(x + dx, y + dy, own) + weight) }
                    distance[index] = best
                }
            }
        }
        return distance
    }
}
