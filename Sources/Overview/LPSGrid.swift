import VolumeCore

/// A voxel grid seen as if it had been reoriented to LPS (`Volume.reoriented(to: "LPS")`),
/// without copying it: index (a, b, c) of the LPS view grows towards the patient's left,
/// posterior and superior, and maps to one stored voxel by a permutation and flips of the
/// axes. Every input orientation of the same data gives the same view, voxel for voxel, so the
/// overview of a feet-first or flipped series is identical to that of an LPS one. Oblique
/// grids are matched axis by axis to the nearest patient axis, as `reoriented(to:)` does.
struct LPSGrid {
    /// Voxels along L, P and S.
    let size: Size3
    /// Millimetres between voxel centres along L, P and S.
    let spacing: Vector3
    /// For LPS axis `a`, the stored axis that runs along it and whether it runs backwards.
    let sourceAxis: [Int]
    let flipped: [Bool]
    /// The stored linear index of LPS index (0, 0, 0), and its change per step along L, P, S.
    let start: Int
    let steps: [Int]
    let geometry: Geometry

    init(_ geometry: Geometry) {
        self.geometry = geometry
        let code = Array(geometry.orientationCode)
        let opposite: [Character: Character] = ["L": "R", "P": "A", "S": "I"]
        var sourceAxis: [Int] = []
        var flipped: [Bool] = []
        for letter in "LPS" {
            if let same = code.firstIndex(of: letter) {
                sourceAxis.append(same)
                flipped.append(false)
            } else if let other = code.firstIndex(of: opposite[letter]!) {
                sourceAxis.append(other)
                flipped.append(true)
            }
        }
        if sourceAxis.count != 3 || Set(sourceAxis).count != 3 {
            // A direction matrix with two axes nearest the same patient axis (45° obliques) has
            // no LPS reading; show the grid as stored.
            sourceAxis = [0, 1, 2]
            flipped = [false, false, false]
        }
        let source = geometry.size
        let strides = [1, source.x, source.x * source.y]
        var start = 0
        var steps = [0, 0, 0]
        var size = Size3(0, 0, 0)
        var spacing = Vector3.zero
        for axis in 0..<3 {
            let s = sourceAxis[axis]
            size[axis] = source[s]
            spacing[axis] = geometry.spacing[s]
            steps[axis] = flipped[axis] ? -strides[s] : strides[s]
            if flipped[axis] { start += (source[s] - 1) * strides[s] }
        }
        self.sourceAxis = sourceAxis
        self.flipped = flipped
        self.start = start
        self.steps = steps
        self.size = size
        self.spacing = spacing
    }

    /// The stored index along stored axis `sourceAxis[axis]` of LPS coordinate `value` (a
    /// possibly fractional index along LPS axis `axis`), and the reverse.
    func toSource(_ value: Double, axis: Int) -> Double {
        flipped[axis] ? Double(size[axis] - 1) - value : value
    }

    /// The centre of the voxel at LPS index (a, b, c), in LPS millimetres.
    func physicalPoint(_ a: Double, _ b: Double, _ c: Double) -> Vector3 {
        var index = [0.0, 0.0, 0.0]
        index[sourceAxis[0]] = toSource(a, axis: 0)
        index[sourceAxis[1]] = toSource(b, axis: 1)
        index[sourceAxis[2]] = toSource(c, axis: 2)
        return geometry.physicalPoint(i: index[0], j: index[1], k: index[2])
    }

    /// Physical length of the grid along LPS axis `axis`, in millimetres.
    func extent(_ axis: Int) -> Double { Double(size[axis]) * spacing[axis] }
}

/// Where the labelled lungs are, in LPS-view indices.
struct LabelExtent {
    /// Lowest and highest LPS-view index holding a label, per axis.
    var lower: [Int]
    var upper: [Int]
    /// Mean LPS-view index of the labelled voxels, per axis.
    var centroid: [Double]

