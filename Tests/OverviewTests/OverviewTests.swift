import Foundation
import Testing
import VolumeCore

@testable import Overview

/// A chest phantom in LPS: 64×64×40 voxels of 5 × 5 × 7.5 mm (anisotropic, like thick-slice
/// CT). Air outside an elliptic body of 40 HU; two ellipsoid lungs of -850 HU, label 1 on the
/// patient's right (negative x) and 2 on the left; a probability blob inside the right lung.
struct ChestPhantom {
    static let size = Size3(64, 64, 40)
    static let spacing = Vector3(5, 5, 7.5)
    static let origin = Vector3(-157.5, -157.5, -300)
    /// Lung centres and semi-axes in millimetres.
    static let rightLungCentre = Vector3(-60, 0, -150)
    static let leftLungCentre = Vector3(60, 0, -150)
    static let lungSemiAxes = Vector3(40, 70, 100)
    static let blobCentre = Vector3(-60, -10, -150)
    static let blobRadius = 25.0

    var hu: Volume<Int16>
    var labels: Volume<UInt8>
    var probability: Volume<Float>

    init() {
        let geometry = Geometry(size: Self.size, spacing: Self.spacing, origin: Self.origin)
        hu = Volume(geometry: geometry, repeating: -1000)
        labels = Volume(geometry: geometry, repeating: 0)
        probability = Volume(geometry: geometry, repeating: 0)
        func inside(_ p: Vector3, _ centre: Vector3, _ axes: Vector3) -> Bool {
            let d = p - centre
            return (d.x / axes.x) * (d.x / axes.x) + (d.y / axes.y) * (d.y / axes.y) + (d.z / axes.z) * (d.z / axes.z)
                <= 1
        }
        for k in 0..<Self.size.z {
            for j in 0..<Self.size.y {
                for i in 0..<Self.size.x {
                    let p = geometry.physicalPoint(i: Double(i), j: Double(j), k: Double(k))
                    if (p.x / 140) * (p.x / 140) + (p.y / 100) * (p.y / 100) <= 1 { hu[i, j, k] = 40 }
                    if inside(p, Self.rightLungCentre, Self.lungSemiAxes) {
                        hu[i, j, k] = -850
                        labels[i, j, k] = 1
                    } else if inside(p, Self.leftLungCentre, Self.lungSemiAxes) {
                        hu[i, j, k] = -850
                        labels[i, j, k] = 2
                    }
                    let distance = (p - Self.blobCentre).length
                    probability[i, j, k] = Float(max(0, 1 - distance / (2 * Self.blobRadius)))
                }
            }
        }
    }

    var content: OverviewContent {
        OverviewContent(
            hu: hu, labels: labels, probability: probability, title: "lungct 0.1.0 - series #3 1.2.840.99.1234",
            lines: [
                "Right lung 2870 mL  mean -842 HU", "Left lung 2410 mL  mean -851 HU", "COVID-19 probability 0.62 (×1)",
            ])
    }

    /// The same data stored in another orientation.
    func reoriented(to code: String) throws -> OverviewContent {
        var content = self.content
        content.hu = try hu.reoriented(to: code)
        content.labels = try labels.reoriented(to: code)
        content.probability = try probability.reoriented(to: code)
        return content
    }
}

func pixel(_ image: OverviewImage, _ x: Int, _ y: Int) -> RGB {
    let index = (y * image.width + x) * 3
    return RGB(image.rgb[index], image.rgb[index + 1], image.rgb[index + 2])
}

/// Counts the pixels of `rect` for which `predicate` holds.
func count(_ image: OverviewImage, in rect: PixelRect, where predicate: (RGB) -> Bool) -> Int {
    var total = 0
    for y in rect.y..<rect.maxY {
        for x in rect.x..<rect.maxX where predicate(pixel(image, x, y)) { total += 1 }
    }
    return total
}

/// The heat map's colours: red well above blue (gray, contours and text have red ≈ blue or blue high).
func isHeat(_ c: RGB) -> Bool { Int(c.r) - Int(c.b) > 60 && c.r >= c.g }

func halves(_ rect: PixelRect) -> (left: PixelRect, right: PixelRect) {
    let half = rect.width / 2
    return (
        PixelRect(x: rect.x, y: rect.y, width: half, height: rect.height),
        PixelRect(x: rect.x + rect.width - half, y: rect.y, width: half, height: rect.height)
    )
}

@Suite struct OverviewTests {
    /// Built once: the suite makes a fresh instance per test.
    static let shared = ChestPhantom()
    var phantom: ChestPhantom { Self.shared }
    /// The phantom's picture, rendered once for the tests that only look at it.
    static let rendered = layOut(shared.content)

