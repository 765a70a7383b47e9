import VolumeCore

/// A picture for looking at synthetic lesions: rows of axial slices, each "before | after |
/// after with the truth outlined", in a window, cropped to the lungs; the patient's right on the
/// viewer's left and anterior up (the radiological convention). The slices shown are those
/// with the most lesion, at least 15 mm apart; without lesions, those with the most lung.
public enum LesionPreview {
    /// Truth outlines: ground glass yellow, consolidation red (both unlike any gray).
    static let groundGlassColour: RGB = (255, 215, 0)
    static let consolidationColour: RGB = (255, 40, 40)

    typealias RGB = (red: UInt8, green: UInt8, blue: UInt8)
    /// Black pixels between panels.
    static let gap = 6
    /// Small crops are enlarged by a whole factor until their long side reaches this.
    static let minimumPanelSide = 320
    /// Lung tissue around the crop, mm.
    static let marginMM = 8.0
    /// Slices shown lie at least this far apart, mm, so they show different lesions.
    static let levelSeparationMM = 15.0

    /// An RGB picture, rows top to bottom, three samples per pixel.
    public struct Picture: Sendable {
        public var width: Int
        public var height: Int
        public var rgb: [UInt8]
    }

    /// Renders `rows` rows (fewer when the lungs span fewer slices). The four volumes share one
    /// grid (a programmer error otherwise), in any orientation.
    public static func render(
        before: Volume<Int16>, after: Volume<Int16>, truth: Volume<UInt8>, lungs: Volume<UInt8>,
        window: HUWindow = .lung, rows: Int = 3
    ) -> Picture {
        precondition(
            [after.size, truth.size, lungs.size].allSatisfy { $0 == before.size }, "the volumes are not on one grid")
        let before = (try? before.reoriented(to: "LPS")) ?? before
        let after = (try? after.reoriented(to: "LPS")) ?? after
        let truth = (try? truth.reoriented(to: "LPS")) ?? truth
        let lungs = (try? lungs.reoriented(to: "LPS")) ?? lungs
        let levels = chooseLevels(truth: truth, lungs: lungs, count: max(1, rows))
        let crop = cropBox(lungs)
        let longSide = max(1, max(crop.width, crop.height))
        let scale = max(1, (minimumPanelSide + longSide - 1) / longSide)
        let (panelWidth, panelHeight) = (crop.width * scale, crop.height * scale)
        let width = 3 * panelWidth + 2 * gap
        let height = levels.count * panelHeight + (levels.count - 1) * gap
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for (row, k) in levels.enumerated() {
            for (column, volume) in [before, after, after].enumerated() {
                for y in 0..<crop.height {
                    for x in 0..<crop.width {
                        let index = volume.linearIndex(crop.x + x, crop.y + y, k)
                        let gray = UInt8(255 * window.normalized(Double(volume.voxels[index])))
                        var colour: RGB = (gray, gray, gray)
                        if column == 2, let outline = outlineColour(truth, crop.x + x, crop.y + y, k) {
                            colour = outline
                        }
                        for dy in 0..<scale {
                            let py = row * (panelHeight + gap) + y * scale + dy
                            for dx in 0..<scale {
                                let px = column * (panelWidth + gap) + x * scale + dx
                                let offset = (py * width + px) * 3
                                (rgb[offset], rgb[offset + 1], rgb[offset + 2]) = colour
                            }
                        }
                    }
                }
            }
        }
        return Picture(width: width, height: height, rgb: rgb)
    }

    /// The axial levels (k of an LPS volume) with the most lesion, then with the most lung, at
    /// least `levelSeparationMM` apart, from the head down.
    static func chooseLevels(truth: Volume<UInt8>, lungs: Volume<UInt8>, count: Int) -> [Int] {
        let size = truth.size
        let plane = size.x * size.y
        var lesion = [Int](repeating: 0, count: size.z)
        var lung = [Int](repeating: 0, count: size.z)
        for index in 0..<size.count {
            if truth.voxels[index] != 0 { lesion[index / plane] += 1 }
            if lungs.voxels[index] != 0 { lung[index / plane] += 1 }
        }
        let separation = Int((levelSeparationMM / truth.geometry.spacing.z).rounded(.up))
        var chosen: [Int] = []
        for ranking in [lesion, lung] {
            let order = (0..<size.z).filter { ranking[$0] > 0 }.sorted { ranking[$0] > ranking[$1] }
            for k in order where chosen.count < count && chosen.allSatisfy({ abs($0 - k) >= separation }) {
                chosen.append(k)
            }
        }
        if chosen.isEmpty { chosen = [size.z / 2] }
        return chosen.sorted(by: >)
    }

    /// The in-plane box around every lung voxel with a margin; the whole plane without lungs.
    static func cropBox(_ lungs: Volume<UInt8>) -> (x: Int, y: Int, width: Int, height: Int) {
        let size = lungs.size
        var (lowX, highX, lowY, highY) = (size.x, -1, size.y, -1)
        for index in 0..<size.count where lungs.voxels[index] != 0 {
            let (x, y) = (index % size.x, (index / size.x) % size.y)
            (lowX, highX, lowY, highY) = (min(lowX, x), max(highX, x), min(lowY, y), max(highY, y))
        }
        guard highX >= lowX else { return (0, 0, size.x, size.y) }
        let marginX = Int((marginMM / lungs.geometry.spacing.x).rounded(.up))
        let marginY = Int((marginMM / lungs.geometry.spacing.y).rounded(.up))
        let (x0, y0) = (max(0, lowX - marginX), max(0, lowY - marginY))
        let (x1, y1) = (min(size.x - 1, highX + marginX), min(size.y - 1, highY + marginY))
        return (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    }

    /// The outline colour at a truth pixel whose in-plane neighbour has another label.
    static func outlineColour(_ truth: Volume<UInt8>, _ x: Int, _ y: Int, _ k: Int) -> RGB? {
        let label = truth[x, y, k]
        guard label != LesionLabel.none else { return nil }
        let size = truth.size
        let neighbours = [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
        let edge = neighbours.contains { nx, ny in
            nx < 0 || ny < 0 || nx >= size.x || ny >= size.y || truth[nx, ny, k] != label
        }
        guard edge else { return nil }
        return label == LesionLabel.consolidation ? consolidationColour : groundGlassColour
    }
}
