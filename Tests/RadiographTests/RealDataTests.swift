import Foundation
import Radiograph
import TestSupport
import Testing

/// `cxr` in the shared data folder: real chest radiographs (JPEG), one folder per class. Not
/// part of the repository; the test is skipped where it is absent.
@Test(.enabled(if: hasSharedData("cxr"), "needs ../shared/data/cxr"))
func realChestRadiographsLoad() throws {
    let chestRadiographFolder = try #require(sharedData("cxr"))
    let manager = FileManager.default
    let classes = try manager.contentsOfDirectory(atPath: chestRadiographFolder).sorted().filter { name in
        var isDirectory: ObjCBool = false
        return manager.fileExists(atPath: chestRadiographFolder + "/" + name, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }
    #expect(!classes.isEmpty)
    for name in classes {
        let folder = chestRadiographFolder + "/" + name
        let files = try manager.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted().prefix(5)
        #expect(files.count == 5, "\(folder) has fewer than 5 files")
        for file in files {
            let image = try RadiographLoader.load(path: folder + "/" + file)
            let size = image.volume.size
            // The set is resized to at most 1024 px on the long side; chest films are not slivers.
            #expect((256...1024).contains(min(size.x, size.y)), "\(file): \(size)")
            #expect((256...1024).contains(max(size.x, size.y)), "\(file): \(size)")
            #expect(Double(max(size.x, size.y)) / Double(min(size.x, size.y)) < 2, "\(file): \(size)")
            #expect(size.z == 1)
            #expect(image.source == "jpeg" || image.source == "png")
            #expect(image.volume.voxels.allSatisfy { $0 >= 0 && Double($0) <= image.fullScale })
            let minimum = image.volume.voxels.min() ?? 0
            let maximum = image.volume.voxels.max() ?? 0
            #expect(maximum - minimum > 100, "\(file): nearly flat image")
            #expect(!image.has(QualityFinding.Code.colourImage), "\(file): \(image.findings)")
        }
    }
}