    /// The extent of the nonzero voxels of `labels`, or nil when there are none. Reads every
    /// voxel once, row by row, in storage order.
    init?(_ labels: Volume<UInt8>, grid: LPSGrid) {
        let size = labels.size
        var count = 0
        var sums = [0, 0, 0]
        var lower = [Int.max, Int.max, Int.max]
        var upper = [-1, -1, -1]
        labels.voxels.withUnsafeBufferPointer { voxels in
            for k in 0..<size.z {
                for j in 0..<size.y {
                    let row = UnsafeBufferPointer(
                        rebasing: voxels[(size.x * (j + size.y * k))..<(size.x * (j + size.y * k + 1))])
                    // Branch-free so the compiler can vectorise the common all-background rows.
                    var rowCount = 0
                    var rowSum = 0
                    for i in 0..<row.count {
                        let hit = row[i] != 0 ? 1 : 0
                        rowCount &+= hit
                        rowSum &+= hit &* i
                    }
                    guard rowCount > 0 else { continue }
                    count += rowCount
                    sums[0] += rowSum
                    sums[1] += rowCount * j
                    sums[2] += rowCount * k
                    lower[0] = min(lower[0], row.firstIndex { $0 != 0 }!)
                    upper[0] = max(upper[0], row.lastIndex { $0 != 0 }!)
                    lower[1] = min(lower[1], j)
                    upper[1] = max(upper[1], j)
                    lower[2] = min(lower[2], k)
                    upper[2] = max(upper[2], k)
                }
            }
        }
        guard count > 0 else { return nil }
        self.lower = [0, 0, 0]
        self.upper = [0, 0, 0]
        centroid = [0, 0, 0]
        for axis in 0..<3 {
            let s = grid.sourceAxis[axis]
            // Integer sums flipped exactly, so every stored orientation gives the same centroid.
            if grid.flipped[axis] {
                let last = grid.size[axis] - 1
                self.lower[axis] = last - upper[s]
                self.upper[axis] = last - lower[s]
                centroid[axis] = Double(last * count - sums[s]) / Double(count)
            } else {
                self.lower[axis] = lower[s]
                self.upper[axis] = upper[s]
                centroid[axis] = Double(sums[s]) / Double(count)
            }
        }
    }

    /// The whole grid, for volumes without labels.
    init(wholeGrid grid: LPSGrid) {
        lower = [0, 0, 0]
        upper = (0..<3).map { grid.size[$0] - 1 }
        centroid = (0..<3).map { Double(grid.size[$0] - 1) / 2 }
    }
}

/// A slice through the LPS view: one axis held at an index, one running across the picture
/// (left to right) and one running down it (top to bottom, or bottom to top when `upward`).
struct SlicePlane {
    var fixedAxis: Int
    var fixedIndex: Int
    var acrossAxis: Int
    var downAxis: Int
    /// The down axis grows towards the top of the picture (superior at the top of a coronal).
    var upward: Bool

    /// Axial: patient's right on the viewer's left (L grows to the right), anterior at the top.
    static func axial(_ c: Int) -> SlicePlane {
        SlicePlane(fixedAxis: 2, fixedIndex: c, acrossAxis: 0, downAxis: 1, upward: false)
    }

    /// Coronal: patient's right on the viewer's left, superior at the top.
    static func coronal(_ b: Int) -> SlicePlane {
        SlicePlane(fixedAxis: 1, fixedIndex: b, acrossAxis: 0, downAxis: 2, upward: true)
    }
}

/// One panel's pixels before colouring.
struct PanelSamples {
    var width: Int
    var height: Int
    /// Window-mapped gray, 0...255.
    var gray: [UInt8]
    /// Nearest-voxel labels (0 where there is no label volume).
    var labels: [UInt8]
    /// Interpolated probability, or nil without a probability map.
    var probability: [Float]?
}

/// Where one picture coordinate falls on the grid: the two voxels to interpolate between, the
/// weight of the second, and the nearest voxel.
struct SamplePosition {
    var first: Int
    var second: Int
    var weight: Double
    var nearest: Int

