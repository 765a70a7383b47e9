import Foundation
import VolumeCore

/// Stage 3 of `LungSegmenter.segment`: the trachea and main bronchi, found near the top of the
/// scan, grown down through airway-dark voxels with leak control, and removed from the lung air.
extension LungSegmenter {
    /// Removes the grown airways, dilated by `SegmentationParameters.airwayWallMM`, from `lungs`.
    /// Returns that dilated airway mask (later stages must not add it back), or an empty array
    /// when no airway was grown.
    static func removeAirways(
        from lungs: inout [UInt8], hu: Volume<Int16>, body: [UInt8], parameters: SegmentationParameters,
        notes: inout [String]
    ) -> [UInt8] {
        guard var airway = growAirway(hu: hu, lungs: lungs, body: body, parameters: parameters, notes: &notes) else {
            return []
        }
        let g = hu.geometry
        let steps = max(1, Int((parameters.airwayWallMM / min(g.spacing.x, g.spacing.y)).rounded(.up)))
        dilateInPlane(&airway, size: (g.size.x, g.size.y, g.size.z), steps: steps)
        let wall = airway
        updateSlices(of: &lungs, planeSize: g.size.x * g.size.y) { k, slice in
            let first = k * slice.count
            guard wall[first..<(first + slice.count)].contains(where: { $0 != 0 }) else { return nil }
            return (0..<slice.count).map { wall[first + $0] != 0 ? 0 : slice[$0] }
        }
        return airway
    }

    /// The trachea: the first small, round-enough air region near the midline, looking down
    /// from the top slice; grown through airway-dark voxels with leak control.
    static func growAirway(
        hu: Volume<Int16>, lungs: [UInt8], body: [UInt8], parameters: SegmentationParameters, notes: inout [String]
    ) -> [UInt8]? {
        guard let start = tracheaSeed(hu: hu, lungs: lungs, body: body, parameters: parameters) else {
            notes.append("trachea not found near the top of the scan: airways not removed")
            return nil
        }
        guard let grown = floodAirway(from: start, hu: hu, lungs: lungs, parameters: parameters) else {
            notes.append("airway growing leaked into the lungs at every threshold: airways not removed")
            return nil
        }
        let g = hu.geometry
        var airway = [UInt8](repeating: 0, count: g.size.count)
        for index in grown.voxels { airway[Int(index)] = 1 }
        notes.append(
            String(
                format: "trachea and main bronchi removed: %.1f mL grown below %d HU",
                Double(grown.voxels.count) * g.voxelVolume / 1000, grown.threshold))
        return airway
    }

    /// The voxel to grow the airway from: in the highest slice with a trachea-sized air region
    /// near the body's left–right centre, that region's darkest voxel (the lumen, not its rim).
    /// Nil when no slice has one.
    static func tracheaSeed(
        hu: Volume<Int16>, lungs: [UInt8], body: [UInt8], parameters: SegmentationParameters
    ) -> Int? {
        let g = hu.geometry
        let (nx, ny, nz) = (g.size.x, g.size.y, g.size.z)
        let planeSize = nx * ny
        let pixelArea = g.spacing.x * g.spacing.y
        for k in stride(from: nz - 1, through: 0, by: -1) {
            var plane = Plane(width: nx, height: ny, pixels: Array(lungs[(k * planeSize)..<((k + 1) * planeSize)]))
            guard plane.pixels.contains(1) else { continue }
            guard let centre = bodyCentreColumn(body, slice: k, width: nx, planeSize: planeSize) else { continue }
            for (pixels, area) in componentsOf(&plane) {
                let mm2 = Double(area) * pixelArea
                let meanX = Double(pixels.reduce(0) { $0 + $1 % nx }) / Double(area)
                if parameters.tracheaAreaMM2.contains(mm2),
                    abs(meanX - centre) * g.spacing.x <= parameters.tracheaMaximumOffsetMM
                {
                    return pixels.min { hu.voxels[k * planeSize + $0] < hu.voxels[k * planeSize + $1] }.map {
                        k * planeSize + $0
                    }
                }
            }
            // The first slice with lung air but no trachea-like region: the scan starts below
            // the trachea's top or the apices come first; keep looking a little lower.
        }
        return nil
    }

    /// Grows the airway from `start` through lung-air voxels darker than each of
    /// `parameters.airwayThresholdsHU` in turn, and keeps the growth of the last threshold before
    /// the volume passes `maximumAirwayML` (a leak into the lung). Nil when even the first
    /// threshold leaks or grows nothing.
    ///
    /// One incremental flood serves all thresholds: voxels refused at one threshold wait in a
    /// frontier and are looked at again when the threshold rises, so each voxel is visited a few
    /// times instead of once per threshold.
    static func floodAirway(
        from start: Int, hu: Volume<Int16>, lungs: [UInt8], parameters: SegmentationParameters
    ) -> (voxels: ArraySlice<Int32>, threshold: Int16)? {
        let g = hu.geometry
        var state = [UInt8](repeating: 0, count: g.size.count)  // 0 unseen, 1 airway, 2 waiting
        var frontier: [Int32] = [Int32(start)]
        var added: [Int32] = []
        var accepted = 0
        var acceptedThreshold: Int16?
        for threshold in parameters.airwayThresholdsHU {
            let before = added.count
            var queue = frontier
            frontier.removeAll(keepingCapacity: true)
            floodBelow(
                threshold, queue: &queue, state: &state, frontier: &frontier, added: &added, hu: hu, lungs: lungs,
                parameters: parameters)
            // Waiting voxels reached at this threshold stay waiting for the next one.
            for index in frontier where state[Int(index)] == 2 { state[Int(index)] = 0 }
            if Double(added.count) * g.voxelVolume / 1000 > parameters.maximumAirwayML {
                added.removeSubrange(before...)
                break
            }
            accepted = added.count
            acceptedThreshold = threshold
        }
        guard let threshold = acceptedThreshold, accepted > 0 else { return nil }
        return (added.prefix(accepted), threshold)
    }

    /// One threshold's step of `floodAirway`: a 6-neighbour breadth-first flood from `queue`
    /// that adds voxels darker than `threshold` to `added` (state 1) and parks brighter ones in
    /// `frontier` (state 2). Stops early once the growth passes `maximumAirwayML`.
    private static func floodBelow(
        _ threshold: Int16, queue: inout [Int32], state: inout [UInt8], frontier: inout [Int32], added: inout [Int32],
        hu: Volume<Int16>, lungs: [UInt8], parameters: SegmentationParameters
    ) {
        let g = hu.geometry
        let (nx, ny, nz) = (g.size.x, g.size.y, g.size.z)
        let plane = nx * ny
        var head = 0
        while head < queue.count {
            let index = Int(queue[head])
            head += 1
            guard state[index] != 1, lungs[index] != 0 else { continue }
            guard hu.voxels[index] < threshold else {
                if state[index] == 0 {
                    state[index] = 2
                    frontier.append(Int32(index))
                }
                continue
            }
            state[index] = 1
            added.append(Int32(index))
            let x = index % nx
            let y = (index / nx) % ny
            let z = index / plane
            if x > 0 { queue.append(Int32(index - 1)) }
            if x < nx - 1 { queue.append(Int32(index + 1)) }
            if y > 0 { queue.append(Int32(index - nx)) }
            if y < ny - 1 { queue.append(Int32(index + nx)) }
            if z > 0 { queue.append(Int32(index - plane)) }
            if z < nz - 1 { queue.append(Int32(index + plane)) }
            if Double(added.count) * g.voxelVolume / 1000 > parameters.maximumAirwayML { break }
        }
    }
}
