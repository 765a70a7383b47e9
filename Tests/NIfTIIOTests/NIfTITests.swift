import Foundation
import TestSupport
import Testing
import VolumeCore

@testable import NIfTIIO

func sampleGeometry() -> Geometry {
    let a = 0.25
    let row = Vector3(cos(a), sin(a), 0)
    let column = Vector3(-sin(a), cos(a), 0)
    return Geometry(
        size: Size3(6, 5, 4), spacing: Vector3(0.75, 0.8, 2.0), origin: Vector3(-100.25, 50.5, -30),
        direction: Matrix3(columns: row, column, Vector3(0, 0, 1)))
}

func expectSameGeometry(_ a: Geometry, _ b: Geometry, tolerance: Double = 1e-3) {
    #expect(a.size == b.size)
    #expect((a.origin - b.origin).length < tolerance)
    #expect((a.spacing - b.spacing).length < tolerance)
    for axis in 0..<3 { #expect((a.direction[axis] - b.direction[axis]).length < 1e-5) }
}

@Test(arguments: [".nii", ".nii.gz"])
func int16RoundTripKeepsVoxelsAndGeometry(suffix: String) throws {
    let folder = try temporaryDirectory()
    let g = sampleGeometry()
    let volume = Volume(geometry: g, voxels: (0..<g.size.count).map { Int16($0 * 37 - 1024) })
    let path = folder + "/ct" + suffix
    try NIfTI.write(volume, to: path)
    let (read, header) = try NIfTI.read(path)
    guard case .int16(let back) = read else {
        Issue.record("expected int16")
        return
    }
    #expect(back.voxels == volume.voxels)
    #expect(header.transform == "sform")
    expectSameGeometry(back.geometry, g)
    // No partial file is left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["ct" + suffix])
}

@Test func uint8AndFloatRoundTrip() throws {
    let folder = try temporaryDirectory()
    let g = sampleGeometry()
    let mask = Volume(geometry: g, voxels: (0..<g.size.count).map { UInt8($0 % 3) })
    try NIfTI.write(mask, to: folder + "/mask.nii.gz")
    let (maskBack, maskHeader) = try NIfTI.read(folder + "/mask.nii.gz")
    #expect(maskHeader.datatype == 2)
    #expect(maskBack.asInt16.voxels.map { UInt8($0) } == mask.voxels)

    let probability = Volume(geometry: g, voxels: (0..<g.size.count).map { Float($0) / 1000 })
    try NIfTI.write(probability, to: folder + "/p.nii")
    let (pBack, _) = try NIfTI.read(folder + "/p.nii")
    guard case .float32(let floats) = pBack else {
        Issue.record("expected float32")
        return
    }
    #expect(floats.voxels == probability.voxels)
}

/// Patches bytes of an uncompressed NIfTI-1 header (offsets from nifti1.h).
func patch(_ path: String, offset: Int, bytes: [UInt8]) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    try data.write(to: URL(fileURLWithPath: path))
}

func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

@Test func qformIsUsedWhenSformIsAbsentAndScalingIsApplied() throws {
    let folder = try temporaryDirectory()
    let g = sampleGeometry()
    let volume = Volume(geometry: g, voxels: (0..<g.size.count).map { Int16($0) })
    let path = folder + "/q.nii"
    try NIfTI.write(volume, to: path)
    try patch(path, offset: 254, bytes: littleEndian(Int16(0)))  // sform_code = 0
    try patch(path, offset: 112, bytes: littleEndian(Float(2).bitPattern))  // scl_slope
    try patch(path, offset: 116, bytes: littleEndian(Float(-10).bitPattern))  // scl_inter
    let (read, header) = try NIfTI.read(path)
    #expect(header.transform == "qform")
    expectSameGeometry(header.geometry, g)
    #expect(read.asInt16.voxels == volume.voxels.map { $0 * 2 - 10 })

    try patch(path, offset: 112, bytes: littleEndian(Float(0.5).bitPattern))
    let (half, _) = try NIfTI.read(path)
    guard case .float32(let floats) = half else {
        Issue.record("a slope of 0.5 must give float32")
        return
    }
    #expect(floats.voxels[3] == 3 * 0.5 - 10)
}

@Test func corruptAndAbsurdFilesGiveErrorsNamingTheFile() throws {
    let folder = try temporaryDirectory()
    let garbage = folder + "/garbage.nii"
    try Data((0..<400).map { UInt8(truncatingIfNeeded: $0 * 7) }).write(to: URL(fileURLWithPath: garbage))
    #expect { try NIfTI.read(garbage) } throws: { String(describing: $0).contains("garbage.nii") }

    let huge = folder + "/huge.nii"
    let g = sampleGeometry()
    try NIfTI.write(Volume(geometry: g, repeating: Int16(0)), to: huge)
    for axis in 1...3 { try patch(huge, offset: 40 + 2 * axis, bytes: littleEndian(Int16(32000))) }
    #expect { try NIfTI.read(huge) } throws: { error in
        let text = String(describing: error)
        return text.contains("huge.nii")
            && (text.contains("limit") || text.contains("not a readable") || text.contains("the header claims"))
    }

    #expect { try NIfTI.read(folder + "/missing.nii") } throws: { String(describing: $0).contains("missing.nii") }
}

@Test func unwritableDestinationsAreClearErrors() throws {
    let volume = Volume(geometry: sampleGeometry(), repeating: UInt8(1))
    #expect { try NIfTI.write(volume, to: "/nonexistent-folder/x.nii.gz") } throws: {
        String(describing: $0).contains("/nonexistent-folder")
    }
    #expect { try NIfTI.write(volume, to: "/tmp/x.nrrd") } throws: { String(describing: $0).contains(".nii") }
}

