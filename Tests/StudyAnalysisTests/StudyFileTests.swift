import Foundation
import HDF5Store
import ModelRuntime
import StudyAnalysis
import TestSupport
import Testing

@testable import NIfTIIO

// study.h5's volumes are compressed by lungct itself and written in the background while the
// analysis goes on (the HU during segmentation, the lung labels during the lesion network), the
// NIfTI outputs by nifticlib on another thread. Both must hold the same voxels, bit for bit.

@Test func studyFileVolumesEqualTheNIfTIOutputsBitForBit() throws {
    let phantom = lesionPhantom()
    // An untrained network: a probability that varies from voxel to voxel, in all its float bits.
    let out = try analyzeLesionPhantom(with: try lesionModel(seed: 3)).out
    let file = try HDF5File(openingForReading: out + OutputFile.study)
    func stored(_ name: String, bytesPerVoxel: Int) throws -> [UInt8] {
        try NIfTI.readStored(out + name, bytes: phantom.ct.voxels.count * bytesPerVoxel)
    }
    let lungs = try file.readDataset("/segmentation/lungs", as: UInt8.self).values
    #expect(lungs == (try stored(OutputFile.lungMask, bytesPerVoxel: 1)))
    #expect(lungs.contains(1) && lungs.contains(2))
    let probability = try file.readDataset("/maps/lesion_probability", as: Float.self).values
    #expect(probability.withUnsafeBytes { Array($0) } == (try stored(OutputFile.probability, bytesPerVoxel: 4)))
    #expect(Set(probability).count > 100, "the map should vary, not be a constant")
    let lesions = try file.readDataset("/segmentation/lesions", as: UInt8.self).values
    #expect(lesions == (try stored(OutputFile.lesionMask, bytesPerVoxel: 1)))
    try file.close()
    // Nothing half-written is left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: out).allSatisfy { !$0.hasPrefix(".") })
}

@Test func anAbandonedStudyFileLeavesNothingBehind() throws {
    let phantom = lesionPhantom()
    let folder = try temporaryDirectory()
    // What analyze does when a stage fails after study.h5 was begun: the image and the lung
    // labels are queued, then the file is abandoned instead of finished.
    let file = StudyFile.begin(path: folder + "/" + OutputFile.study, image: .hu(phantom.ct), modality: "CT")
    file.addLabels(phantom.lungs)
    file.abandon()
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
}
