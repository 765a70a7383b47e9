import Dispatch
import Foundation
import VolumeCore

/// Thresholds and sizes of the lung segmentation, each with the reason for its value.
public struct SegmentationParameters: Sendable {
    /// Body: everything denser than −500 HU (fat ≈ −100, muscle ≈ 40, lung ≈ −850). Hu, Hoffman
    /// & Reinhardt (IEEE TMI 20(6), 2001) find the optimal lung/body threshold near −500 HU.
    public var bodyThresholdHU: Int16 = -500
    /// Air-filled lung and airways inside the body: below −400 HU. Dense pathology above it is
    /// brought back by hole filling and the pleural closing.
    public var airThresholdHU: Int16 = -400
    /// Airway lumen thresholds tried in turn, strictest first: each grows the airway a little
    /// further, until the volume passes `maximumAirwayML`: then the growth has leaked into the
    /// lung and the previous threshold's airway is used (the explosion test of region-growing
    /// airway methods, e.g. van Rikxoort et al., Medical Physics 2009). Air is −1000 HU; lung
    /// parenchyma about −850, so a leak turns tens of mL into thousands.
    public var airwayThresholdsHU: [Int16] = Array(stride(from: -1000, through: -800, by: 20))
    /// Trachea and main bronchi hold about 30–80 mL in adults; more than 200 mL means a leak.
    public var maximumAirwayML: Double = 200
    /// Cross-section of the trachea where it is first found, mm²: adult tracheal diameters are
    /// 13–25 mm (≈ 130–490 mm²); the range is wider to allow partial volume and children.
    public var tracheaAreaMM2: ClosedRange<Double> = 60...900
    /// The trachea is within this distance (mm, left–right) of the body's centre.
    public var tracheaMaximumOffsetMM: Double = 30
    /// Airway walls are dilated by this much (mm) before removal so the partial-volume rim of
    /// the trachea does not stay attached to the lungs.
    public var airwayWallMM: Double = 2
    /// An air component inside the body smaller than this fraction of the largest is not lung
    /// (bowel gas, the stomach bubble, oesophageal air).
    public var minimumLungFraction: Double = 0.1
    /// Holes in a lung's slice up to this area (mm²) are filled: vessels, bronchi and dense
    /// lesions surrounded by lung (up to about 5 cm across). Larger "holes" are the top of the
    /// diaphragm's dome ringed by the lung bases, which is not lung.
    public var maximumHoleAreaMM2: Double = 2000
    /// Radius of the per-slice closing along each lung's border (mm), as a rolling ball of
    /// this radius would smooth it (Armato et al., Radiology 1999): small indentations by
    /// vessels and subpleural opacities are closed.
    public var pleuralClosingRadiusMM: Double = 10
    /// A bay between a lung and its convex hull (per slice) on the lung's outer side, whose
    /// mouth on the hull is at most this wide (mm), is filled: dense pathology touching the
    /// costal pleura (consolidation up to about 5 cm across). Bays on the mediastinal side
    /// (the heart's impression, the hilum) are never filled.
    public var maximumBayMouthMM: Double = 60

    public init() {}
}

/// Labels of a lung segmentation.
public enum LungLabel {
    public static let background: UInt8 = 0
    /// The patient's right lung.
    public static let right: UInt8 = 1
    /// The patient's left lung.
    public static let left: UInt8 = 2
}

/// The result of segmenting one CT volume.
public struct LungSegmentation: Sendable {
    /// On the input grid: 0 background, 1 right lung, 2 left lung.
    public var labels: Volume<UInt8>
    /// What the method noticed and how it coped, in sentences.
    public var notes: [String]
    /// Seconds per step, for the report.
    public var timings: [String: Double]
}

