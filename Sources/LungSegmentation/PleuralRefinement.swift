import Dispatch
import VolumeCore

/// Stage 5 of `LungSegmenter.segment`.
extension LungSegmenter {
    /// Per slice and lung: fill holes, close along the pleura, fill holes again; added voxels
    /// must lie inside the body, outside the other lung and outside the airways.
    static func refine(
        _ labels: inout [UInt8], body: [UInt8], airways: [UInt8], geometry g: Geometry,
        parameters: SegmentationParameters
    ) {
        let refinement = PleuralRefinement(
            labels: labels, body: body, airways: airways, geometry: g, parameters: parameters)
        updateSlices(of: &labels, planeSize: g.size.x * g.size.y) { k, view in
            guard !view.isAllZero else { return nil }
            var slice = view.array
            // The left lung is refined after the right one's additions, so neither grows into the other.
            for label in [LungLabel.right, LungLabel.left] {
                refinement.refine(label, in: &slice, at: k)
            }
            return slice
        }
    }
}

/// The per-slice work of `LungSegmenter.refine`, with what it needs to know of the whole
/// volume: built once, then shared read-only by the concurrent slice workers.
struct PleuralRefinement: Sendable {
    /// A lung is worked on in its bounding box grown by the closing radius and this many pixels
    /// more, so that the closing and the loose hull never reach the crop's edge.
    static let cropExtraPixels = 2
    /// How far (pixels) the loose hull reaches beyond the convex hull's chords: the pleura curves
    /// outward between the hull's vertices, so a filled bay is widened up to there.
    static let looseHullTolerance = 2.0
    /// How many 4-neighbour pixel rings a filled bay is widened by, within the loose hull.
    static let bayWideningRings = 2

    /// A lung's bounding box in one slice, grown by `margin` and clipped to the slice.
    struct Crop {
        var x0: Int
        var y0: Int
        var width: Int
        var height: Int
    }

    let body: [UInt8]
    let airways: [UInt8]
    /// Per in-plane position, the lowest slice with lung there (`Int.max` where there is none).
    /// Below the lung bases lies the abdomen: a voxel with no lung anywhere beneath it is the top
    /// of the diaphragm's dome (or the stomach) even when the lung rings it in its slice, so
    /// filling may only add voxels that have lung somewhere below them.
    let lowestLungSlice: [Int]
    /// Per slice, the body's left–right centre (a column): "outer" and "mediastinal" sides of a
    /// lung are judged from it.
    let bodyCentres: [Double]
    let nx: Int
    let ny: Int
    let nz: Int
    let spacingX: Double
    let spacingY: Double
    let closingRadiusMM: Double
    /// Pixels added around a lung's bounding box.
    let margin: Int
    let maximumHolePixels: Int
    let maximumBayMouthMM: Double

