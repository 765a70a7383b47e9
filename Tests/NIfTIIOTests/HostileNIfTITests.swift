import Foundation
import TestSupport
import Testing
import VolumeCore

@testable import NIfTIIO

// Hostile NIfTI-1 headers, each built here: a small volume written with NIfTI.write, then header
// bytes patched (offsets from nifti1.h: dim 40, pixdim 76, vox_offset 108, scl_slope 112,
// scl_inter 116, qform_code 252, sform_code 254, quatern_b 256, srow_x/y/z 280/296/312).

/// The spacing every hostile file is written with; pixdim holds it too.
let writtenSpacing = Vector3(0.75, 0.8, 2)

/// A 16×12×8 int16 volume (values -1000...999) written to `folder`/`name`.nii with sform and
/// qform (code 1), then patched; gzipped (to `name`.nii.gz) when `gzip` is set.
func hostileFile(
    _ name: String, in folder: String, gzip: Bool = false, patches: [(offset: Int, bytes: [UInt8])]
) throws -> String {
    let g = Geometry(size: Size3(16, 12, 8), spacing: writtenSpacing, origin: Vector3(-10, 20, -30))
    let volume = Volume(geometry: g, voxels: (0..<g.size.count).map { Int16($0 % 2000 - 1000) })
    let path = folder + "/" + name + ".nii"
    try NIfTI.write(volume, to: path)
    for (offset, bytes) in patches { try patch(path, offset: offset, bytes: bytes) }
    guard gzip else { return path }
    try runTool("gzip", ["-n", "-f", path])
    return path + ".gz"
}

func float32(_ value: Float) -> [UInt8] { littleEndian(value.bitPattern) }
func int16(_ value: Int16) -> [UInt8] { littleEndian(value) }

/// sform_code and qform_code both 0.
let noTransform: [(offset: Int, bytes: [UInt8])] = [(252, int16(0)), (254, int16(0))]

/// A header claiming 1024³ int16 voxels (2 GiB) of a 3 KB file is refused from the header, before
/// anything is allocated: `readHeader` allocates no voxel buffer, and it already throws. The
/// header used to be accepted and `read` zero-filled the whole claim (2.3 GB for a 1.3 MB file
/// in the wild) before finding the file short.
@Test(.enabled(if: hasTool("gzip")), arguments: [false, true])
func aClaimBeyondWhatTheFileCanHoldIsRefusedFromTheHeader(gzip: Bool) throws {
    let folder = try temporaryDirectory()
    let path = try hostileFile(
        "claim", in: folder, gzip: gzip, patches: (1...3).map { (40 + 2 * $0, int16(1024)) })
    let fileBytes = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    #expect {
        _ = try NIfTI.readHeader(path)
    } throws: { error in
        let text = "\(error)"
        // The file, the claim (352 + 2 GiB) and what the file holds (its size; at most 1032 times
        // it when gzipped).
        return text.contains(path) && text.contains("2147484000 bytes")
            && text.contains(gzip ? "\(fileBytes * 1032) bytes" : "\(fileBytes) bytes")
    }
}

/// An axis of length 0 or below is an image without voxels; nifticlib reads such a dim[i] as 1.
@Test(arguments: [(2, Int16(0)), (3, Int16(-4))])
func aDimOfZeroOrBelowIsRefused(axis: Int, value: Int16) throws {
    let path = try hostileFile("dim", in: try temporaryDirectory(), patches: [(40 + 2 * axis, int16(value))])
    #expect {
        _ = try NIfTI.readHeader(path)
    } throws: { "\($0)".contains("dim[\(axis)] = \(value)") && "\($0)".contains(path) }
}

