import DICOMObjects
import Foundation
import TestSupport
import Testing
import VolumeCore

/// An 8 × 5 × 4 grid with fake source references (one per slice), right lung (1) on slices 1
/// and 2, left lung (2) on slice 2 only. Rows of 8 keep each frame's bits byte-aligned: DCMTK
/// 3.6.7 reads the frames of a BINARY Segmentation whose frames start inside a byte as empty
/// (highdicom reads the same files correctly; CLITests check them that way).
func tinySource() -> (SourceSeries, Volume<UInt8>) {
    let geometry = Geometry(
        size: Size3(8, 5, 4), spacing: Vector3(0.7, 0.7, 2), origin: Vector3(-10, -20, 30),
        direction: Matrix3(columns: Vector3(1, 0, 0), Vector3(0, 1, 0), Vector3(0, 0, 1)))
    var labels = Volume<UInt8>(geometry: geometry, voxels: Array(repeating: 0, count: 8 * 5 * 4))
    for i in 0..<3 { labels.voxels[1 * 40 + 5 + i] = 1 }
    for i in 0..<4 { labels.voxels[2 * 40 + 10 + i] = 1 }
    for i in 0..<2 { labels.voxels[2 * 40 + 20 + i] = 2 }
    let source = SourceSeries(
        studyInstanceUID: DICOMObjectWriter.newUID(), seriesInstanceUID: DICOMObjectWriter.newUID(),
        frameOfReferenceUID: DICOMObjectWriter.newUID(), sopClassUID: "1.2.840.10008.5.1.4.1.1.2",
        sliceReferences: (0..<4).map { _ in [DICOMObjectWriter.newUID()] }, geometry: geometry, patient: nil)
    return (source, labels)
}

func lungSegments(_ labels: Volume<UInt8>) -> [Segment] {
    let algorithm = Algorithm(family: Code("123104", "DCM", "Morphological Operations"), name: "test", version: "1")
    return [
        Segment(
            label: "Right lung", category: Code("91723000", "SCT", "Anatomical Structure"),
            type: Code("39607008", "SCT", "Lung"), modifier: Code("24028007", "SCT", "Right"), algorithm: algorithm,
            labels: labels, value: 1),
        Segment(
            label: "Left lung", category: Code("91723000", "SCT", "Anatomical Structure"),
            type: Code("39607008", "SCT", "Lung"), modifier: Code("7771000", "SCT", "Left"), algorithm: algorithm,
            labels: labels, value: 2),
    ]
}

@Test func aSegmentationReadsBackThroughDCMTKWithAFramePerSliceWithVoxels() throws {
    let (source, labels) = tinySource()
    let path = try temporaryDirectory() + "/seg.dcm"
    try DICOMObjectWriter.writeSegmentation(
        lungSegments(labels), source: source,
        identity: ObjectIdentity(path: path, seriesNumber: 9001, seriesDescription: "t"))
    // Right lung: slices 1 and 2 (3 and 4 pixels); left lung: slice 2 (2 pixels). Frames are
    // added segment by segment, slice by slice.
    let expected = [(1, 3), (1, 4), (2, 2)]
    for (frame, (segment, pixels)) in expected.enumerated() {
        let summary = try DICOMObjectWriter.readSegmentation(path, frame: frame)
        #expect(summary.segments == 2)
        #expect(summary.frames == 3)
        #expect(summary.segmentNumber == segment, "frame \(frame)")
        #expect(summary.setPixels == pixels, "frame \(frame)")
    }
}

@Test func anEmptySegmentKeepsOneEmptyFrame() throws {
    let (source, labels) = tinySource()
    var segments = lungSegments(labels)
    segments[1].value = 7  // no voxel has label 7
    let path = try temporaryDirectory() + "/seg.dcm"
    try DICOMObjectWriter.writeSegmentation(
        segments, source: source, identity: ObjectIdentity(path: path, seriesNumber: 9001, seriesDescription: "t"))
    let last = try DICOMObjectWriter.readSegmentation(path, frame: 2)
    #expect(last.frames == 3)
    #expect(last.segmentNumber == 2)
    #expect(last.setPixels == 0)
}

@Test func aVolumeOffTheSourceGridIsRefusedNamingTheFile() throws {
    let (source, _) = tinySource()
    let other = Volume<Float>(
        geometry: Geometry(
            size: Size3(3, 3, 3), spacing: Vector3(1, 1, 1), origin: Vector3(0, 0, 0),
            direction: Matrix3(columns: Vector3(1, 0, 0), Vector3(0, 1, 0), Vector3(0, 0, 1))),
        voxels: Array(repeating: 0, count: 27))
    let path = try temporaryDirectory() + "/pm.dcm"
    #expect(throws: DICOMObjectError.self) {
        try DICOMObjectWriter.writeParametricMap(
            other, quantity: Code("122157", "DCM", "Probability"), unit: Code("1", "UCUM", "no units"), range: 0...1,
            label: "P",
            algorithm: Algorithm(family: Code("123110", "DCM", "Artificial Intelligence"), name: "t", version: "1"),
            source: source, identity: ObjectIdentity(path: path, seriesNumber: 1, seriesDescription: "t"))
    }
    #expect(!FileManager.default.fileExists(atPath: path))
}

@Test func readingAFileThatIsNoSegmentationFailsWithTheReadKind() throws {
    let path = try temporaryDirectory() + "/not.dcm"
    try Data("not DICOM".utf8).write(to: URL(fileURLWithPath: path))
    do {
        _ = try DICOMObjectWriter.readSegmentation(path, frame: 0)
        Issue.record("a text file read as a Segmentation")
    } catch {
        #expect(error.kind == .readFailed)
        #expect(error.description.contains(path))
    }
}
