import Foundation
import ImageCodecs
import NIfTIIO
import TestSupport
import Testing
import ZIPFoundation

// MARK: The acceptance run of robustness: healthy studies among hostile ones

/// Writes `value` into `tag` ("(gggg,eeee)") of every file in `folder` with DCMTK's dcmodify.
func modifyEvery(_ folder: String, _ tag: String, _ value: String) throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).map { folder + "/" + $0 }
    let run = try runTool("dcmodify", ["-nb", "-m", "\(tag)=\(value)"] + files)
    try #require(run.status == 0, "dcmodify: \(run.stderr)")
}

/// A zip whose central directory points 25 names at its one member (the overlapping zip bomb:
/// a small file whose members add up to far more than it holds).
func overlappingZipBomb(at path: String) throws {
    let zipped = try temporaryDirectory()
    try String(repeating: "0", count: 200_000).write(toFile: zipped + "/a.txt", atomically: true, encoding: .utf8)
    try TestArchive.makeZip(of: zipped, at: path)
    // Repeat the one central directory entry (same local header, names b.txt, c.txt, ...) and
    // fix the end record's counts, size and offset.
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let central: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
    let end: [UInt8] = [0x50, 0x4B, 0x05, 0x06]
    let cd = try #require((0..<(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == central })
    let eocd = try #require((0..<(bytes.count - 4)).last { Array(bytes[$0..<($0 + 4)]) == end })
    let entry = Array(bytes[cd..<eocd])
    var copies: [UInt8] = []
    for letter in "bcdefghijklmnopqrstuvwxyz".utf8 {
        var copy = entry
        copy[46] = letter  // the name "a.txt" (at offset 46 of the entry) becomes "b.txt", ...
        copies += copy
    }
    var tail = Array(bytes[eocd...])
    let count = UInt16(1 + copies.count / entry.count)
    let size = UInt32(entry.count + copies.count)
    tail.replaceSubrange(
        8..<12,
        with: withUnsafeBytes(of: count.littleEndian, Array.init) + withUnsafeBytes(of: count.littleEndian, Array.init))
    tail.replaceSubrange(12..<16, with: withUnsafeBytes(of: size.littleEndian, Array.init))
    try Data(Array(bytes[..<eocd]) + copies + tail).write(to: URL(fileURLWithPath: path))
}

/// The archive of the robustness issue's acceptance run: healthy studies (DICOM folders, one
/// named like a spreadsheet formula, one without Modality, one in a zip, a NIfTI, a PNG) among
/// one study for each hostile input. `expected` maps each case to its status; `reasons` maps
/// each failed case to words its reason must hold; `setAside` lists files that are no case.
struct HostileArchive {
    var archive: TestArchive
    var reasons: [String: String] = [:]
    /// Files that are no case → words the reason they were set aside for must hold.
    var setAside: [String: String] = [:]

    static func make() throws -> HostileArchive {
        var made = HostileArchive(archive: TestArchive(root: try temporaryDirectory() + "/archive"))
        let root = made.archive.root
        /// `shown`: the source as the summary shows it, when not the folder's name.
        func healthy(_ name: String, seed: UInt64, shown: String? = nil) throws {
            _ = try TestArchive.phantomStudy(into: root + "/" + name, seed: seed, size: 48, slices: 12)
            made.archive.expected[shown ?? name] = .ok
        }
        try healthy("healthy/a", seed: 61)
        // Named like a spreadsheet formula: the summary shows it behind a quote, as text.
        try healthy("=HYPERLINK(\"x\")", seed: 62, shown: "'=HYPERLINK(\"x\")")
        try healthy("healthy/no-modality", seed: 63)
        let noModality = root + "/healthy/no-modality"
        let files = try FileManager.default.contentsOfDirectory(atPath: noModality).map { noModality + "/" + $0 }
        try #require(try runTool("dcmodify", ["-nb", "-ea", "(0008,0060)"] + files).status == 0)
        let zipped = try temporaryDirectory()
        _ = try TestArchive.phantomStudy(into: zipped + "/ct", seed: 64, size: 48, slices: 12)
        try TestArchive.makeZip(of: zipped, at: root + "/healthy/export.zip")
        made.archive.expected["healthy/export.zip!/ct"] = .ok
        try NIfTI.write(
            testPhantom(size: 40, slices: 10, spacing: 12, seed: 65).phantom.ct, to: root + "/healthy/ct.nii.gz")
        made.archive.expected["healthy/ct.nii.gz"] = .ok
        let side = 96
        let pixels = (0..<(side * side)).map { UInt8(truncatingIfNeeded: ($0 % side) * 2 + ($0 / side)) }
        try PNGWriter.write(path: root + "/healthy/chest.png", width: side, height: side, channels: 1, pixels: pixels)
        made.archive.expected["healthy/chest.png"] = .ok
        if fileSystemTakesLatin1Names {
            // A Latin-1 study folder whose slices have Latin-1 names: read through aliases.
            _ = try TestArchive.phantomStudy(into: root + "/healthy/latin", seed: 66, size: 48, slices: 12)
            for name in try FileManager.default.contentsOfDirectory(atPath: root + "/healthy/latin") {
                try renameRaw(
                    root + "/healthy/latin/" + name, into: Array((root + "/healthy/latin").utf8),
                    name: latin1("é" + name))
            }
            try renameRaw(Array((root + "/healthy/latin").utf8), to: rawPath(root + "/healthy", latin1("café")))
            made.archive.expected["healthy/caf\\xE9"] = .ok
        }
        try made.addHostileDICOM()
        try made.addHostileFiles()
        return made
    }

