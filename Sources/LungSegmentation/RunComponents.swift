/// A plane's runs (maximal horizontal stretches of one value) and their 4-connected
/// components by union–find: two runs of neighbouring rows touch when their columns overlap.
/// A chest slice of 512×512 pixels has a few runs per row, so work on runs instead of pixels is
/// a few thousand steps instead of a quarter of a million (`RunComponents.body`).
struct RunComponents {
    /// Per run: its row, first and last column, in raster order.
    private(set) var rows: [Int32] = []
    private(set) var firsts: [Int32] = []
    private(set) var lasts: [Int32] = []
    /// Per row, the index of its first run; `height + 1` entries.
    private(set) var rowStarts: [Int] = []
    private var parents: [Int32] = []

    var count: Int { rows.count }

    /// The runs of the pixels for which `isSet(x, y)` holds, and their components.
    init(width: Int, height: Int, isSet: (_ row: Int) -> [(first: Int, last: Int)]) {
        rowStarts.reserveCapacity(height + 1)
        for y in 0..<height {
            rowStarts.append(rows.count)
            for run in isSet(y) { append(row: y, first: run.first, last: run.last) }
        }
        rowStarts.append(rows.count)
        parents = (0..<Int32(rows.count)).map { $0 }
        for y in 1..<max(1, height) { joinRows(y - 1, y) }
    }

    private mutating func append(row: Int, first: Int, last: Int) {
        rows.append(Int32(row))
        firsts.append(Int32(first))
        lasts.append(Int32(last))
    }

    /// Joins the runs of row `upper` with the runs of row `lower` that they overlap.
    private mutating func joinRows(_ upper: Int, _ lower: Int) {
        var (a, b) = (rowStarts[upper], rowStarts[lower])
        let (aEnd, bEnd) = (rowStarts[upper + 1], rowStarts[lower + 1])
        while a < aEnd, b < bEnd {
            if firsts[a] <= lasts[b], firsts[b] <= lasts[a] { union(a, b) }
            if lasts[a] < lasts[b] { a += 1 } else { b += 1 }
        }
    }

    /// The component of run `run`: the index of its earliest run (raster order).
    mutating func root(_ run: Int) -> Int {
        var node = run
        while Int(parents[node]) != node {
            parents[node] = parents[Int(parents[node])]
            node = Int(parents[node])
        }
        return node
    }

    private mutating func union(_ a: Int, _ b: Int) {
        let (ra, rb) = (root(a), root(b))
        guard ra != rb else { return }
        // The earlier run stays the root, so a root is its component's first run.
        if ra < rb { parents[rb] = Int32(ra) } else { parents[ra] = Int32(rb) }
    }

    func length(_ run: Int) -> Int { Int(lasts[run] - firsts[run]) + 1 }
}

extension RunComponents {
    /// The body in one slice, as `Morphology.largestComponent` then `Morphology.fillHoles` make it
    /// from the pixels above `threshold`: the largest 4-connected region (ties: the first in
    /// raster order) with every background pixel that cannot reach the plane's border (through
    /// 4-connected background) filled. Written into `out` (`width × height`, 0 or 1).
    static func body(
        _ hu: UnsafePointer<Int16>, width: Int, height: Int, above threshold: Int16,
        into out: UnsafeMutablePointer<UInt8>
    ) {
        var tissue = RunComponents(width: width, height: height) { y in
            runs(width: width) { hu[y * width + $0] > threshold }
        }
        out.update(repeating: 0, count: width * height)
        // The largest component: sizes summed at each root, the first root in raster order wins ties.
        var sizes = [Int](repeating: 0, count: tissue.count)
        for run in 0..<tissue.count { sizes[tissue.root(run)] += tissue.length(run) }
        guard let largest = sizes.indices.max(by: { sizes[$0] < sizes[$1] || (sizes[$0] == sizes[$1] && $0 > $1) }),
            sizes[largest] > 0
        else { return }
        let kept = (0..<tissue.count).filter { tissue.root($0) == largest }
        // The background between the kept runs, and its components that reach the border.
        var keptByRow = [[(first: Int, last: Int)]](repeating: [], count: height)
        for run in kept { keptByRow[Int(tissue.rows[run])].append((Int(tissue.firsts[run]), Int(tissue.lasts[run]))) }
        var background = RunComponents(width: width, height: height) { y in gaps(between: keptByRow[y], width: width) }
        var outside = [Bool](repeating: false, count: background.count)
        for run in 0..<background.count {
            let row = Int(background.rows[run])
            if row == 0 || row == height - 1 || background.firsts[run] == 0 || Int(background.lasts[run]) == width - 1 {
                outside[background.root(run)] = true
            }
        }
        // Everything but the outside background is body.
        for y in 0..<height {
            var x = 0
            for run in background.rowStarts[y]..<background.rowStarts[y + 1] where outside[background.root(run)] {
                (out + y * width + x).update(repeating: 1, count: Int(background.firsts[run]) - x)
                x = Int(background.lasts[run]) + 1
            }
            (out + y * width + x).update(repeating: 1, count: width - x)
        }
    }

    /// The runs of the columns where `isSet` holds in a row of `width` pixels.
    static func runs(width: Int, _ isSet: (Int) -> Bool) -> [(first: Int, last: Int)] {
        var result: [(first: Int, last: Int)] = []
        var x = 0
        while x < width {
            guard isSet(x) else {
                x += 1
                continue
            }
            let first = x
            while x + 1 < width, isSet(x + 1) { x += 1 }
            result.append((first, x))
            x += 1
        }
        return result
    }

    /// The runs between sorted, separate runs in a row of `width` pixels.
    static func gaps(between runs: [(first: Int, last: Int)], width: Int) -> [(first: Int, last: Int)] {
        var result: [(first: Int, last: Int)] = []
        var x = 0
        for run in runs {
            if run.first > x { result.append((x, run.first - 1)) }
            x = run.last + 1
        }
        if x < width { result.append((x, width - 1)) }
        return result
    }
}