    @Test func sizeAndPanelsFollowThePhysicalExtent() {
        let layout = Self.rendered
        let image = layout.image
        #expect(image.width == 756)
        #expect(image.height > 700 && image.height < 1100)
        #expect(image.rgb.count == image.width * image.height * 3)
        #expect(layout.panels.map(\.kind) == [.axial, .axial, .axial, .coronal])
        for panel in layout.panels {
            #expect(panel.rect.x >= 0 && panel.rect.maxX <= image.width)
            #expect(panel.rect.y >= layout.titleBand.maxY && panel.rect.maxY <= image.height)
        }
        // 320 × 320 mm axially; 320 mm wide by 300 mm high coronally, despite 7.5 mm slices.
        #expect(layout.panels[0].rect.width == 360 && layout.panels[0].rect.height == 360)
        #expect(layout.panels[3].rect.width == 360 && layout.panels[3].rect.height == 338)
        // Lungs span z = -247.5 ... -52.5 mm (slice centres); 70 %, 50 %, 30 % of that.
        #expect(
            layout.panels.map(\.caption) == [
                "axial z=-112.5 mm", "axial z=-150.0 mm", "axial z=-187.5 mm", "coronal y=2.5 mm",
            ])
    }

    @Test func radiologicalConventionPutsTheRightLungOnTheViewersLeft() {
        let layout = Self.rendered
        for panel in layout.panels {
            let (left, right) = halves(panel.rect)
            let rightLungOnLeft = count(layout.image, in: left) { $0 == Style.rightLung }
            let leftLungOnLeft = count(layout.image, in: left) { $0 == Style.leftLung }
            let rightLungOnRight = count(layout.image, in: right) { $0 == Style.rightLung }
            let leftLungOnRight = count(layout.image, in: right) { $0 == Style.leftLung }
            #expect(rightLungOnLeft > 100, "\(panel.caption)")
            #expect(leftLungOnRight > 100, "\(panel.caption)")
            #expect(rightLungOnRight == 0 && leftLungOnLeft == 0, "\(panel.caption)")
        }
    }

    @Test func anteriorIsAtTheTopAndSuperiorAtTheTopOfTheCoronal() throws {
        // Make the anterior half of the body (negative y) bright bone, and the top slices too.
        var content = phantom.content
        content.labels = nil
        content.probability = nil
        let g = content.hu.geometry
        for k in 0..<g.size.z {
            for j in 0..<g.size.y {
                for i in 0..<g.size.x {
                    let p = g.physicalPoint(i: Double(i), j: Double(j), k: Double(k))
                    if p.y < -60 || p.z > -40 { content.hu[i, j, k] = 1000 }
                }
            }
        }
        let flipped = try content.hu.reoriented(to: "RAI")
        for hu in [content.hu, flipped] {
            content.hu = hu
            let layout = layOut(content)
            let axial = layout.panels[1].rect
            let coronal = layout.panels[3].rect
            let white = { (c: RGB) in c == RGB(gray: 255) }
            let top = PixelRect(x: axial.x + 100, y: axial.y + 30, width: 160, height: 40)
            let bottom = PixelRect(x: axial.x + 100, y: axial.maxY - 70, width: 160, height: 40)
            #expect(count(layout.image, in: top, where: white) == top.width * top.height)
            #expect(count(layout.image, in: bottom, where: white) == 0)
            let superior = PixelRect(x: coronal.x + 100, y: coronal.y + 20, width: 160, height: 20)
            let inferior = PixelRect(x: coronal.x + 100, y: coronal.maxY - 40, width: 160, height: 20)
            #expect(count(layout.image, in: superior, where: white) == superior.width * superior.height)
            #expect(count(layout.image, in: inferior, where: white) == 0)
        }
    }

    /// Sampling happens on the grid as if reoriented to LPS, with the same arithmetic whatever
    /// the stored order, so the pictures are identical pixel for pixel (no interpolation
    /// difference), captions included.
    @Test(arguments: ["RAI", "RAS", "LPI", "ASL"])
    func otherOrientationsRenderTheSamePicture(code: String) throws {
        let reference = Self.rendered.image
        let turned = try phantom.reoriented(to: code)
        #expect(turned.hu.geometry.orientationCode == code)
        let picture = Overview.render(turned)
        #expect(picture.width == reference.width && picture.height == reference.height)
        #expect(picture.rgb == reference.rgb)
    }

    @Test func titleIsDrawn() {
        let layout = Self.rendered
        #expect(layout.titleBand.height >= Style.lineHeight)
        let lit = count(layout.image, in: layout.titleBand) { $0 != Style.background }
        #expect(lit > 500)
        var untitled = phantom.content
        untitled.title = ""
        #expect(layOut(untitled).titleBand.height == 0)
    }

    @Test func heatColoursMarkHighProbability() {
        let layout = Self.rendered
        let middle = layout.panels[1]
        // The blob's centre (x = -60 mm, y = -10 mm) where the probability is about 0.9.
        let x = middle.rect.x + Int((-60 - ChestPhantom.origin.x + 2.5) / 320 * 360)
        let y = middle.rect.y + Int((-10 - ChestPhantom.origin.y + 2.5) / 320 * 360)
        #expect(isHeat(pixel(layout.image, x, y)))
        let (left, right) = halves(middle.rect)
        #expect(count(layout.image, in: left, where: isHeat) > 500)
        #expect(count(layout.image, in: right, where: isHeat) == 0)
        // Without a map, nothing in the panels looks like heat.
        var plain = phantom.content
        plain.probability = nil
        let plainLayout = layOut(plain)
        for panel in plainLayout.panels { #expect(count(plainLayout.image, in: panel.rect, where: isHeat) == 0) }
    }

    @Test func withoutLabelsTheVolumeCentreIsShownAndNoContours() {
        var content = phantom.content
        content.labels = nil
        let layout = layOut(content)
        // Volume z = -300 ... -7.5 mm: 70 % of the slice span is slice 27 (z = -97.5 mm).
        #expect(layout.panels[0].caption == "axial z=-97.5 mm")
        for panel in layout.panels {
            #expect(count(layout.image, in: panel.rect) { $0 == Style.rightLung || $0 == Style.leftLung } == 0)
        }
    }

    @Test func writesAPNGAndNamesABadPath() throws {
        let folder = NSTemporaryDirectory() + "lungct-overview-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/overview.png"
        try Overview.write(phantom.content, to: path)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])

        let bad = folder + "/no-such-folder/overview.png"
        let error = #expect(throws: (any Error).self) { try Overview.write(phantom.content, to: bad) }
        #expect(String(describing: error!).contains(bad))

        // For looking at: LUNGCT_OVERVIEW_SAMPLE=/tmp/overview-test.png swift test --filter OverviewTests
        if let sample = ProcessInfo.processInfo.environment["LUNGCT_OVERVIEW_SAMPLE"] {
            try Overview.write(phantom.content, to: sample)
        }
    }

    @Test func textIsFoldedToASCIIAndWrapped() {
        #expect(String(decoding: BitmapFont.printable("3×4 − 1 µm é"), as: UTF8.self) == "3x4 - 1 um ?")
        #expect(wrap("a  b", columns: 10) == ["a  b"])
        #expect(wrap("alpha beta gamma", columns: 10) == ["alpha beta", "gamma"])
        #expect(wrap("abcdefghijkl", columns: 5) == ["abcde", "fghij", "kl"])
        #expect(decimal(-0.04, places: 1) == "0.0")
        #expect(decimal(-112.5, places: 1) == "-112.5")
        #expect(decimal(3.05, places: 2) == "3.05")
    }

    @Test func everyGlyphIsDefinedAndSpaceIsBlank() {
        for code in (BitmapFont.firstCode + 1)...BitmapFont.lastCode {
            let lit = (0..<BitmapFont.glyphHeight).reduce(0) { sum, row in
                sum + (0..<5).filter { BitmapFont.isLit(code: code, column: $0, row: row) }.count
            }
            #expect(lit > 0, "glyph \(code) is empty")
        }
        #expect(BitmapFont.rows[0..<BitmapFont.glyphHeight].allSatisfy { $0 == 0 })
    }
}

