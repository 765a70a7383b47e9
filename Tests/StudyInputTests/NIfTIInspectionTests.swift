import AppSupport
import Foundation
import NIfTIIO
import StudyInput
import TestSupport
import Testing
import VolumeCore

/// Overwrites bytes of an uncompressed NIfTI-1 file (header offsets from nifti1.h).
private func patch(_ path: String, offset: Int, bytes: [UInt8]) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
    try data.write(to: URL(fileURLWithPath: path))
}

private func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// What lungct assumed about a NIfTI reaches the report: the header's (no sform or qform, so
/// spacing from pixdim and orientation unknown) from `inspect`, the voxels' (NaN read as 0) from
/// `load`. The report used to say only "orientation unknown", and nothing of
/// the NaN voxels, which `load` read as 0 HU in silence.
@Test func niftiAssumptionsReachTheReport() throws {
    let folder = try temporaryDirectory()
    let g = Geometry(size: Size3(8, 6, 4), spacing: Vector3(0.7, 0.7, 2.5))
    var voxels = (0..<g.size.count).map { Float($0) * 10 - 900.5 }
    voxels[5] = .nan
    voxels[6] = .infinity
    let path = folder + "/nan.nii"
    try NIfTI.write(Volume(geometry: g, voxels: voxels), to: path)
    try patch(path, offset: 252, bytes: littleEndian(Int16(0)))  // qform_code
    try patch(path, offset: 254, bytes: littleEndian(Int16(0)))  // sform_code

    var inspection = try Inspection.inspect(path)
    let entry = try #require(inspection.report.series.first)
    #expect(entry.spacingMM == [0.7, 0.7, 2.5])
    #expect(entry.warnings.contains { $0.contains("pixdim") && $0.contains("orientation unknown") })

    guard case .ct(.float32(let volume)) = try inspection.load() else {
        Issue.record("expected a float32 CT")
        return
    }
    #expect(volume.voxels[5] == 0 && volume.voxels[6] == 0)
    let warnings = try #require(inspection.report.series.first?.warnings)
    #expect(warnings.contains { $0.contains("2 voxels") && $0.contains("NaN") })
    // The header's warning is not repeated by loading.
    #expect(warnings.filter { $0.contains("pixdim") }.count == 1)
}

/// A NIfTI whose header cannot be trusted is refused when it is inspected, naming the file.
@Test func anUntrustworthyNIfTIIsRefusedWhenInspected() throws {
    let folder = try temporaryDirectory()
    let path = folder + "/empty-axis.nii"
    let g = Geometry(size: Size3(8, 6, 4), spacing: Vector3(1, 1, 1))
    try NIfTI.write(Volume(geometry: g, repeating: Int16(-1000)), to: path)
    try patch(path, offset: 44, bytes: littleEndian(Int16(0)))  // dim[2]
    #expect {
        _ = try Inspection.inspect(path)
    } throws: { error in
        (error as? LungCTError)?.category == .inputFailed && "\(error)".contains("dim[2] = 0")
    }
}
