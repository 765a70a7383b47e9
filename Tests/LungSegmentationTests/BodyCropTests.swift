import Phantom
import TestSupport
import Testing
import VolumeCore

@testable import LungSegmentation

/// The body's box holds every body voxel with the margin around it, its grid sits where its
/// first voxel is, and cutting then pasting gives back the box's voxels and zeros elsewhere.
@Test func theBodysBoxHoldsTheBodyWithItsMarginAndPastesBack() throws {
    let geometry = Geometry(size: Size3(40, 30, 3), spacing: Vector3(0.5, 0.8, 2), origin: Vector3(-10, 5, 7))
    var body = [UInt8](repeating: 0, count: geometry.size.count)
    // Body in slice 0 at x 12...20, y 10...14; in slice 2 at x 15...25, y 9...12; none in slice 1.
    for (k, xs, ys) in [(0, 12...20, 10...14), (2, 15...25, 9...12)] {
        for y in ys { for x in xs { body[(k * 30 + y) * 40 + x] = 1 } }
    }
    let crop = try #require(BodyCrop(body: body, geometry: geometry))
    #expect(crop.x == (12 - BodyCrop.margin)..<(25 + 1 + BodyCrop.margin))
    #expect(crop.y == (9 - BodyCrop.margin)..<(14 + 1 + BodyCrop.margin))
    #expect(crop.geometry.size == Size3(crop.x.count, crop.y.count, 3))
    #expect(
        crop.geometry.origin == geometry.physicalPoint(i: Double(crop.x.lowerBound), j: Double(crop.y.lowerBound), k: 0)
    )
    let cut = crop.cut(body)
    #expect(cut.count == crop.geometry.size.count)
    #expect(cut.reduce(0) { $0 + Int($1) } == body.reduce(0) { $0 + Int($1) })
    #expect(crop.paste(cut) == body)
    // A body that reaches the plane's edges leaves nothing to cut; no body, no box.
    #expect(BodyCrop(body: [UInt8](repeating: 1, count: geometry.size.count), geometry: geometry) == nil)
    #expect(BodyCrop(body: [UInt8](repeating: 0, count: geometry.size.count), geometry: geometry) == nil)
}

/// The segmentation works in the body's box; the labels do not depend on how much air surrounds
/// the body: the phantom alone and the phantom in a field 30 voxels wider on every side get the
/// same labels, voxel for voxel.
@Test func theLabelsDoNotDependOnTheAirAroundTheBody() {
    let phantom = testPhantom(size: 96, slices: 40, spacing: 6, lesions: 2, seed: 6).phantom
    let (pad, size) = (30, phantom.ct.size)
    var geometry = phantom.ct.geometry
    geometry.size = Size3(size.x + 2 * pad, size.y + 2 * pad, size.z)
    geometry.origin = phantom.ct.geometry.physicalPoint(i: Double(-pad), j: Double(-pad), k: 0)
    var wide = Volume<Int16>(geometry: geometry, repeating: -1000)
    for z in 0..<size.z {
        for y in 0..<size.y {
            for x in 0..<size.x {
                wide.voxels[wide.linearIndex(x + pad, y + pad, z)] = phantom.ct.voxels[phantom.ct.linearIndex(x, y, z)]
            }
        }
    }
    let alone = LungSegmenter.segment(phantom.ct).labels
    let inWide = LungSegmenter.segment(wide).labels
    #expect(alone.voxels.contains(LungLabel.left) && alone.voxels.contains(LungLabel.right))
    var differing = 0
    for z in 0..<size.z {
        for y in 0..<size.y {
            for x in 0..<size.x
            where alone.voxels[alone.linearIndex(x, y, z)] != inWide.voxels[inWide.linearIndex(x + pad, y + pad, z)] {
                differing += 1
            }
        }
    }
    #expect(differing == 0)
    #expect(inWide.voxels.count { $0 != 0 } == alone.voxels.count { $0 != 0 })
}