    init(labels: [UInt8], body: [UInt8], airways: [UInt8], geometry g: Geometry, parameters: SegmentationParameters) {
        let (nx, ny, nz) = (g.size.x, g.size.y, g.size.z)
        (self.nx, self.ny, self.nz) = (nx, ny, nz)
        self.body = body
        self.airways = airways
        spacingX = g.spacing.x
        spacingY = g.spacing.y
        closingRadiusMM = parameters.pleuralClosingRadiusMM
        margin = Int((closingRadiusMM / min(g.spacing.x, g.spacing.y)).rounded(.up)) + Self.cropExtraPixels
        maximumHolePixels = Int(parameters.maximumHoleAreaMM2 / (g.spacing.x * g.spacing.y))
        maximumBayMouthMM = parameters.maximumBayMouthMM
        lowestLungSlice = Self.lowestLungSlices(labels, size: (nx, ny, nz))
        var centres = [Double](repeating: Double(nx) / 2, count: nz)
        centres.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let out = VoxelPointer(base)
            DispatchQueue.concurrentPerform(iterations: nz) { k in
                if let centre = LungSegmenter.bodyCentreColumn(body, slice: k, width: nx, planeSize: nx * ny) {
                    out[k] = centre
                }
            }
        }
        bodyCentres = centres
    }

    /// `lowestLungSlice` of a label volume; rows of the plane on all cores.
    static func lowestLungSlices(_ labels: [UInt8], size: (Int, Int, Int)) -> [Int] {
        let (nx, ny, nz) = size
        var floor = [Int](repeating: Int.max, count: nx * ny)
        floor.withUnsafeMutableBufferPointer { buffer in
            labels.withUnsafeBufferPointer { labels in
                guard let base = buffer.baseAddress, let first = labels.baseAddress else { return }
                let (out, voxels) = (VoxelPointer(base), VoxelPointer(reading: first))
                DispatchQueue.concurrentPerform(iterations: ny) { y in
                    for k in 0..<nz {
                        let row = (k * ny + y) * nx
                        for x in 0..<nx where out[y * nx + x] == Int.max && voxels[row + x] != 0 { out[y * nx + x] = k }
                    }
                }
            }
        }
        return floor
    }

    /// Refines lung `label` in slice `k`: holes filled, a closing along the pleura, holes filled
    /// again, then the narrow outer bays filled; `slice` is changed only where that is allowed.
    func refine(_ label: UInt8, in slice: inout [UInt8], at k: Int) {
        // Work in the lung's bounding box plus a margin, for speed.
        guard let crop = crop(around: label, in: slice) else { return }
        let (w, h) = (crop.width, crop.height)
        var plane = Plane(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w where slice[(crop.y0 + y) * nx + crop.x0 + x] == label { plane.pixels[y * w + x] = 1 }
        }
        Morphology.fillHoles(&plane, maximumArea: maximumHolePixels)
        var closed = Morphology.close(plane, radius: closingRadiusMM, spacingX: spacingX, spacingY: spacingY)
        Morphology.fillHoles(&closed, maximumArea: maximumHolePixels)
        fillBays(&closed, lung: plane, crop: crop, slice: slice, at: k)
        commit(closed, as: label, crop: crop, to: &slice, at: k)
    }

    /// The bounding box of `label` in the slice, grown by `margin`; nil when the lung is absent.
    func crop(around label: UInt8, in slice: [UInt8]) -> Crop? {
        var x0 = nx
        var x1 = -1
        var y0 = ny
        var y1 = -1
        for y in 0..<ny {
            let row = y * nx
            guard let first = (0..<nx).first(where: { slice[row + $0] == label }) else { continue }
            let last = (first..<nx).last { slice[row + $0] == label } ?? first
            x0 = min(x0, first)
            x1 = max(x1, last)
            y0 = min(y0, y)
            y1 = y
        }
        guard x1 >= 0 else { return nil }
        x0 = max(0, x0 - margin)
        x1 = min(nx - 1, x1 + margin)
        y0 = max(0, y0 - margin)
        y1 = min(ny - 1, y1 + margin)
        return Crop(x0: x0, y0: y0, width: x1 - x0 + 1, height: y1 - y0 + 1)
    }

    /// Bays: hull minus lung, where allowed, split into regions; narrow-mouthed ones on the
    /// outer side are filled, then widened within a hull that reaches a little further out,
    /// since the pleura curves beyond the hull's chord. `lung` is the hole-filled lung before
    /// the closing, whose centre tells the outer side from the mediastinal one.
    func fillBays(_ closed: inout Plane, lung: Plane, crop: Crop, slice: [UInt8], at k: Int) {
        let (w, h) = (crop.width, crop.height)
        let planeSize = nx * ny
        let hull = ConvexHull.fill(closed)
        let looseHull = ConvexHull.fill(closed, tolerance: Self.looseHullTolerance)
        func allowed(_ x: Int, _ y: Int) -> Bool {
            let voxel = k * planeSize + (crop.y0 + y) * nx + crop.x0 + x
            return body[voxel] != 0 && slice[(crop.y0 + y) * nx + crop.x0 + x] == 0
                && (airways.isEmpty || airways[voxel] == 0)
        }
        var bays = Plane(width: w, height: h)
        for y in 0..<h {
            for x in 0..<w where hull.pixels[y * w + x] != 0 && closed.pixels[y * w + x] == 0 && allowed(x, y) {
                bays.pixels[y * w + x] = 1
            }
        }
        let lungCentre = Self.meanColumn(of: lung)
        let midline = bodyCentres[k] - Double(crop.x0)
        let pixelMM = (spacingX + spacingY) / 2
        for (pixels, _) in LungSegmenter.componentsOf(&bays) {
            let (mouth, bayCentre) = Self.mouthAndMeanColumn(of: pixels, hull: hull)
            let outerSide = abs(bayCentre - midline) >= abs(lungCentre - midline)
            guard outerSide, Double(mouth) * pixelMM <= maximumBayMouthMM else { continue }
            for index in pixels { closed.pixels[index] = 1 }
            Self.widen(&closed, from: pixels, within: looseHull, allowed: allowed)
        }
    }

    /// The mean column of a plane's set pixels (0 when there are none).
    static func meanColumn(of plane: Plane) -> Double {
        var sumX = 0.0
        var count = 0.0
        for index in 0..<plane.count where plane.pixels[index] != 0 {
            sumX += Double(index % plane.width)
            count += 1
        }
        return sumX / max(1, count)
    }

    /// A bay's mouth, counted in pixels: bay pixels next to a pixel outside the hull (or on the
    /// crop's edge); and the bay's mean column.
    static func mouthAndMeanColumn(of pixels: [Int], hull: Plane) -> (mouth: Int, meanColumn: Double) {
        let (w, h) = (hull.width, hull.height)
        var mouth = 0
        var sumX = 0.0
        for index in pixels {
            let x = index % w
            let y = index / w
            sumX += Double(x)
            if x == 0 || x == w - 1 || y == 0 || y == h - 1 || hull.pixels[index - 1] == 0
                || hull.pixels[index + 1] == 0 || hull.pixels[index - w] == 0 || hull.pixels[index + w] == 0
            {
                mouth += 1
            }
        }
        return (mouth, sumX / Double(pixels.count))
    }

    /// Grows a filled bay by `bayWideningRings` 4-neighbour rings into allowed pixels of the
    /// loose hull.
    static func widen(_ closed: inout Plane, from pixels: [Int], within looseHull: Plane, allowed: (Int, Int) -> Bool) {
        let (w, h) = (closed.width, closed.height)
        var ring = pixels
        for _ in 0..<bayWideningRings {
            var next: [Int] = []
            for index in ring {
                let x = index % w
                let y = index / w
                for (nxi, nyi) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                where nxi >= 0 && nxi < w && nyi >= 0 && nyi < h && looseHull.pixels[nyi * w + nxi] != 0
                    && closed.pixels[nyi * w + nxi] == 0 && allowed(nxi, nyi)
                {
                    closed.pixels[nyi * w + nxi] = 1
                    next.append(nyi * w + nxi)
                }
            }
            ring = next
        }
    }

    /// Writes the refined lung back into the slice where it adds voxels that are unlabelled,
    /// inside the body, outside the airways and above some lung (see `lowestLungSlice`).
    func commit(_ closed: Plane, as label: UInt8, crop: Crop, to slice: inout [UInt8], at k: Int) {
        let (w, h) = (crop.width, crop.height)
        let planeSize = nx * ny
        for y in 0..<h {
            for x in 0..<w where closed.pixels[y * w + x] != 0 {
                let index = (crop.y0 + y) * nx + crop.x0 + x
                let voxel = k * planeSize + index
                if slice[index] == 0 && body[voxel] != 0 && (airways.isEmpty || airways[voxel] == 0)
                    && (nz == 1 || lowestLungSlice[index] < k)
                {
                    slice[index] = label
                }
            }
        }
    }
}
