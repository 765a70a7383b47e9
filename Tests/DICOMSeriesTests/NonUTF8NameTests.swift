import DICOMSeries
import Foundation
import TestSupport
import Testing
import VolumeCore

// Files and folders whose names are not valid UTF-8 (Latin-1 from old PACS exports): a String
// cannot name them and Foundation's enumerator passes over them, so a series that lost 39 of
// its 40 slices to them was analysed as a one-slice volume. The scan now reads them through
// aliases (symbolic links with UTF-8 names) and still refuses what is not a regular file.

/// Renames every file of `folder` but the first `keep` (in name order) to "café_<name>" in Latin-1.
func renameToLatin1(in folder: String, keep: Int = 0) throws -> [String] {
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    for name in names.dropFirst(keep) {
        try renameRaw(folder + "/" + name, into: Array(folder.utf8), name: latin1("café_") + Array(name.utf8))
    }
    return names
}

@Test(.enabled(if: fileSystemTakesLatin1Names, "the file system refuses names that are not UTF-8"))
func aSeriesWith39Of40SliceNamesInLatin1LoadsAllFortySlices() throws {
    let (phantom, options) = smallPhantom(size: 32, slices: 40)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    _ = try renameToLatin1(in: folder, keep: 1)
    let scan = try FolderScan.scan(folder)
    #expect(scan.headers.count == 40 && scan.skipped.isEmpty, "\(scan.skipped)")
    #expect(scan.names.links.count == 39 && scan.names.links.values.allSatisfy(\.notUTF8))
    let (volume, plan) = try loadOnlySeries(folder)
    #expect(plan.geometry.size == phantom.ct.geometry.size)
    #expect((plan.geometry.origin - phantom.ct.geometry.origin).length < 1e-6)
    #expect((plan.geometry.spacing - phantom.ct.geometry.spacing).length < 1e-6)
    #expect(volume.asInt16.voxels == phantom.ct.voxels)
}

@Test(.enabled(if: fileSystemTakesLatin1Names, "the file system refuses names that are not UTF-8"))
func aFIFOOrALinkWithALatin1NameIsRefusedNotRead() throws {
    let (phantom, options) = smallPhantom(size: 32, slices: 4)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let first = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()[0]
    // A FIFO would block the first read forever; a link is not followed, whatever it points to.
    try mkfifoRaw(rawPath(folder, latin1("tube_é.dcm")))
    try symlinkRaw(folder + "/" + first, at: rawPath(folder, latin1("lien_é.dcm")))
    let scan = try FolderScan.scan(folder)
    #expect(scan.headers.count == 4)
    let fifo = scan.skipped.first { $0.path == folder + "/tube_\\xE9.dcm" }
    #expect(fifo?.reason.contains("FIFO") == true, "\(scan.skipped)")
    let link = scan.skipped.first { $0.path == folder + "/lien_\\xE9.dcm" }
    #expect(link?.reason.contains("symbolic link") == true, "\(scan.skipped)")
    #expect(scan.names.links.isEmpty, "no alias is made for what is not read")
}

@Test(.enabled(if: fileSystemTakesLatin1Names, "the file system refuses names that are not UTF-8"))
func theAliasFolderGoesWithTheScan() throws {
    let (phantom, options) = smallPhantom(size: 32, slices: 3)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    _ = try renameToLatin1(in: folder, keep: 1)
    var aliasFolder = ""
    do {
        let scan = try FolderScan.scan(folder)
        aliasFolder = scan.names.folder
        #expect(scan.headers.count == 3)
        #expect(FileManager.default.fileExists(atPath: aliasFolder))
        withExtendedLifetime(scan) {}
    }
    #expect(!aliasFolder.isEmpty && !FileManager.default.fileExists(atPath: aliasFolder))
    #expect(try FolderScan.scan(folder).headers.count == 3, "removing the aliases left the files alone")
}

/// Names with line breaks and control characters, a leading dash, a 255-byte Latin-1 name
/// (1020 characters once shown as \xNN, more than an alias name can hold), a Latin-1 folder
/// and a file deeper than PATH_MAX: each is read, none is lost.
@Test(.enabled(if: fileSystemTakesLatin1Names, "the file system refuses names that are not UTF-8"))
func hostileNamesAreReadAndShownSafely() throws {
    let (phantom, options) = smallPhantom(size: 32, slices: 6)
    let folder = try writePhantom(phantom, options: options, to: try temporaryDirectory())
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    let root = Array(folder.utf8)
    try renameRaw(folder + "/" + names[0], into: root, name: Array("-rf .dcm".utf8))
    try renameRaw(folder + "/" + names[1], into: root, name: Array("line\nbreak\tand\u{7}bell.dcm".utf8))
    let long = latin1(String(repeating: "é", count: 251) + ".dcm")
    #expect(long.count == 255)
    try renameRaw(folder + "/" + names[2], into: root, name: long)
    let study = rawPath(folder, latin1("Ét\nude"))
    try mkdirRaw(study)
    try renameRaw(folder + "/" + names[3], into: study, name: Array(names[3].utf8))
    let depth = try buildDeepFolder(in: folder, moving: folder + "/" + names[4])
    #expect(depth > Int(PATH_MAX))

    let scan = try FolderScan.scan(folder)
    #expect(scan.headers.count == 6 && scan.skipped.isEmpty, "\(scan.skipped)")
    #expect(scan.names.links.values.contains { !$0.notUTF8 }, "a folder too deep to open by path has an alias too")
    let shown = scan.names.links.values.map(\.shown)
    #expect(shown.contains(folder + "/" + String(repeating: "\\xE9", count: 251) + ".dcm"), "\(shown)")
    #expect(shown.contains(folder + "/\\xC9t\\x0Aude"), "a control character is shown as \\xNN: \(shown)")
    let (volume, _) = try loadOnlySeries(folder)
    #expect(volume.asInt16.voxels == phantom.ct.voxels)
}

/// Moves `file` to the bottom of a chain of folders (250-byte names, one of them Latin-1) whose
/// path is longer than PATH_MAX, made with mkdirat(2) and openat(2), since no such path opens;
/// returns the length of the file's path.
func buildDeepFolder(in folder: String, moving file: String) throws -> Int {
    var descriptor = open(folder, O_RDONLY | O_DIRECTORY)
    var length = folder.utf8.count
    for level in 0..<20 {
        let name =
            level == 10
            ? latin1(String(repeating: "é", count: 250)) : Array(String(repeating: "d", count: 250).utf8)
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        guard descriptor >= 0, mkdirat(descriptor, cName, 0o755) == 0 else { throw TestFailure("mkdirat failed") }
        let next = openat(descriptor, cName, O_RDONLY | O_DIRECTORY)
        close(descriptor)
        descriptor = next
        length += 251
    }
    defer { close(descriptor) }
    guard renameat(AT_FDCWD, file, descriptor, "deep.dcm") == 0 else { throw TestFailure("renameat failed") }
    return length + "/deep.dcm".utf8.count
}