    /// Pixel `pixel` of `pixels` covering `voxels` voxels, pixel centres mapped onto the grid
    /// span so the picture covers the full voxel extent. Integer arithmetic for the nearest
    /// voxel keeps it exact.
    init(pixel: Int, of pixels: Int, voxels: Int, reversed: Bool) {
        let position = (Double(pixel) + 0.5) * Double(voxels) / Double(pixels) - 0.5
        let nearestForward = min(voxels - 1, ((2 * pixel + 1) * voxels) / (2 * pixels))
        let last = Double(voxels - 1)
        let clamped = min(last, max(0, reversed ? last - position : position))
        let base = min(voxels - 1, Int(clamped))
        first = base
        second = min(voxels - 1, base + 1)
        weight = clamped - Double(base)
        nearest = reversed ? voxels - 1 - nearestForward : nearestForward
    }
}

/// Samples `plane` into a `width`×`height` panel: HU and probability bilinearly, labels by
/// nearest voxel. Only the voxels the panel shows are read.
func samplePlane(
    _ plane: SlicePlane, width: Int, height: Int, grid: LPSGrid, content: OverviewContent
) -> PanelSamples {
    let across = (0..<width).map {
        SamplePosition(pixel: $0, of: width, voxels: grid.size[plane.acrossAxis], reversed: false)
    }
    let down = (0..<height).map {
        SamplePosition(pixel: $0, of: height, voxels: grid.size[plane.downAxis], reversed: plane.upward)
    }
    let base = grid.start + plane.fixedIndex * grid.steps[plane.fixedAxis]
    let acrossStep = grid.steps[plane.acrossAxis]
    let downStep = grid.steps[plane.downAxis]
    let lower = content.window.center - content.window.width / 2
    let grayPerHU = 255 / max(content.window.width, 1)

    var gray = [UInt8](repeating: 0, count: width * height)
    var labels = [UInt8](repeating: 0, count: width * height)
    var probability: [Float]? = content.probability == nil ? nil : [Float](repeating: 0, count: width * height)

    content.hu.voxels.withUnsafeBufferPointer { hu in
        for (y, d) in down.enumerated() {
            let row0 = base + d.first * downStep
            let row1 = base + d.second * downStep
            for (x, a) in across.enumerated() {
                let c0 = a.first * acrossStep
                let c1 = a.second * acrossStep
                let top = Double(hu[row0 + c0]) * (1 - a.weight) + Double(hu[row0 + c1]) * a.weight
                let bottom = Double(hu[row1 + c0]) * (1 - a.weight) + Double(hu[row1 + c1]) * a.weight
                let value = top * (1 - d.weight) + bottom * d.weight
                gray[y * width + x] = UInt8(min(255, max(0, ((value - lower) * grayPerHU).rounded())))
            }
        }
    }
    if let labelVolume = content.labels {
        labelVolume.voxels.withUnsafeBufferPointer { voxels in
            for (y, d) in down.enumerated() {
                let row = base + d.nearest * downStep
                for (x, a) in across.enumerated() { labels[y * width + x] = voxels[row + a.nearest * acrossStep] }
            }
        }
    }
    if let map = content.probability {
        map.voxels.withUnsafeBufferPointer { p in
            for (y, d) in down.enumerated() {
                let row0 = base + d.first * downStep
                let row1 = base + d.second * downStep
                let dw = Float(d.weight)
                for (x, a) in across.enumerated() {
                    let c0 = a.first * acrossStep
                    let c1 = a.second * acrossStep
                    let aw = Float(a.weight)
                    let top = p[row0 + c0] * (1 - aw) + p[row0 + c1] * aw
                    let bottom = p[row1 + c0] * (1 - aw) + p[row1 + c1] * aw
                    probability![y * width + x] = top * (1 - dw) + bottom * dw
                }
            }
        }
    }
    return PanelSamples(width: width, height: height, gray: gray, labels: labels, probability: probability)
}