/// A single-file NIfTI-1 keeps its voxels after the 352 header bytes; nifticlib reads from byte
/// 348 whatever vox_offset says when it is below that (or absurd), shifting every voxel.
@Test(arguments: [Float(100), Float(1e30)])
func aVoxOffsetInsideTheHeaderIsRefused(offset: Float) throws {
    let path = try hostileFile("offset", in: try temporaryDirectory(), patches: [(108, float32(offset))])
    #expect { _ = try NIfTI.readHeader(path) } throws: { "\($0)".contains("vox_offset") }
}

/// Transforms that cannot be trusted (absent, NaN, a zero column) are set aside with a warning
/// naming them; the next one is used, down to pixdim alone, and then the warning says that the
/// spacing comes from pixdim and the orientation is unknown. A NaN sform or a zero column used
/// to give 1 mm voxels without a word (26 mL of lung instead of 1260 mL).
@Test(arguments: ["no transform", "NaN sform", "zero column in the sform", "NaN quaternion", "NaN sform, good qform"])
func untrustedTransformsAreSetAsideWithAWarning(damage: String) throws {
    let nan = float32(.nan)
    let zero = float32(0)
    let (patches, expected): ([(offset: Int, bytes: [UInt8])], String) =
        switch damage {
        case "no transform": (noTransform, "pixdim")
        case "NaN sform": ([(280, nan), (252, int16(0))], "pixdim")
        case "zero column in the sform": ([(280, zero), (296, zero), (312, zero), (252, int16(0))], "pixdim")
        case "NaN quaternion": ([(256, nan), (254, int16(0))], "pixdim")
        default: ([(296, nan)], "qform")
        }
    let path = try hostileFile("transform", in: try temporaryDirectory(), patches: patches)
    let header = try NIfTI.readHeader(path)
    #expect(header.transform == expected)
    #expect((header.geometry.spacing - writtenSpacing).length < 1e-5)
    if damage != "no transform" {
        #expect(header.warnings.contains { $0.contains(damage.contains("sform") ? "sform" : "qform") })
    }
    if expected == "pixdim" {
        #expect(header.warnings.contains { $0.contains("pixdim") && $0.contains("orientation unknown") })
    }
}

/// Without a usable transform and without a positive, finite pixdim there is no voxel size at
/// all: refused, where lungct used to assume 1 mm (nifticlib also turns a qform's zero or NaN
/// pixdim into 1 mm).
@Test(arguments: [Float(0), .nan, -0.75])
func noTransformAndNoPixdimSpacingIsRefused(pixdim: Float) throws {
    let folder = try temporaryDirectory()
    let none = try hostileFile("none", in: folder, patches: noTransform + [(80, float32(pixdim))])
    #expect { _ = try NIfTI.readHeader(none) } throws: { "\($0)".contains("pixdim") && "\($0)".contains(none) }
    let qformOnly = try hostileFile("qform", in: folder, patches: [(254, int16(0)), (80, float32(pixdim))])
    #expect { _ = try NIfTI.readHeader(qformOnly) } throws: { "\($0)".contains("pixdim") }
}

/// A transform whose scale is absurd (1e-30 or 1e30 mm per voxel) or that puts the image 1e30 mm
/// away is refused by name: segmentation and the overview turn millimetres into voxel counts,
/// and trapped on such values.
@Test(arguments: [Float(1e-30), 1e30])
func anAbsurdTransformIsRefused(scale: Float) throws {
    let folder = try temporaryDirectory()
    let sform = try hostileFile("sform", in: folder, patches: [(280, float32(scale))])
    #expect { _ = try NIfTI.readHeader(sform) } throws: { "\($0)".contains("spacing") && "\($0)".contains(sform) }
    let qform = try hostileFile("qform", in: folder, patches: [(254, int16(0)), (84, float32(scale))])
    #expect { _ = try NIfTI.readHeader(qform) } throws: { "\($0)".contains("spacing") }
    let pixdim = try hostileFile("pixdim", in: folder, patches: noTransform + [(88, float32(scale))])
    #expect { _ = try NIfTI.readHeader(pixdim) } throws: { "\($0)".contains("spacing") }
    let far = try hostileFile("far", in: folder, patches: [(292, float32(scale))])
    if scale > 1 {
        #expect { _ = try NIfTI.readHeader(far) } throws: { "\($0)".contains("mm") }
    }
}

