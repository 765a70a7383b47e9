import VolumeCore

/// Right and left lung fields on a radiograph, from a both-lungs foreground mask (a network's
/// thresholded output): the two largest connected regions, their holes filled, each labelled by
/// the side of the image's midline it lies on.
///
/// Labels are those of the CT lung masks (`lung_mask.nii.gz`): 0 background, 1 the patient's
/// right lung, 2 the patient's left lung. A chest radiograph is displayed as if the viewer faced
/// the patient (PA and AP alike): the patient's right is on the image's left
/// (`patientRightOnImageLeft`). lungct assumes that display for every radiograph.
public enum LungFields {
    public static let background: UInt8 = 0
    public static let rightLung: UInt8 = 1
    public static let leftLung: UInt8 = 2

    /// Regions kept: two lungs.
    public static let regionsKept = 2
    /// A region smaller than this fraction of the image is noise, not a lung field: an adult
    /// lung field covers 10–20 % of a chest film, a collapsed one still about 2 %.
    public static let minimumRegionFraction = 0.005
    /// A region with at least this fraction of its pixels on each side of the midline holds both
    /// lungs joined across the mediastinum: it is split at the midline column.
    public static let straddlingFraction = 0.25

    /// Labels (`rightLung`, `leftLung`, `background`) for a width×height foreground mask (row major).
    public static func labels(
        foreground: [Bool], width: Int, height: Int, patientRightOnImageLeft: Bool = true
    ) -> [UInt8] {
        precondition(foreground.count == width * height, "LungFields: mask size does not match")
        let (component, sizes) = components(foreground, width: width, height: height)
        let minimum = Int(minimumRegionFraction * Double(width * height))
        let kept = sizes.indices.filter { sizes[$0] >= max(1, minimum) }.sorted { sizes[$0] > sizes[$1] }
            .prefix(regionsKept)
        let midline = width / 2
        var result = [UInt8](repeating: background, count: width * height)
        let imageLeft = patientRightOnImageLeft ? rightLung : leftLung
        let imageRight = patientRightOnImageLeft ? leftLung : rightLung
        for region in kept {
            var filled = [Bool](repeating: false, count: width * height)
            for index in component.indices where component[index] == region { filled[index] = true }
            filled = fillingHoles(filled, width: width, height: height)
            var leftSide = 0
            var total = 0
            for index in filled.indices where filled[index] {
                total += 1
                if index % width < midline { leftSide += 1 }
            }
            let leftFraction = Double(leftSide) / Double(max(1, total))
            let straddles = min(leftFraction, 1 - leftFraction) >= straddlingFraction
            for index in filled.indices where filled[index] && result[index] == background {
                let onLeft = straddles ? index % width < midline : leftFraction >= 0.5
                result[index] = onLeft ? imageLeft : imageRight
            }
        }
        return result
    }

    /// The lung-field labels on a radiograph's own grid (a single-slice volume), from a
    /// per-pixel lung probability on the same grid (foreground where ≥ `threshold`).
    public static func labels(probability: Volume<Float>, threshold: Float = 0.5) -> Volume<UInt8> {
        let (width, height) = (probability.size.x, probability.size.y)
        let plane = width * height
        let mask = probability.voxels[0..<plane].map { $0 >= threshold }
        var result = Volume(geometry: probability.geometry, repeating: background)
        let labelled = labels(foreground: mask, width: width, height: height)
        for index in 0..<plane { result.voxels[index] = labelled[index] }
        return result
    }

    /// 4-connected components of the foreground: each pixel's component (-1 for background)
    /// and each component's size.
    static func components(_ mask: [Bool], width: Int, height: Int) -> (component: [Int], sizes: [Int]) {
        var component = [Int](repeating: -1, count: mask.count)
        var sizes: [Int] = []
        var stack: [Int] = []
        for start in mask.indices where mask[start] && component[start] < 0 {
            let id = sizes.count
            var size = 0
            component[start] = id
            stack.append(start)
            while let index = stack.popLast() {
                size += 1
                let x = index % width
                // The four neighbours, without allocating: west, east, north, south.
                for (next, inside) in [
                    (index - 1, x > 0), (index + 1, x < width - 1), (index - width, index >= width),
                    (index + width, index + width < mask.count),
                ] where inside && mask[next] && component[next] < 0 {
                    component[next] = id
                    stack.append(next)
                }
            }
            sizes.append(size)
        }
        return (component, sizes)
    }

    /// The mask with every background region that does not reach the image border filled.
    static func fillingHoles(_ mask: [Bool], width: Int, height: Int) -> [Bool] {
        let outside = mask.map { !$0 }
        let (component, sizes) = components(outside, width: width, height: height)
        var touchesBorder = [Bool](repeating: false, count: sizes.count)
        for x in 0..<width {
            for y in [0, height - 1] where component[y * width + x] >= 0 {
                touchesBorder[component[y * width + x]] = true
            }
        }
        for y in 0..<height {
            for x in [0, width - 1] where component[y * width + x] >= 0 {
                touchesBorder[component[y * width + x]] = true
            }
        }
        return mask.indices.map { mask[$0] || !touchesBorder[component[$0]] }
    }

    /// The Dice overlap of two masks (1 when both are empty).
    public static func dice(_ a: [Bool], _ b: [Bool]) -> Double {
        precondition(a.count == b.count, "LungFields.dice: masks differ in size")
        var (both, total) = (0, 0)
        for index in a.indices {
            if a[index] { total += 1 }
            if b[index] { total += 1 }
            if a[index] && b[index] { both += 1 }
        }
        return total == 0 ? 1 : 2 * Double(both) / Double(total)
    }
}
