import Foundation
import Phantom
import TestSupport
import Testing

@testable import BatchScoring

/// An enhanced CT object in an archive is one case with one file: the scan gives a header per
/// frame, and the case lists the file once (listed per frame, each file's frames were read again
/// per listing when the case was loaded).
@Test(.enabled(if: pythonWithHighdicom != nil, "needs pydicom and highdicom (make test-venv)"))
func anEnhancedCTInAnArchiveIsOneCaseWithItsFileOnce() throws {
    let (phantom, options) = testPhantom(size: 32, slices: 6, spacing: 5, seed: 2)
    let classic = try PhantomWriter.write(
        phantom, options: options, layout: PhantomLayout(), to: try temporaryDirectory()
    )
    .dicomFolder
    let archive = try temporaryDirectory()
    try FileManager.default.createDirectory(atPath: archive + "/study", withIntermediateDirectories: true)
    try enhancedCT(from: classic, to: archive + "/study/enhanced.dcm", variant: .legacyConverted)
    let cases = try ArchiveScan.scan(archive, scratch: try temporaryDirectory()).cases
    #expect(cases.count == 1)
    #expect(cases.first?.files == [archive + "/study/enhanced.dcm"])
}
