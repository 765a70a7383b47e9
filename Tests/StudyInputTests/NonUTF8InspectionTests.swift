import AppSupport
import Foundation
import Phantom
import StudyInput
import TestSupport
import Testing

// Names that are not valid UTF-8 are read through aliases: the report shows the names the user
// has (bad bytes as \xNN) and says how many there were; the aliases go with the inspection, and
// those a killed run left are removed by the next.

@Test(.enabled(if: fileSystemTakesLatin1Names, "the file system refuses names that are not UTF-8"))
func anInspectionReadsLatin1NamesAndSaysHowManyThereWere() throws {
    let root = try temporaryDirectory()
    let (phantom, options) = testPhantom(size: 32, slices: 8, spacing: 5, seed: 5)
    let folder = try PhantomWriter.write(phantom, options: options, layout: PhantomLayout(), to: root).dicomFolder
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    for name in names.dropFirst(2) {
        try renameRaw(folder + "/" + name, into: Array(folder.utf8), name: latin1("é_") + Array(name.utf8))
    }
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
    try renameRaw(folder + "/notes.txt", into: Array(folder.utf8), name: latin1("notes_é.txt"))

    var inspection = try Inspection.inspect(folder)
    let entry = try #require(inspection.report.series.first)
    #expect(entry.images == 8 && entry.size == [32, 32, 8])
    #expect(
        entry.warnings.contains { $0.hasPrefix("6 of the 8 files' paths are not valid UTF-8") }, "\(entry.warnings)")
    let skipped = inspection.report.skippedFiles
    #expect(skipped.map(\.path) == [folder + "/notes_\\xE9.txt"] && skipped.first?.reason == "not a DICOM file")
    guard case .ct(let volume) = try inspection.load() else { throw TestFailure("not a CT") }
    #expect(volume.asInt16.voxels == phantom.ct.voxels)
}

@Test func aliasFoldersThatAKilledRunLeftAreRemovedByTheNext() throws {
    let parent = try temporaryDirectory()
    let target = try temporaryDirectory()
    try Data("keep".utf8).write(to: URL(fileURLWithPath: target + "/keep"))
    // A process that has ended: its pid is free, as a killed lungct's is.
    let ended = Process()
    ended.executableURL = URL(fileURLWithPath: "/bin/true")
    try ended.run()
    ended.waitUntilExit()
    let stale = parent + "/.lungct-names-\(ended.processIdentifier)-abcdef"
    try FileManager.default.createDirectory(atPath: stale + "/1", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: stale + "/1/folder", withDestinationPath: target)
    let mine = parent + "/.lungct-names-\(getpid())-ghijkl"
    try FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: true)

    var made = ""
    do {
        let aliases = NameAliases(temporaryIn: parent)
        made = try aliases.alias(to: Array((target + "/keep").utf8), name: "k", shown: "k", notUTF8: false).get()
        #expect(try String(contentsOfFile: made, encoding: .utf8) == "keep")
        withExtendedLifetime(aliases) {}
    }
    #expect(!FileManager.default.fileExists(atPath: stale), "the dead process's links are gone")
    #expect(FileManager.default.fileExists(atPath: mine), "a live process's are not")
    #expect(!made.isEmpty && !FileManager.default.fileExists(atPath: made), "this one's are gone when it goes")
    #expect(try String(contentsOfFile: target + "/keep", encoding: .utf8) == "keep", "what links point to stays")
}