@Test func aSingleSliceShowsThePictureAndItsMapSideBySide() {
    let geometry = Geometry(size: Size3(80, 60, 1), spacing: Vector3(1, 1, 1))
    var picture = Volume(geometry: geometry, repeating: Int16(0))
    for index in picture.voxels.indices { picture.voxels[index] = Int16(index % 80 * 12) }
    var map = Volume(geometry: geometry, repeating: Float(0))
    for index in map.voxels.indices where index % 80 > 40 { map.voxels[index] = 0.9 }
    let withMap = layOut(OverviewContent(hu: picture, probability: map, window: HUWindow(center: 500, width: 1000)))
    #expect(withMap.panels.map(\.kind) == [.picture, .axial])
    let without = layOut(OverviewContent(hu: picture, window: HUWindow(center: 500, width: 1000)))
    #expect(without.panels.map(\.kind) == [.picture])
    // Heat (red, little green and blue) only in the map panel, on its right half.
    func reddish(_ panel: PanelFrame, _ x: Int, _ y: Int) -> Bool {
        let offset = ((panel.rect.y + y) * withMap.image.width + panel.rect.x + x) * 3
        let (r, g, b) = (withMap.image.rgb[offset], withMap.image.rgb[offset + 1], withMap.image.rgb[offset + 2])
        return Int(r) > Int(g) + 60 && Int(r) > Int(b) + 60
    }
    let (plain, heat) = (withMap.panels[0], withMap.panels[1])
    let row = heat.rect.height / 2
    #expect(reddish(heat, heat.rect.width * 3 / 4, row))
    #expect(!reddish(heat, heat.rect.width / 4, row))
    #expect(!reddish(plain, plain.rect.width * 3 / 4, row))
}
