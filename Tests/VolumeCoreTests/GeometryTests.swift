import Foundation
import Testing

@testable import VolumeCore

/// An oblique, anisotropic geometry: rotations about z and x, so no axis is aligned.
func obliqueGeometry(size: Size3 = Size3(5, 4, 3)) -> Geometry {
    let a = 0.3
    let b = 0.2
    let row = Vector3(cos(a), sin(a), 0)
    let column = Vector3(-sin(a) * cos(b), cos(a) * cos(b), sin(b))
    return Geometry(
        size: size, spacing: Vector3(0.7, 0.8, 2.5), origin: Vector3(-120.5, 33.25, 410),
        direction: Matrix3(columns: row, column, row.cross(column)))
}

func close(_ a: Vector3, _ b: Vector3, tolerance: Double = 1e-9) -> Bool { (a - b).length <= tolerance }

@Test func indexToPhysicalRoundTrips() {
    let g = obliqueGeometry()
    for (i, j, k) in [(0.0, 0.0, 0.0), (4, 3, 2), (1.5, 2.25, 0.5)] {
        let p = g.physicalPoint(i: i, j: j, k: k)
        #expect(close(g.continuousIndex(of: p), Vector3(i, j, k)))
    }
    // The origin is voxel (0, 0, 0); one step in k moves by spacing.z along the normal.
    #expect(close(g.physicalPoint(i: 0, j: 0, k: 0), g.origin))
    #expect(abs((g.physicalPoint(i: 0, j: 0, k: 1) - g.origin).length - 2.5) < 1e-12)
}

@Test func rasAffineNegatesXAndY() {
    let g = obliqueGeometry()
    let lps = g.affineLPS
    let ras = g.affineRAS
    for column in 0..<4 {
        #expect(ras[0][column] == -lps[0][column])
        #expect(ras[1][column] == -lps[1][column])
        #expect(ras[2][column] == lps[2][column])
    }
    let back = Geometry(size: g.size, affineRAS: ras)
    #expect(close(back.origin, g.origin))
    #expect(close(back.spacing, g.spacing))
    for axis in 0..<3 { #expect(close(back.direction[axis], g.direction[axis])) }
}

@Test func orientationCodes() {
    let axial = Geometry(size: Size3(2, 2, 2), spacing: Vector3(1, 1, 1))
    #expect(axial.orientationCode == "LPS")
    var ras = axial
    ras.direction = Matrix3(columns: Vector3(-1, 0, 0), Vector3(0, -1, 0), Vector3(0, 0, 1))
    #expect(ras.orientationCode == "RAS")
    #expect(axial.obliquityDegrees < 1e-9)
    #expect(obliqueGeometry().obliquityDegrees > 10)
}

@Test(arguments: ["RAS", "LPS", "RPI", "SAL", "IRP", "ASL"])
func reorientationRoundTripsAndKeepsPositions(target: String) throws {
    let g = obliqueGeometry()
    let volume = Volume(geometry: g, voxels: (0..<g.size.count).map { Int16($0) })
    let turned = try volume.reoriented(to: target)
    #expect(turned.geometry.orientationCode == target)
    #expect(turned.voxels.sorted() == volume.voxels.sorted())
    // Every voxel value sits at the same point in patient space as before.
    for k in 0..<turned.size.z {
        for j in 0..<turned.size.y {
            for i in 0..<turned.size.x {
                let point = turned.geometry.physicalPoint(i: Double(i), j: Double(j), k: Double(k))
                let source = g.continuousIndex(of: point)
                let original = volume[Int(source.x.rounded()), Int(source.y.rounded()), Int(source.z.rounded())]
                #expect(turned[i, j, k] == original)
                #expect(abs(source.x - source.x.rounded()) < 1e-9)
            }
        }
    }
    let back = try turned.reoriented(to: g.orientationCode)
    #expect(back.voxels == volume.voxels)
    #expect(close(back.geometry.origin, g.origin))
    #expect(back.geometry.size == g.size)
}

@Test func invalidOrientationCodesAreRefused() {
    let volume = Volume(geometry: Geometry(size: Size3(2, 2, 2), spacing: Vector3(1, 1, 1)), repeating: UInt8(0))
    #expect(throws: VolumeError.invalidOrientation("LLS")) { try volume.reoriented(to: "LLS") }
    #expect(throws: VolumeError.invalidOrientation("XYZ")) { try volume.reoriented(to: "XYZ") }
}

@Test func absurdAllocationsAreRefusedBeforeAllocating() throws {
    #expect(throws: VolumeError.self) {
        try VolumeLimits.checkAllocation(Size3(60000, 60000, 60000), bytesPerVoxel: 2, source: "corrupt.dcm")
    }
    #expect(throws: VolumeError.self) {
        try VolumeLimits.checkAllocation(Size3(0, 512, 10), bytesPerVoxel: 2, source: "empty.dcm")
    }
    #expect(throws: VolumeError.self) {
        try VolumeLimits.checkAllocation(Size3(Int.max / 2, 3, 3), bytesPerVoxel: 2, source: "overflow.nii")
    }
    try VolumeLimits.checkAllocation(Size3(512, 512, 300), bytesPerVoxel: 2, source: "ct")
    let message = String(
        describing: VolumeError.tooLarge(
            source: "x.dcm", size: Size3(60000, 60000, 60000), bytes: Int.max, limit: 8 << 30))
    #expect(message.contains("x.dcm") && message.contains("corrupt"))
}

@Test func huVolumeConversions() {
    let g = Geometry(size: Size3(2, 1, 1), spacing: Vector3(1, 1, 1))
    let float = HUVolume.float32(Volume(geometry: g, voxels: [-1000.4, 40000]))
    #expect(float.asInt16.voxels == [-1000, 32767])
    #expect(HUVolume.int16(Volume(geometry: g, voxels: [-1024, 3071])).asFloat.voxels == [-1024, 3071])
}
