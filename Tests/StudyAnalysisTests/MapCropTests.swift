import DICOMObjects
import Testing
import VolumeCore

@testable import StudyAnalysis

@Test func theParametricMapIsCutToTheBoxOfLungAndProbabilityAndLosesNothing() throws {
    var geometry = Geometry(size: Size3(6, 5, 4), spacing: Vector3(0.5, 0.7, 2))
    geometry.origin = Vector3(-10, 20, 30)
    var lungs = Volume<UInt8>(geometry: geometry, repeating: 0)
    var probability = Volume<Float>(geometry: geometry, repeating: 0)
    lungs.voxels[lungs.linearIndex(1, 2, 1)] = 1
    lungs.voxels[lungs.linearIndex(3, 3, 1)] = 2
    probability.voxels[probability.linearIndex(4, 1, 2)] = 0.75  // outside the lungs: the box still holds it
    let box = try #require(MapCrop.box(probability, lungs: lungs))
    #expect(box == MapCrop.Box(low: Size3(1, 1, 1), high: Size3(4, 3, 2)))

    let references = (0..<4).map { ["1.2.3.\($0)"] }
    let source = SourceSeries(
        studyInstanceUID: "1.2", seriesInstanceUID: "1.2.3", frameOfReferenceUID: "1.2.4",
        sopClassUID: "1.2.840.10008.5.1.4.1.1.2", sliceReferences: references, geometry: geometry, patient: nil)
    let (map, cutSource) = MapCrop.cut(probability, source: source, to: box)
    #expect(map.size == Size3(4, 3, 2))
    #expect(cutSource.sliceReferences == [["1.2.3.1"], ["1.2.3.2"]])
    #expect(cutSource.geometry == map.geometry)
    // The map's first voxel lies where the source's voxel (1, 1, 1) does, and every value is
    // where it was.
    #expect(map.geometry.physicalPoint(i: 0, j: 0, k: 0) == geometry.physicalPoint(i: 1, j: 1, k: 1))
    #expect(map.voxels[map.linearIndex(3, 0, 1)] == 0.75)
    #expect(map.voxels.reduce(0, +) == probability.voxels.reduce(0, +))

    let empty = Volume<Float>(geometry: geometry, repeating: 0)
    #expect(MapCrop.box(empty, lungs: Volume<UInt8>(geometry: geometry, repeating: 0)) == nil)
}