@Test(.enabled(if: sharedData("ct/lung-masks") != nil, "needs ../shared/data"))
func readsRealFloatCTAndMask() throws {
    let folder = sharedData("ct/lung-masks")!
    let (ct, header) = try NIfTI.read(folder + "/id001-128x128x64.nii.gz")
    #expect(header.size == Size3(128, 128, 64))
    guard case .float32 = ct else {
        Issue.record("float CT expected")
        return
    }
    let (mask, _) = try NIfTI.read(folder + "/id001-128x128x64-msk.nii.gz")
    let lungVoxels = mask.asFloat.voxels.filter { $0 > 127 }.count
    #expect(lungVoxels > 10_000)
}

// MARK: Hostile files

/// A NIfTI cut short (a truncated download, a header alone, gzip cut mid-stream) is a clear
/// error naming the file. nifticlib's nifti_image_load freed the caller's buffer on a short
/// read, so these files used to abort the process with "double free or corruption".
@Test(arguments: [".nii", ".nii.gz"])
func aTruncatedFileIsAnErrorNotACrash(suffix: String) throws {
    let folder = try temporaryDirectory()
    let g = Geometry(size: Size3(64, 64, 32), spacing: Vector3(1, 1, 1), origin: .zero, direction: .identity)
    var random = SystemRandomNumberGenerator()
    let volume = Volume(
        geometry: g, voxels: (0..<g.size.count).map { _ in Int16.random(in: -1024...1024, using: &random) })
    let whole = folder + "/whole" + suffix
    try NIfTI.write(volume, to: whole)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
    // Half the file; and, for .nii, the 348-byte header and 4-byte extension flag alone
    // (vox_offset 352), for .nii.gz a gzip stream cut inside the header.
    for keep in [bytes.count / 2, suffix == ".nii" ? 352 : 200] {
        let cut = folder + "/cut-\(keep)" + suffix
        try bytes.prefix(keep).write(to: URL(fileURLWithPath: cut))
        #expect {
            _ = try NIfTI.read(cut)
        } throws: { error in
            "\(error)".contains(cut)
        }
    }
}

/// NaN and infinite float voxels read as 0, and the header counts them (nifticlib's reader
/// replaced them silently; lungct now reads the voxels itself and must keep them out of HU).
@Test func nonFiniteFloatVoxelsReadAsZeroAndAreCounted() throws {
    let folder = try temporaryDirectory()
    let g = Geometry(size: Size3(4, 4, 2), spacing: Vector3(1, 1, 1), origin: .zero, direction: .identity)
    var voxels = (0..<g.size.count).map { Float($0) + 0.5 }
    voxels[3] = .nan
    voxels[7] = .infinity
    voxels[9] = -.infinity
    let path = folder + "/nan.nii.gz"
    try NIfTI.write(Volume(geometry: g, voxels: voxels), to: path)
    let (read, header) = try NIfTI.read(path)
    #expect(header.nonFiniteVoxels == 3)
    guard case .float32(let back) = read else {
        Issue.record("expected float32")
        return
    }
    #expect(back.voxels[3] == 0 && back.voxels[7] == 0 && back.voxels[9] == 0)
    #expect(back.voxels[10] == 10.5)
}

/// A .nii.gz is the header as one gzip member, then one member per slice (level 1, run-length
/// strategy), an all-zero slice's member repeated: standard gzip (gzip(1) checks it and
/// decompresses exactly the .nii of the same volume), whose voxels read back bit for bit
/// through nifticlib (float noise, runs of zeros, zero slices, negative zero, NaN with a payload).
@Test(.enabled(if: hasTool("gzip"), "gzip is not installed"))
func aGzippedFileIsStandardGzipMembersOfTheNiiBytes() throws {
    let folder = try temporaryDirectory()
    let g = Geometry(size: Size3(33, 17, 40), spacing: Vector3(1, 1, 1), origin: .zero, direction: .identity)
    var state: UInt32 = 12345
    var voxels = (0..<g.size.count).map { index -> Float in
        state = state &* 1_664_525 &+ 1_013_904_223
        let z = index / (33 * 17)
        return index % 100 < 60 || z % 7 == 3 || z > 30 ? 0 : Float(state >> 8) / Float(1 << 24)
    }
    voxels[1] = -0.0
    voxels[2] = Float(bitPattern: 0x7FC0_0042)
    let volume = Volume(geometry: g, voxels: voxels)
    try NIfTI.write(volume, to: folder + "/p.nii.gz")
    try NIfTI.write(volume, to: folder + "/p.nii")
    let gzip = try #require(toolPath("gzip"))
    let check = try runProcess(gzip, ["-t", folder + "/p.nii.gz"])
    #expect(check.status == 0, "\(check.stderr)")
    let raw = try Data(contentsOf: URL(fileURLWithPath: folder + "/p.nii.gz"))
    #expect(raw.prefix(2) == Data([0x1F, 0x8B]))
    // Members: the header's, then one per slice (each starts with the gzip magic and method 8).
    let members = (0..<raw.count - 2).filter { raw[$0] == 0x1F && raw[$0 + 1] == 0x8B && raw[$0 + 2] == 8 }
    #expect(members.count >= 1 + g.size.z)
    try runTool("/bin/sh", ["-c", "'\(gzip)' -dc '\(folder)/p.nii.gz' > '\(folder)/unpacked.nii'"])
    let plain = try Data(contentsOf: URL(fileURLWithPath: folder + "/p.nii"))
    #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/unpacked.nii")) == plain)
    let stored = try NIfTI.readStored(folder + "/p.nii.gz", bytes: voxels.count * 4)
    #expect(stored == voxels.withUnsafeBytes { Array($0) })
}