/// Classical lung segmentation on HU, in the spirit of Hu et al. (2001): body mask, air inside
/// the body, airway removal by region growing with leak control, left/right separation,
/// hole filling and a pleural closing so vessels and dense pathology stay inside.
public enum LungSegmenter {
    public static func segment(_ input: Volume<Int16>, parameters: SegmentationParameters = .init()) -> LungSegmentation {
        var timings: [String: Double] = [:]
        var clock = Date()
        func lap(_ name: String) {
            timings[name] = Date().timeIntervalSince(clock)
            clock = Date()
        }
        // The method reasons in patient directions (top slice, left-right), so it works on an
        // LPS copy when the input is stored another way, and maps the labels back.
        let originalCode = input.geometry.orientationCode
        let hu = originalCode == "LPS" ? input : (try? input.reoriented(to: "LPS")) ?? input
        var notes: [String] = []
        let g = hu.geometry
        let (nx, ny, nz) = (g.size.x, g.size.y, g.size.z)
        let planeSize = nx * ny
        let voxelML = g.voxelVolume / 1000

        // 1. Body, slice by slice: the largest tissue region, holes filled.
        var body = [UInt8](repeating: 0, count: g.size.count)
        forEachSlice(nz) { k in
            var plane = Plane(width: nx, height: ny)
            hu.voxels.withUnsafeBufferPointer { v in
                for index in 0..<planeSize { plane.pixels[index] = v[k * planeSize + index] > parameters.bodyThresholdHU ? 1 : 0 }
            }
            _ = Morphology.largestComponent(&plane)
            Morphology.fillHoles(&plane)
            return plane.pixels
        } store: { k, pixels in
            body.replaceSubrange((k * planeSize)..<((k + 1) * planeSize), with: pixels)
        }
        lap("body")

        // 2. Air inside the body, and its large 3D components. The components are found after
        //    a one-voxel in-plane erosion, so thin partial-volume bridges (lung to bowel gas
        //    through the diaphragm, lung to lung at the junction lines) do not join them; the
        //    kept components are then dilated back within the air.
        var air = [UInt8](repeating: 0, count: g.size.count)
        for index in 0..<air.count where body[index] != 0 && hu.voxels[index] < parameters.airThresholdHU { air[index] = 1 }
        var core = erodeInPlane(air, size: (nx, ny, nz))
        let components = Components3D.find(in: &core, size: (nx, ny, nz), value: 1, visited: 2)
        var lungs = [UInt8](repeating: 0, count: g.size.count)
        var queue = [Int32]()
        if let largest = components.first {
            let kept = components.filter { Double($0.size) >= parameters.minimumLungFraction * Double(largest.size) }
            for component in kept {
                Components3D.flood(&core, size: (nx, ny, nz), from: component.seed, match: 2, set: 3, queue: &queue)
            }
            for index in 0..<core.count { core[index] = core[index] == 3 ? 1 : 0 }
            let restored = dilateInPlane(core, size: (nx, ny, nz), steps: 1)
            for index in 0..<air.count where air[index] != 0 && restored[index] != 0 { lungs[index] = 1 }
            let dropped = components.count - kept.count
            if dropped > 0 {
                let ml = Double(components.dropFirst(kept.count).reduce(0) { $0 + $1.size }) * voxelML
                notes.append(String(format: "%d small air region(s) inside the body ignored (%.1f mL in all: bowel or stomach gas)", dropped, ml))
            }
        } else {
            notes.append("no air inside the body: no lungs found")
        }
        air = []
        core = []
        lap("air")

        // 3. Airways: found at the top, grown down with leak control, removed with their wall.
        var airwayWall: [UInt8] = []
        if let airway = growAirway(hu: hu, lungs: lungs, body: body, parameters: parameters, notes: &notes) {
            let steps = max(1, Int((parameters.airwayWallMM / min(g.spacing.x, g.spacing.y)).rounded(.up)))
            airwayWall = dilateInPlane(airway, size: (nx, ny, nz), steps: steps)
            for index in 0..<lungs.count where airwayWall[index] != 0 { lungs[index] = 0 }
        }
        lap("airways")

        // 4. Right and left: two components by their side, or one split where they touch.
        var labels = label(lungs: &lungs, geometry: g, parameters: parameters, notes: &notes)
        lungs = []
        lap("left-right")

        // 5. Per lung and slice: holes filled (vessels, lesions inside) and a closing along the
        //    pleura (lesions touching it), never into the other lung or outside the body.
        refine(&labels, body: body, airways: airwayWall, geometry: g, parameters: parameters)
        lap("refine")

        var volume = Volume(geometry: g, voxels: labels)
        if originalCode != "LPS", let back = try? volume.reoriented(to: originalCode) { volume = back }
        return LungSegmentation(labels: volume, notes: notes, timings: timings)
    }