    /// Series whose every slice carries one absurd header value.
    mutating func addHostileDICOM() throws {
        let damages = [
            ("slope-inf", "(0028,1053)", "inf", "(0028,1053)"),
            ("slope-nan", "(0028,1053)", "nan", "(0028,1053)"),
            ("intercept-huge", "(0028,1052)", "-1e38", "(0028,1052)"),
            ("position-nan", "(0020,0032)", "nan\\nan\\nan", "(0020,0032)"),
            ("spacing-tiny", "(0028,0030)", "1e-30\\1e-30", "(0028,0030)"),
        ]
        for (index, (name, tag, value, named)) in damages.enumerated() {
            let folder = archive.root + "/hostile/" + name
            _ = try TestArchive.phantomStudy(into: folder, seed: 70 + UInt64(index), size: 32, slices: 6)
            try modifyEvery(folder, tag, value)
            archive.expected["hostile/" + name] = .failed
            reasons["hostile/" + name] = named
        }
    }

    /// Damaged NIfTI, pictures and zips, and a FIFO named like a slice.
    mutating func addHostileFiles() throws {
        let root = archive.root + "/hostile"
        try FileManager.default.createDirectory(atPath: root + "/files", withIntermediateDirectories: true)
        let volume = testPhantom(size: 32, slices: 8, spacing: 10, seed: 80).phantom.ct
        try NIfTI.write(volume, to: root + "/files/short.nii")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: root + "/files/short.nii"))
        try handle.truncate(atOffset: 352 + 1000)
        try handle.close()
        archive.expected["hostile/files/short.nii"] = .failed
        reasons["hostile/files/short.nii"] = "short.nii"
        var wide: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        for _ in 0..<2 { wide += [0, 0, 0x3E, 0x80] }  // 16000 × 16000
        try Data(wide + [8, 0, 0, 0, 0, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: root + "/files/wide.png"))
        archive.expected["hostile/files/wide.png"] = .failed
        reasons["hostile/files/wide.png"] = "16000×16000"
        try Data("GIF89a".utf8 + [UInt8](repeating: 0, count: 64)).write(
            to: URL(fileURLWithPath: root + "/files/gif.png"))
        setAside["hostile/files/gif.png"] = "GIF"
        try overlappingZipBomb(at: root + "/files/bomb.zip")
        archive.expected["hostile/files/bomb.zip"] = .failed
        reasons["hostile/files/bomb.zip"] = "overlap"
        try FileManager.default.createDirectory(atPath: root + "/fifo", withIntermediateDirectories: true)
        try #require(mkfifo(root + "/fifo/slice.dcm", 0o600) == 0)
        setAside["hostile/fifo/slice.dcm"] = "not a regular file"
    }
}

/// What a run started with `startLungct(_:log:)` wrote to stderr.
func errors(_ log: String) -> String { (try? String(contentsOfFile: log + ".err", encoding: .utf8)) ?? "" }

/// Every healthy study ok, every hostile one failed with its reason, nothing set aside
/// silently, each case once, no scratch: in one run, and again after a SIGKILL and a rerun.
@Test(
    .enabled(if: hasTool("dcmodify"), "needs DCMTK's dcmodify"),
    .timeLimit(.minutes(10)))
func anArchiveMixingHealthyAndHostileStudiesEndsWithEveryHealthyStudyOk() throws {
    let hostile = try HostileArchive.make()
    let archive = hostile.archive
    let work = URL(fileURLWithPath: archive.root).deletingLastPathComponent().path
    func check(_ out: String, log: String) throws {
        try checkComplete(out, summary: out + "/summary.csv", archive: archive)
        for row in try summaryRows(out + "/summary.csv") {
            guard let words = hostile.reasons[row["source"] ?? ""] else { continue }
            #expect(row["reason"]?.contains(words) == true, "\(row["source"] ?? ""): \(row["reason"] ?? "")")
        }
        let setAside = (try jsonResult(log)["setAsideFiles"] as? [[String: Any]] ?? []).map {
            ($0["path"] as? String ?? "", $0["reason"] as? String ?? "")
        }
        for (path, words) in hostile.setAside {
            #expect(setAside.contains { $0.0 == path && $0.1.contains(words) }, "\(path): \(setAside)")
        }
        let lines = try String(contentsOfFile: out + "/summary.csv", encoding: .utf8).split(separator: "\n")
        let fields = lines.flatMap { csvFields(String($0)) }
        #expect(fields.contains { $0.contains("=HYPERLINK") }, "the formula-named study is in the summary")
        #expect(!fields.contains { $0.hasPrefix("=") }, "no field a spreadsheet would run as a formula")
    }
    let arguments = ["--jobs", "2", "--case-timeout", "120", "--json"]

    let once = work + "/once"
    let run = try startLungct(["batch", archive.root, "-o", once] + arguments, log: work + "/once")
    run.waitUntilExit()
    #expect(run.terminationStatus == 6, "\(errors(work + "/once"))")
    try check(once, log: work + "/once")

    let killed = work + "/killed"
    let first = try startLungct(["batch", archive.root, "-o", killed] + arguments, log: work + "/first")
    let deadline = Date().addingTimeInterval(300)
    while first.isRunning, Date() < deadline, ((try? summaryRows(killed + "/summary.csv"))?.count ?? 0) < 3 {
        usleep(20_000)
    }
    try #require(first.isRunning, "the run ended before it could be killed")
    kill(first.processIdentifier, SIGKILL)
    first.waitUntilExit()
    let rerun = try startLungct(["batch", archive.root, "-o", killed] + arguments, log: work + "/rerun")
    rerun.waitUntilExit()
    #expect(rerun.terminationStatus == 6, "\(errors(work + "/rerun"))")
    try check(killed, log: work + "/rerun")
}
