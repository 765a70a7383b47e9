import DICOMSeries
import Foundation
import Phantom
import TestSupport
import VolumeCore

/// A small phantom quick enough for unit tests.
func smallPhantom(size: Int = 48, slices: Int = 16, seed: UInt64 = 3) -> (Phantom, PhantomOptions) {
    testPhantom(size: size, slices: slices, spacing: 10, seed: seed)
}

/// Writes a phantom series and returns its DICOM folder.
func writePhantom(
    _ phantom: Phantom, options: PhantomOptions, to folder: String, syntax: OutputTransferSyntax = .explicitLittle,
    shuffle: Bool = false, feetFirst: Bool = false
) throws -> String {
    var layout = PhantomLayout()
    layout.syntax = syntax
    layout.shuffleFiles = shuffle
    layout.feetFirst = feetFirst
    return try PhantomWriter.write(phantom, options: options, layout: layout, to: folder).dicomFolder
}

/// Scans, groups, plans and loads the one series in `folder`.
func loadOnlySeries(_ folder: String) throws -> (HUVolume, StackPlan) {
    let scan = try FolderScan.scan(folder)
    let groups = SeriesGrouping.group(scan.headers)
    guard groups.count == 1 else { throw TestFailure("expected one series, found \(groups.count)") }
    let plan = try SliceStack.plan(groups[0].headers).get()
    // The scan keeps the aliases files with names that are not UTF-8 are read through.
    return try withExtendedLifetime(scan) { (try SeriesLoader.load(plan), plan) }
}

/// Builds a DICOM file from a committed text dump in Fixtures/ with DCMTK's dump2dcm (tests
/// that call it are gated on `hasTool("dump2dcm")`).
func dicomFromDump(_ name: String, in folder: String) throws -> String {
    let dump = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures/\(name).dump"
    ).path
    return try TestSupport.dicomFromDump(at: dump, to: folder + "/\(name).dcm")
}