    /// Runs `work` for every slice on all cores, then `store` for each result in slice order.
    static func forEachSlice(_ count: Int, work: @Sendable (Int) -> [UInt8], store: (Int, [UInt8]) -> Void) {
        let results = SliceResults(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { k in results.set(k, work(k)) }
        for k in 0..<count { store(k, results.get(k)) }
    }

    /// The trachea: the first small, round-enough air region near the midline, looking down
    /// from the top slice; grown through airway-dark voxels with leak control.
    static func growAirway(
        hu: Volume<Int16>, lungs: [UInt8], body: [UInt8], parameters: SegmentationParameters, notes: inout [String]
    ) -> [UInt8]? {
        let g = hu.geometry
        let (nx, ny, nz) = (g.size.x, g.size.y, g.size.z)
        let planeSize = nx * ny
        let pixelArea = g.spacing.x * g.spacing.y
        var seed: Int?
        search: for k in stride(from: nz - 1, through: 0, by: -1) {
            var plane = Plane(width: nx, height: ny, pixels: Array(lungs[(k * planeSize)..<((k + 1) * planeSize)]))
            guard plane.pixels.contains(1) else { continue }
            // Body centre (left–right) in this slice.
            var bodySum = 0
            var bodyCount = 0
            for index in 0..<planeSize where body[k * planeSize + index] != 0 {
                bodySum += index % nx
                bodyCount += 1
            }
            guard bodyCount > 0 else { continue }
            let centre = Double(bodySum) / Double(bodyCount)
            for (pixels, area) in componentsOf(&plane) {
                let mm2 = Double(area) * pixelArea
                let meanX = Double(pixels.reduce(0) { $0 + $1 % nx }) / Double(area)
                if parameters.tracheaAreaMM2.contains(mm2), abs(meanX - centre) * g.spacing.x <= parameters.tracheaMaximumOffsetMM {
                    // Seed at the darkest pixel: the lumen, not its rim.
                    seed = pixels.min { hu.voxels[k * planeSize + $0] < hu.voxels[k * planeSize + $1] }.map { k * planeSize + $0 }
                    break search
                }
            }
            // The first slice with lung air but no trachea-like region: the scan starts below
            // the trachea's top or the apices come first; keep looking a little lower.
        }
        guard let start = seed else {
            notes.append("trachea not found near the top of the scan: airways not removed")
            return nil
        }
        // One incremental flood for all thresholds: voxels refused at one threshold wait in a
        // frontier and are looked at again when the threshold rises, so each voxel is visited a
        // few times instead of once per threshold.
        let plane = nx * ny
        var state = [UInt8](repeating: 0, count: g.size.count)  // 0 unseen, 1 airway, 2 waiting
        var frontier: [Int32] = [Int32(start)]
        var added: [Int32] = []
        var accepted = 0
        var acceptedThreshold: Int16?
        for threshold in parameters.airwayThresholdsHU {
            let before = added.count
            var queue = frontier
            frontier.removeAll(keepingCapacity: true)
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
            // Waiting voxels reached at this threshold stay waiting for the next one.
            for index in frontier where state[Int(index)] == 2 { state[Int(index)] = 0 }
            if Double(added.count) * g.voxelVolume / 1000 > parameters.maximumAirwayML {
                added.removeSubrange(before...)
                break
            }
            accepted = added.count
            acceptedThreshold = threshold
        }
        guard let threshold = acceptedThreshold, accepted > 0 else {
            notes.append("airway growing leaked into the lungs at every threshold: airways not removed")
            return nil
        }
        var airway = [UInt8](repeating: 0, count: g.size.count)
        for index in added.prefix(accepted) { airway[Int(index)] = 1 }
        notes.append(
            String(format: "trachea and main bronchi removed: %.1f mL grown below %d HU",
                Double(accepted) * g.voxelVolume / 1000, threshold))
        return airway
    }

    /// The 4-connected components of a plane, as pixel lists with their sizes.
    static func componentsOf(_ plane: inout Plane) -> [([Int], Int)] {
        var result: [([Int], Int)] = []
        var seen = [Bool](repeating: false, count: plane.count)
        let w = plane.width
        for start in 0..<plane.count where plane.pixels[start] != 0 && !seen[start] {
            var pixels = [start]
            seen[start] = true
            var head = 0
            while head < pixels.count {
                let index = pixels[head]
                head += 1
                let x = index % w
                for neighbour in [x > 0 ? index - 1 : -1, x < w - 1 ? index + 1 : -1, index - w, index + w]
                where neighbour >= 0 && neighbour < plane.count && plane.pixels[neighbour] != 0 && !seen[neighbour] {
                    seen[neighbour] = true
                    pixels.append(neighbour)
                }
            }
            result.append((pixels, pixels.count))
        }
        return result
    }

    /// Erodes a mask by one 4-neighbour step within each slice.
    static func erodeInPlane(_ mask: [UInt8], size: (Int, Int, Int)) -> [UInt8] {
        let (nx, ny, _) = size
        var out = [UInt8](repeating: 0, count: mask.count)
        for index in 0..<mask.count where mask[index] != 0 {
            let x = index % nx
            let y = (index / nx) % ny
            if x > 0, x < nx - 1, y > 0, y < ny - 1, mask[index - 1] != 0, mask[index + 1] != 0, mask[index - nx] != 0,
                mask[index + nx] != 0
            {
                out[index] = 1
            }
        }
        return out
    }

    /// Dilates a mask by `steps` 4-neighbour steps within each slice.
    static func dilateInPlane(_ mask: [UInt8], size: (Int, Int, Int), steps: Int) -> [UInt8] {
        let (nx, ny, _) = size
        var current = mask
        for _ in 0..<steps {
            var next = current
            for index in 0..<current.count where current[index] != 0 {
                let x = index % nx
                let y = (index / nx) % ny
                if x > 0 { next[index - 1] = 1 }
                if x < nx - 1 { next[index + 1] = 1 }
                if y > 0 { next[index - nx] = 1 }
                if y < ny - 1 { next[index + nx] = 1 }
            }
            current = next
        }
        return current
    }

    /// Labels right (1) and left (2) lung: the two largest components by the side of their
    /// centre, or, when the lungs touch (one component), a split at the sagittal plane where
    /// the lung is thinnest between them.
    static func label(lungs: inout [UInt8], geometry g: Geometry, parameters: SegmentationParameters, notes: inout [String]) -> [UInt8] {
        let (nx, ny, nz) = (g.size.x, g.size.y, g.size.z)
        let components = Components3D.find(in: &lungs, size: (nx, ny, nz), value: 1, visited: 2)
        var labels = [UInt8](repeating: 0, count: lungs.count)
        guard let largest = components.first else { return labels }
        var kept = components.prefix(2).filter { Double($0.size) >= parameters.minimumLungFraction * Double(largest.size) }
        var queue = [Int32]()
        if kept.count == 2 {
            // A lung reaches the upper half of the other lung's height; gas in the stomach or
            // colon under the diaphragm does not.
            let ranges = kept.map { component -> ClosedRange<Int> in
                var copy = lungs
                Components3D.flood(&copy, size: (nx, ny, nz), from: component.seed, match: 2, set: 9, queue: &queue)
                let slices = queue.map { Int($0) / (nx * ny) }
                return (slices.min() ?? 0)...(slices.max() ?? 0)
            }
            let middle = (ranges[0].lowerBound + ranges[0].upperBound) / 2
            if ranges[1].upperBound < middle {
                notes.append("an air region below the lungs (bowel or stomach gas) was not taken for a lung")
                kept.removeLast()
            }
        }
        for (offset, component) in kept.enumerated() {
            Components3D.flood(&lungs, size: (nx, ny, nz), from: component.seed, match: 2, set: UInt8(3 + offset), queue: &queue)
        }
        if kept.count == 2 {
            // LPS: x grows to the patient's left, so the component with the smaller mean x is right.
            var sums = [0.0, 0.0]
            for index in 0..<lungs.count where lungs[index] >= 3 { sums[Int(lungs[index]) - 3] += Double(index % nx) }
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
        for index in 0..<lungs.count where lungs[index] == 3 { profile[index % nx] += 1 }
        let occupied = profile.indices.filter { profile[$0] > 0 }
        guard let low = occupied.first, let high = occupied.last else { return labels }
        let from = low + (high - low) / 4
        let to = max(from, high - (high - low) / 4)
        let split = (from...to).min { profile[$0] < profile[$1] } ?? (low + high) / 2
        for index in 0..<lungs.count where lungs[index] == 3 {
            labels[index] = index % nx < split ? LungLabel.right : LungLabel.left
        }
        notes.append(
            String(format: "the lungs touch; separated at the sagittal plane x = %.1f mm (LPS), where they are thinnest",
                g.physicalPoint(i: Double(split), j: 0, k: 0).x))
        return labels
    }

    /// Per slice and lung: fill holes, close along the pleura, fill holes again; added voxels
    /// must lie inside the body, outside the other lung and outside the airways.
    static func refine(
        _ labels: inout [UInt8], body: [UInt8], airways: [UInt8], geometry g: Geometry, parameters: SegmentationParameters
    ) {
        let (nx, ny, nz) = (g.size.x, g.size.y, g.size.z)
        let planeSize = nx * ny
        let radius = parameters.pleuralClosingRadiusMM
        let margin = Int((radius / min(g.spacing.x, g.spacing.y)).rounded(.up)) + 2
        let maximumHolePixels = Int(parameters.maximumHoleAreaMM2 / (g.spacing.x * g.spacing.y))
        let current = labels
        // Below the lung bases lies the abdomen: a voxel with no lung anywhere beneath it is the
        // top of the diaphragm's dome (or the stomach) even when the lung rings it in this slice,
        // so filling may only add voxels that have lung somewhere below them.
        var floor = [Int](repeating: Int.max, count: planeSize)
        for k in 0..<nz {
            for index in 0..<planeSize where floor[index] == Int.max && current[k * planeSize + index] != 0 { floor[index] = k }
        }
        let lungBelow = floor
        // The body's left–right centre per slice: "outer" and "mediastinal" sides are judged from it.
        var bodyCentre = [Double](repeating: Double(nx) / 2, count: nz)
        for k in 0..<nz {
            var sum = 0
            var count = 0
            for index in 0..<planeSize where body[k * planeSize + index] != 0 {
                sum += index % nx
                count += 1
            }
            if count > 0 { bodyCentre[k] = Double(sum) / Double(count) }
        }
        let centres = bodyCentre
        forEachSlice(nz) { k in
            var slice = Array(current[(k * planeSize)..<((k + 1) * planeSize)])
            for label in [LungLabel.right, LungLabel.left] {
                // Work in the lung's bounding box plus a margin, for speed.
                var x0 = nx, x1 = -1, y0 = ny, y1 = -1
                for index in 0..<planeSize where slice[index] == label {
                    let x = index % nx
                    let y = index / nx
                    x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
                }
                guard x1 >= 0 else { continue }
                x0 = max(0, x0 - margin); x1 = min(nx - 1, x1 + margin)
                y0 = max(0, y0 - margin); y1 = min(ny - 1, y1 + margin)
                let w = x1 - x0 + 1
                let h = y1 - y0 + 1
                var plane = Plane(width: w, height: h)
                for y in 0..<h { for x in 0..<w where slice[(y0 + y) * nx + x0 + x] == label { plane.pixels[y * w + x] = 1 } }
                Morphology.fillHoles(&plane, maximumArea: maximumHolePixels)
                var closed = Morphology.close(plane, radius: radius, spacingX: g.spacing.x, spacingY: g.spacing.y)
                Morphology.fillHoles(&closed, maximumArea: maximumHolePixels)
                // Bays: hull minus lung, where allowed, split into regions; narrow-mouthed ones on
                // the outer side are filled, then widened by two pixel rings within a hull that
                // reaches two pixels further out, since the pleura curves beyond the hull's chord.
                let hull = ConvexHull.fill(closed)
                let looseHull = ConvexHull.fill(closed, tolerance: 2)
                func allowed(_ x: Int, _ y: Int) -> Bool {
                    let voxel = k * planeSize + (y0 + y) * nx + x0 + x
                    return body[voxel] != 0 && slice[(y0 + y) * nx + x0 + x] == 0 && (airways.isEmpty || airways[voxel] == 0)
                }
                var bays = Plane(width: w, height: h)
                for y in 0..<h {
                    for x in 0..<w where hull.pixels[y * w + x] != 0 && closed.pixels[y * w + x] == 0 && allowed(x, y) {
                        bays.pixels[y * w + x] = 1
                    }
                }
                var lungX = 0.0
                var lungCount = 0.0
                for index in 0..<plane.count where plane.pixels[index] != 0 {
                    lungX += Double(index % w)
                    lungCount += 1
                }
                let lungCentre = lungX / max(1, lungCount)
                let midline = centres[k] - Double(x0)
                let pixelMM = (g.spacing.x + g.spacing.y) / 2
                for (pixels, _) in componentsOf(&bays) {
                    // The mouth: bay pixels next to a pixel outside the hull.
                    var mouth = 0
                    var bayX = 0.0
                    for index in pixels {
                        let x = index % w
                        let y = index / w
                        bayX += Double(x)
                        if x == 0 || x == w - 1 || y == 0 || y == h - 1 || hull.pixels[index - 1] == 0
                            || hull.pixels[index + 1] == 0 || hull.pixels[index - w] == 0 || hull.pixels[index + w] == 0
                        {
                            mouth += 1
                        }
                    }
                    let outerSide = abs(bayX / Double(pixels.count) - midline) >= abs(lungCentre - midline)
                    guard outerSide, Double(mouth) * pixelMM <= parameters.maximumBayMouthMM else { continue }
                    for index in pixels { closed.pixels[index] = 1 }
                    var ring = pixels
                    for _ in 0..<2 {
                        var next: [Int] = []
                        for index in ring {
                            let x = index % w
                            let y = index / w
                            for (nxi, nyi) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                            where nxi >= 0 && nxi < w && nyi >= 0 && nyi < h && looseHull.pixels[nyi * w + nxi] != 0
                                && closed.pixels[nyi * w + nxi] == 0 && allowed(nxi, nyi) {
                                closed.pixels[nyi * w + nxi] = 1
                                next.append(nyi * w + nxi)
                            }
                        }
                        ring = next
                    }
                }
                for y in 0..<h {
                    for x in 0..<w where closed.pixels[y * w + x] != 0 {
                        let index = (y0 + y) * nx + x0 + x
                        let voxel = k * planeSize + index
                        if slice[index] == 0 && body[voxel] != 0 && (airways.isEmpty || airways[voxel] == 0)
                            && (nz == 1 || lungBelow[index] < k)
                        {
                            slice[index] = label
                        }
                    }
                }
            }
            return slice
        } store: { k, slice in
            labels.replaceSubrange((k * planeSize)..<((k + 1) * planeSize), with: slice)
        }
    }
}

/// Per-slice results written by concurrent workers, one distinct slot each.
final class SliceResults: @unchecked Sendable {
    private var slots: [[UInt8]]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: [], count: count) }
    func set(_ k: Int, _ value: [UInt8]) { lock.withLock { slots[k] = value } }
    func get(_ k: Int) -> [UInt8] { lock.withLock { slots[k] } }
}
