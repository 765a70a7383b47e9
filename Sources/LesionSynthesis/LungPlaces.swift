import VolumeCore

/// Where lesions can go: the lungs sampled on a coarse grid, each sample with what the planner
/// weighs (which lung, how deep below the chest wall, how high, how far back), all measured in
/// patient coordinates (LPS mm), so that any orientation and spacing gives the same places.
struct LungPlaces: Sendable {
    /// Samples are about this far apart along each voxel axis, mm: fine enough to centre a 1 cm
    /// lesion anywhere, coarse enough that a 512×512×300 CT gives a few 10⁴ samples.
    static let samplingStepMM = 5.0
    /// The thickness of the axial slabs in which the chest wall is traced, mm.
    static let slabMM = 8.0
    /// Peripheral means the outer third of the lung, as chest radiology defines "peripheral" or
    /// "subpleural" distribution ("involving mainly the peripheral one-third of the lung").
    static let peripheralDepthFraction = 1.0 / 3

    enum Side: Int, Sendable, CaseIterable {
        case right = 0
        case left = 1
        var other: Side { self == .right ? .left : .right }
    }

    struct Place: Sendable {
        /// The voxel's linear index.
        var index: Int
        /// Its centre, LPS mm.
        var point: Vector3
        /// The lung label there (the lesion stays inside voxels of this label).
        var label: UInt8
        var side: Side
        /// Depth below the chest wall as a fraction of the deepest lung point of the same axial
        /// slab: 0 at the wall, 1 deepest.
        var depthFraction = 0.0
        /// 0 at the lowest lung sample, 1 at the highest (patient S).
        var height = 0.0
        /// 0 at the most anterior lung sample, 1 at the most posterior (patient P).
        var posterior = 0.0
        /// The outward normal of the chest wall nearest to it, in the axial plane (LPS; zero
        /// where the slab has no wall).
        var wallNormal = Vector3.zero

        var isPeripheral: Bool { depthFraction <= LungPlaces.peripheralDepthFraction }
    }

    var places: [Place]
    /// The distance between samples along each voxel axis, mm, and those axes in LPS.
    var stepMM: Vector3
    var direction: Matrix3

    /// Samples `lungs` (nonzero = lung). Labels 1 and 2 are the patient's right and left lung,
    /// as lungct's segmentation writes them; any other nonzero label is assigned a side by its
    /// position, left or right of the lungs' mean.
    init(lungs: Volume<UInt8>) {
        let geometry = lungs.geometry
        let strides = (0..<3).map { max(1, Int((Self.samplingStepMM / geometry.spacing[$0]).rounded())) }
        stepMM = Vector3(
            geometry.spacing.x * Double(strides[0]), geometry.spacing.y * Double(strides[1]),
            geometry.spacing.z * Double(strides[2]))
        direction = geometry.direction
        var places: [Place] = []
        let size = geometry.size
        lungs.voxels.withUnsafeBufferPointer { labels in
            for k in stride(from: strides[2] / 2, to: size.z, by: strides[2]) {
                for j in stride(from: strides[1] / 2, to: size.y, by: strides[1]) {
                    for i in stride(from: strides[0] / 2, to: size.x, by: strides[0]) {
                        let index = i + size.x * (j + size.y * k)
                        let label = labels[index]
                        guard label != 0 else { continue }
                        let point = geometry.physicalPoint(i: Double(i), j: Double(j), k: Double(k))
                        places.append(Place(index: index, point: point, label: label, side: .right))
                    }
                }
            }
        }
        Self.assignSides(&places)
        Self.measureHeightAndPosterior(&places)
        Self.measureDepth(&places)
        self.places = places
    }

    var isEmpty: Bool { places.isEmpty }

    /// Right for label 1, left for label 2; other labels by x (LPS x grows to the patient's left).
    static func assignSides(_ places: inout [Place]) {
        let unlabelled = places.filter { $0.label != 1 && $0.label != 2 }
        let meanX = unlabelled.isEmpty ? 0 : unlabelled.reduce(0) { $0 + $1.point.x } / Double(unlabelled.count)
        for index in places.indices {
            switch places[index].label {
            case 1: places[index].side = .right
            case 2: places[index].side = .left
            default: places[index].side = places[index].point.x < meanX ? .right : .left
            }
        }
    }

    /// Height (S) and posterior position (P), each scaled to 0...1 over all samples.
    static func measureHeightAndPosterior(_ places: inout [Place]) {
        guard let first = places.first else { return }
        var (lowZ, highZ, lowY, highY) = (first.point.z, first.point.z, first.point.y, first.point.y)
        for place in places {
            lowZ = min(lowZ, place.point.z)
            highZ = max(highZ, place.point.z)
            lowY = min(lowY, place.point.y)
            highY = max(highY, place.point.y)
        }
        for index in places.indices {
            let point = places[index].point
            places[index].height = highZ > lowZ ? (point.z - lowZ) / (highZ - lowZ) : 0.5
            places[index].posterior = highY > lowY ? (point.y - lowY) / (highY - lowY) : 0.5
        }
    }