/// NaN or infinite scaling is refused (nifticlib reads it as 0, that is unscaled); an intercept
/// is only looked at when a slope is set.
@Test(arguments: [(Float.nan, Float(0)), (.infinity, 0), (1, .nan), (2, -.infinity)])
func nonFiniteScalingIsRefused(slope: Float, intercept: Float) throws {
    let path = try hostileFile(
        "scaling", in: try temporaryDirectory(), patches: [(112, float32(slope)), (116, float32(intercept))])
    #expect { _ = try NIfTI.readHeader(path) } throws: { "\($0)".contains("scl_") && "\($0)".contains(path) }
}

/// Scaled values beyond float32 (scl_slope 3e38 times stored values up to 1000) are refused; they
/// used to become infinities, clamped to -32768 HU.
@Test func scaledValuesBeyondFloat32AreRefused() throws {
    let path = try hostileFile("huge", in: try temporaryDirectory(), patches: [(112, float32(3e38))])
    #expect { _ = try NIfTI.read(path) } throws: { "\($0)".contains("float32") && "\($0)".contains(path) }
}

/// Scaled values outside int16 are kept, as float32, and the header says how many there are
/// (an int16 HU volume made from them would clamp them).
@Test func scaledValuesOutsideInt16StayFloat32WithAWarning() throws {
    let path = try hostileFile("wide", in: try temporaryDirectory(), patches: [(112, float32(100))])
    let (volume, header) = try NIfTI.read(path)
    guard case .float32(let floats) = volume else {
        Issue.record("values outside int16 must stay float32")
        return
    }
    #expect(floats.voxels.min() == -100_000 && floats.voxels.max() == 53_500)
    let outside = floats.voxels.filter { $0 < -32768 || $0 > 32767 }.count
    #expect(header.warnings.contains { $0.contains("int16") && $0.contains("\(outside) voxels") })
}

/// The written files themselves raise no warning.
@Test func aSoundFileHasNoWarnings() throws {
    let path = try hostileFile("sound", in: try temporaryDirectory(), patches: [])
    let (_, header) = try NIfTI.read(path)
    #expect(header.warnings.isEmpty)
    #expect(header.transform == "sform")
}

/// xyz_units (byte 123, space bits 0...2) is honoured: a header in micrometres or metres is
/// converted to millimetres with a warning that says so, and one with no unit is read as
/// millimetres with a warning that says that was assumed. The unit used to be ignored: a
/// micrometre header gave voxels of 750 mm (refused as damaged), a metre header 0.00075 mm.
@Test(arguments: [(UInt8(3), 1000.0, "micrometres"), (1, 0.001, "metres"), (0, 1, "no spatial unit")])
func theSpatialUnitIsConvertedOrItsAbsenceSaid(code: UInt8, perMillimetre: Double, said: String) throws {
    let folder = try temporaryDirectory()
    let sound = try hostileFile("sound", in: folder, patches: [])
    let (_, expected) = try NIfTI.read(sound)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: sound))
    let srows = (0..<12).map { index in
        bytes.withUnsafeBytes {
            Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 280 + 4 * index, as: UInt32.self)))
        }
    }
    let converted = srows.map { Float(Double($0) * perMillimetre) }
    // The sform alone (qform_code 0), its rows in the header's unit; t_units bit 8 (seconds) set.
    let path = try hostileFile(
        "unit\(code)", in: folder, patches: [(123, [code | 8]), (252, int16(0)), (280, converted.flatMap(float32))])
    let (_, header) = try NIfTI.read(path)
    expectSameGeometry(header.geometry, expected.geometry)
    #expect(header.warnings.count == 1)
    #expect(header.warnings.first?.contains(said) == true)
}