    /// Depth below the chest wall: in each axial slab, the distance from the convex hull of both
    /// lungs' cross-section (the costal pleura; the mediastinal pleura lies inside the hull, so
    /// the lungs' medial parts count as deep, as a radiologist's "central" does).
    static func measureDepth(_ places: inout [Place]) {
        var slabs: [Int: [Int]] = [:]
        for (index, place) in places.enumerated() {
            slabs[Int((place.point.z / slabMM).rounded(.down)), default: []].append(index)
        }
        for members in slabs.values {
            let points = members.map { Point2(x: places[$0].point.x, y: places[$0].point.y) }
            let hull = convexHull(points)
            guard hull.count >= 3 else { continue }
            let walls = points.map { nearestEdge($0, of: hull) }
            let deepest = walls.map(\.distance).max() ?? 0
            for (member, wall) in zip(members, walls) {
                places[member].depthFraction = deepest > 0 ? wall.distance / deepest : 0
                places[member].wallNormal = Vector3(wall.normal.x, wall.normal.y, 0)
            }
        }
    }

    /// The convex hull, counter-clockwise (Andrew's monotone chain).
    static func convexHull(_ points: [Point2]) -> [Point2] {
        let sorted = points.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
        guard sorted.count >= 3 else { return sorted }
        func turn(_ o: Point2, _ a: Point2, _ b: Point2) -> Double {
            (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
        }
        var lower: [Point2] = []
        for point in sorted {
            while lower.count >= 2, turn(lower[lower.count - 2], lower[lower.count - 1], point) <= 0 {
                lower.removeLast()
            }
            lower.append(point)
        }
        var upper: [Point2] = []
        for point in sorted.reversed() {
            while upper.count >= 2, turn(upper[upper.count - 2], upper[upper.count - 1], point) <= 0 {
                upper.removeLast()
            }
            upper.append(point)
        }
        return Array(lower.dropLast() + upper.dropLast())
    }

    /// The distance from a point inside a counter-clockwise convex polygon to its nearest edge,
    /// and that edge's outward unit normal.
    static func nearestEdge(_ point: Point2, of polygon: [Point2]) -> (distance: Double, normal: Point2) {
        var nearest = (distance: Double.infinity, normal: Point2(x: 0, y: 0))
        for index in polygon.indices {
            let a = polygon[index]
            let b = polygon[(index + 1) % polygon.count]
            let (ex, ey) = (b.x - a.x, b.y - a.y)
            let length2 = ex * ex + ey * ey
            guard length2 > 0 else { continue }
            let t = max(0, min(1, ((point.x - a.x) * ex + (point.y - a.y) * ey) / length2))
            let (ox, oy) = (point.x - (a.x + t * ex), point.y - (a.y + t * ey))
            let distance = (ox * ox + oy * oy).squareRoot()
            if distance < nearest.distance {
                // Counter-clockwise: the outside is on the right of each edge.
                let length = length2.squareRoot()
                nearest = (distance, Point2(x: ey / length, y: -ex / length))
            }
        }
        return nearest
    }
}

/// A point in an axial plane (LPS x and y, mm).
struct Point2: Sendable {
    var x: Double
    var y: Double
}

/// Draws places with the planner's weights, from one lung and one zone (peripheral or central)
/// at a time, falling back to the other zone, then the other lung, where one is empty.
struct PlaceSampler {
    /// Indices into `places.places` and their running weight sums, per side and zone.
    private var members: [[Int]] = Array(repeating: [], count: 4)
    private var cumulative: [[Double]] = Array(repeating: [], count: 4)

    /// A place's weight grows linearly towards the base and towards the back.
    init(_ places: LungPlaces, basalWeight: Double, posteriorWeight: Double) {
        let (basal, posterior) = (max(0, basalWeight), max(0, posteriorWeight))
        for (index, place) in places.places.enumerated() {
            let weight = (1 + basal * (1 - place.height)) * (1 + posterior * place.posterior)
            let bin = Self.bin(place.side, peripheral: place.isPeripheral)
            members[bin].append(index)
            cumulative[bin].append((cumulative[bin].last ?? 0) + weight)
        }
    }

    static func bin(_ side: LungPlaces.Side, peripheral: Bool) -> Int { side.rawValue * 2 + (peripheral ? 0 : 1) }

    func totalWeight(_ side: LungPlaces.Side) -> Double {
        (cumulative[Self.bin(side, peripheral: true)].last ?? 0)
            + (cumulative[Self.bin(side, peripheral: false)].last ?? 0)
    }

    /// A side, in proportion to each lung's total weight; `u` in [0, 1).
    func side(_ u: Double) -> LungPlaces.Side {
        let right = totalWeight(.right)
        return u * (right + totalWeight(.left)) < right ? .right : .left
    }

    /// A place index drawn by weight from the side and zone asked for, or the nearest fallback.
    func place(side: LungPlaces.Side, peripheral: Bool, _ u: Double) -> Int? {
        let order = [(side, peripheral), (side, !peripheral), (side.other, peripheral), (side.other, !peripheral)]
        for (candidateSide, zone) in order {
            let bin = Self.bin(candidateSide, peripheral: zone)
            guard let total = cumulative[bin].last, total > 0 else { continue }
            let target = u * total
            var (low, high) = (0, cumulative[bin].count - 1)
            while low < high {
                let middle = (low + high) / 2
                if cumulative[bin][middle] > target { high = middle } else { low = middle + 1 }
            }
            return members[bin][low]
        }
        return nil
    }
}
