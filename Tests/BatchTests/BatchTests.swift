import AppSupport
import DICOMSeries
import Foundation
import ImageCodecs
import ModelRuntime
import NIfTIIO
import Phantom
import StudyAnalysis
import TestSupport
import Testing
import VolumeCore
import ZIPFoundation

@testable import BatchScoring

// MARK: Building archives

/// A test archive: what was put where, and what the batch should find.
struct TestArchive {
    let root: String
    /// Archive path of each case that must be found → its expected status.
    var expected: [String: CaseStatus] = [:]

    /// A small phantom CT study written as DICOM into `folder` (files straight in it).
    static func phantomStudy(
        into folder: String, seed: UInt64, size: Int = 64, slices: Int = 20, layout: PhantomLayout = PhantomLayout()
    ) throws -> Phantom {
        let (phantom, options) = testPhantom(size: size, slices: slices, spacing: 10, lesions: 1, seed: seed)
        let staging = try temporaryDirectory()
        let files = try PhantomWriter.write(phantom, options: options, layout: layout, to: staging)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for file in files.dicomFiles {
            try FileManager.default.moveItem(
                atPath: file, toPath: folder + "/" + URL(fileURLWithPath: file).lastPathComponent)
        }
        try? FileManager.default.removeItem(atPath: staging)
        return phantom
    }

    /// The issue's archive: phantom studies in nested folders (one split across two folders,
    /// one inside a zip file), a NIfTI volume, a radiograph, a truncated study and non-DICOM files.
    static func full() throws -> TestArchive {
        var archive = TestArchive(root: try temporaryDirectory() + "/archive")
        let root = archive.root
        _ = try phantomStudy(into: root + "/site-a/2021/study-1", seed: 1)
        var rle = PhantomLayout()
        rle.syntax = .rle
        rle.shuffleFiles = true
        _ = try phantomStudy(into: root + "/site-a/2022/study-2", seed: 2, layout: rle)
        archive.expected["site-a/2021/study-1"] = .ok
        archive.expected["site-a/2022/study-2"] = .ok

        // One series whose files lie in two folders: one case, named by the common folder.
        let split = root + "/site-b/split"
        _ = try phantomStudy(into: split + "/part-x", seed: 3)
        try FileManager.default.createDirectory(atPath: split + "/part-y", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: split + "/part-x").sorted().suffix(10) {
            try FileManager.default.moveItem(atPath: split + "/part-x/" + name, toPath: split + "/part-y/" + name)
        }
        archive.expected["site-b/split"] = .ok
        _ = try phantomStudy(into: root + "/site-b/deep/er/still/study-4", seed: 4)
        archive.expected["site-b/deep/er/still/study-4"] = .ok

        // A study inside a zip file, in a folder of the zip, beside a text file.
        let zipped = try temporaryDirectory()
        _ = try phantomStudy(into: zipped + "/patient/ct", seed: 5)
        try "exported by a PACS".write(toFile: zipped + "/patient/readme.txt", atomically: true, encoding: .utf8)
        try makeZip(of: zipped, at: root + "/site-c/export.zip")
        archive.expected["site-c/export.zip!/patient/ct"] = .ok

        // A NIfTI volume and a PNG radiograph.
        try FileManager.default.createDirectory(atPath: root + "/volumes", withIntermediateDirectories: true)
        try NIfTI.write(
            testPhantom(size: 48, slices: 16, spacing: 12, seed: 6).phantom.ct, to: root + "/volumes/chest.nii.gz")
        archive.expected["volumes/chest.nii.gz"] = .ok
        try FileManager.default.createDirectory(atPath: root + "/xray", withIntermediateDirectories: true)
        let side = 96
        let pixels = (0..<(side * side)).map { UInt8(truncatingIfNeeded: ($0 % side) * 2 + ($0 / side)) }
        try PNGWriter.write(path: root + "/xray/chest.png", width: side, height: side, channels: 1, pixels: pixels)
        archive.expected["xray/chest.png"] = .ok

        // A truncated study: every file cut in its pixel data.
        let truncated = root + "/site-c/truncated"
        _ = try phantomStudy(into: truncated, seed: 7)
        for name in try FileManager.default.contentsOfDirectory(atPath: truncated) {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: truncated + "/" + name))
            try handle.truncate(atOffset: try handle.seekToEnd() * 6 / 10)
            try handle.close()
        }
        archive.expected["site-c/truncated"] = .failed

        try "not an image".write(toFile: root + "/notes.txt", atomically: true, encoding: .utf8)
        return archive
    }

    static func makeZip(of folder: String, at path: String) throws {
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        let zip = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        let base = URL(fileURLWithPath: folder)
        let enumerator = FileManager.default.enumerator(atPath: folder)!
        var members: [String] = []
        while let member = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder + "/" + member, isDirectory: &isDirectory)
            if !isDirectory.boolValue { members.append(member) }
        }
        for member in members.sorted() {
            try zip.addEntry(with: member, relativeTo: base, compressionMethod: .deflate)
        }
    }
}

/// A summary file's rows, as dictionaries by column name.
func summaryRows(_ path: String) throws -> [[String: String]] {
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    guard let header = lines.first?.split(separator: ",").map(String.init) else { return [] }
    return lines.dropFirst().map { line in
        Dictionary(uniqueKeysWithValues: zip(header, csvFields(line)))
    }
}

/// Splits one CSV line (RFC 4180 quoting, no line breaks inside fields).
func csvFields(_ line: String) -> [String] {
    var fields: [String] = []
    var field = ""
    var quoted = false
    var previous: Character?
    for character in line {
        if quoted {
            if character == "\"" {
                quoted = false
            } else {
                field.append(character)
            }
        } else if character == "\"" {
            if previous == "\"" { field.append("\"") }
            quoted = true
        } else if character == "," {
            fields.append(field)
            field = ""
        } else {
            field.append(character)
        }
        previous = character
    }
    fields.append(field)
    return fields
}

/// Checks OUT after a complete run: each expected case exactly once in the summary, with its
/// status and complete outputs; nothing partial left behind.
func checkComplete(_ out: String, summary: String, archive: TestArchive) throws {
    let rows = try summaryRows(summary)
    let sources = rows.map { $0["source"] ?? "" }
    #expect(sources.sorted() == archive.expected.keys.sorted(), "each case exactly once")
    #expect(Set(rows.map { $0["case_id"] ?? "" }).count == rows.count)
    for row in rows {
        let source = row["source"] ?? ""
        #expect(row["status"] == archive.expected[source]?.rawValue, "\(source): \(row["reason"] ?? "")")
        let folder = out + "/" + (row["case_id"] ?? "")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        if row["status"] == "ok" {
            #expect(
                files.isSuperset(of: [
                    OutputFile.lungMask, OutputFile.study, OutputFile.report, OutputFile.overview, "case.json",
                ]),
                "\(source): \(files)")
            #expect(!files.contains { $0.hasPrefix(".") }, "\(source): nothing half-written")
            let report = try String(contentsOfFile: folder + "/" + OutputFile.report, encoding: .utf8)
            #expect(!report.contains("PHANTOM^LUNGCT") && !report.contains(".partial-"))
            #expect(report.contains(folder + "/" + OutputFile.study))
        } else {
            #expect(files == ["case.json"])
        }
    }
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: out).filter {
        $0.hasPrefix(".partial-") || $0 == ".work"
    }
    #expect(leftovers.isEmpty, "\(leftovers)")
}

// MARK: The archive test, with a SIGKILL

/// The --json result a finished run printed.
func jsonResult(_ log: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: log + ".out"))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
}

@Test(.timeLimit(.minutes(10)))
func archiveRunKilledWithSIGKILLThenRerunHasEveryCaseOnce() throws {
    let archive = try TestArchive.full()
    let work = URL(fileURLWithPath: archive.root).deletingLastPathComponent().path
    let out = work + "/out"
    let arguments = ["batch", archive.root, "-o", out, "--jobs", "2", "--progress-interval", "1"]

    // Kill as soon as the first case is in the summary, while others are in progress.
    let first = try startLungct(arguments, log: work + "/run1")
    let summary = out + "/summary.csv"
    let deadline = Date().addingTimeInterval(300)
    while first.isRunning, Date() < deadline {
        if let rows = try? summaryRows(summary), !rows.isEmpty { break }
        usleep(20_000)
    }
    #expect(first.isRunning, "the first run ended before it could be killed")
    kill(first.processIdentifier, SIGKILL)
    first.waitUntilExit()
    let rowsAtKill = (try? summaryRows(summary))?.count ?? 0
    #expect(first.terminationReason == .uncaughtSignal)
    #expect(rowsAtKill >= 1 && rowsAtKill < archive.expected.count, "killed partway: \(rowsAtKill) rows")

    // The rerun finishes the rest: exit 6 because the truncated study failed.
    let second = try startLungct(arguments + ["--json"], log: work + "/run2")
    second.waitUntilExit()
    let stderr = try String(contentsOfFile: work + "/run2.err", encoding: .utf8)
    #expect(second.terminationStatus == 6, "\(stderr)")
    try checkComplete(out, summary: summary, archive: archive)
    let result = try jsonResult(work + "/run2")
    let alreadyDone = result["alreadyDone"] as? Int ?? -1
    let analysed = result["analysedThisRun"] as? Int ?? -1
    // Killed between a rename and its row, a case is finished without a row: counted done, not redone.
    #expect(alreadyDone >= rowsAtKill && alreadyDone + analysed == archive.expected.count, "\(result)")
    let setAside = (result["setAsideFiles"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
    #expect(setAside.contains("notes.txt") && setAside.contains("site-c/export.zip!/patient/readme.txt"), "\(setAside)")

    // A third run redoes nothing and leaves the summary as it was.
    let before = try Data(contentsOf: URL(fileURLWithPath: summary))
    func folderDates() throws -> [Date?] {
        try FileManager.default.contentsOfDirectory(atPath: out).filter { !$0.hasPrefix(".") }.sorted().map {
            try FileManager.default.attributesOfItem(atPath: out + "/" + $0)[.modificationDate] as? Date
        }
    }
    let dates = try folderDates()
    let third = try startLungct(arguments + ["--json"], log: work + "/run3")
    third.waitUntilExit()
    #expect(third.terminationStatus == 6)
    #expect(try jsonResult(work + "/run3")["analysedThisRun"] as? Int == 0)
    #expect(try Data(contentsOf: URL(fileURLWithPath: summary)) == before)
    #expect(try folderDates() == dates)
}

// MARK: Resuming, through the API

/// A small archive: two phantom studies, a NIfTI, and a localizer series (skipped).
func smallArchive() throws -> TestArchive {
    var archive = TestArchive(root: try temporaryDirectory() + "/archive")
    _ = try TestArchive.phantomStudy(into: archive.root + "/a/study", seed: 21, size: 48, slices: 12)
    _ = try TestArchive.phantomStudy(into: archive.root + "/b/study", seed: 22, size: 48, slices: 12)
    var localizer = PhantomLayout()
    localizer.identity.imageType = "ORIGINAL\\PRIMARY\\LOCALIZER"
    _ = try TestArchive.phantomStudy(into: archive.root + "/b/scout", seed: 23, size: 32, slices: 1, layout: localizer)
    try NIfTI.write(testPhantom(size: 40, slices: 10, spacing: 12).phantom.ct, to: archive.root + "/c.nii")
    archive.expected = ["a/study": .ok, "b/study": .ok, "b/scout": .skipped, "c.nii": .ok]
    return archive
}

func quietOptions(_ archive: String, _ output: String) -> BatchOptions {
    var options = BatchOptions(archive: archive, output: output)
    options.interactive = false
    options.progressInterval = 3600
    return options
}

@Test func rerunRepairsATornSummaryLineAMissingRowAndStaleFolders() throws {
    let archive = try smallArchive()
    let out = try temporaryDirectory() + "/out"
    let first = try Batch.run(quietOptions(archive.root, out))
    #expect(first.outcome == .done, "skipped cases are not failures")
    #expect(first.ok == 3 && first.skipped == 1)
    let summary = out + "/summary.csv"
    try checkComplete(out, summary: summary, archive: archive)

    // What a crash can leave: a torn last line, a finished case folder without its row (killed
    // between the rename and the append), a partial folder, and a case folder without case.json.
    var lines = try String(contentsOfFile: summary, encoding: .utf8).split(separator: "\n").map(String.init)
    let torn = lines.removeLast()
    lines.removeLast()  // a case whose row never made it
    let rows = try summaryRows(summary)
    let redo = rows[1]["case_id"]!
    try (lines.joined(separator: "\n") + "\n" + torn.prefix(20)).write(
        toFile: summary, atomically: true, encoding: .utf8)
    try FileManager.default.createDirectory(
        atPath: out + "/.partial-\(rows[0]["case_id"]!)-dead", withIntermediateDirectories: true)
    try FileManager.default.removeItem(atPath: out + "/\(redo)/case.json")

    let second = try Batch.run(quietOptions(archive.root, out))
    #expect(second.analysedThisRun == 1, "only the case without case.json is done again")
    #expect(second.alreadyDone == 3)
    try checkComplete(out, summary: summary, archive: archive)
}

@Test func anUnreadableCaseRecordStopsTheRunAndKeepsTheResult() throws {
    let archive = try smallArchive()
    let out = try temporaryDirectory() + "/out"
    #expect(try Batch.run(quietOptions(archive.root, out)).ok == 3)
    let id = try #require(try summaryRows(out + "/summary.csv").first { $0["status"] == "ok" }?["case_id"])
    // A record this lungct cannot decode (damaged, or written by another version).
    try "{\"case_id\": 7}".write(toFile: out + "/\(id)/case.json", atomically: true, encoding: .utf8)
    let error = #expect(throws: LungCTError.self) { try Batch.run(quietOptions(archive.root, out)) }
    #expect(error?.category == .outputFailed)
    #expect(error?.description.contains(id + "/case.json") == true, "\(String(describing: error))")
    #expect(FileManager.default.fileExists(atPath: out + "/\(id)/lung_mask.nii.gz"), "the finished result is kept")
}

@Test func aCaseThatThreeRunsDiedOnIsMarkedFailedAndTheRestIsAnalysed() throws {
    let archive = try smallArchive()
    let out = try temporaryDirectory() + "/out"
    let cases = try ArchiveScan.scan(archive.root, scratch: try temporaryDirectory()).cases
    let crasher = try #require(cases.first { $0.source == "a/study" })
    // What three runs that died on this case (a crash in its analysis, or kill -9) leave.
    let output = BatchOutput(root: out)
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    output.setAttempts(crasher.id, Batch.maximumAttempts)
    let result = try Batch.run(quietOptions(archive.root, out))
    #expect(result.outcome == .someFailed && result.failed == 1 && result.ok == 2)
    let row = try #require(try summaryRows(out + "/summary.csv").first { $0["case_id"] == crasher.id })
    #expect(row["status"] == "failed" && row["reason"]?.contains("in progress in 3 runs") == true, "\(row)")
    // Every case that finished, failed or not, has its attempts cleared.
    for item in cases { #expect(output.attempts(item.id) == 0, "\(item.source)") }
}

@Test func retryFailedAnalysesFailedCasesAgain() throws {
    let root = try temporaryDirectory() + "/archive"
    _ = try TestArchive.phantomStudy(into: root + "/good", seed: 31, size: 48, slices: 12)
    try FileManager.default.createDirectory(atPath: root + "/bad", withIntermediateDirectories: true)
    try Data("PK\u{3}\u{4}garbage".utf8).write(to: URL(fileURLWithPath: root + "/bad/broken.zip"))
    let out = try temporaryDirectory() + "/out"
    let first = try Batch.run(quietOptions(root, out))
    #expect(first.outcome == .someFailed && first.failed == 1)
    #expect(first.failures.first?.source == "bad/broken.zip")
    #expect(try Batch.run(quietOptions(root, out)).analysedThisRun == 0, "a failed case is finished: not retried")
    var retry = quietOptions(root, out)
    retry.retryFailed = true
    let third = try Batch.run(retry)
    #expect(third.analysedThisRun == 1 && third.failed == 1)
    #expect(try summaryRows(out + "/summary.csv").count == 2)
}

@Test func aZipWithADamagedSizeFieldIsOneFailedCaseNotAFullDisk() throws {
    let root = try temporaryDirectory() + "/archive"
    _ = try TestArchive.phantomStudy(into: root + "/good", seed: 32, size: 48, slices: 12)
    let zipped = try temporaryDirectory()
    try String(repeating: "not a study\n", count: 100).write(
        toFile: zipped + "/notes.txt", atomically: true, encoding: .utf8)
    try TestArchive.makeZip(of: zipped, at: root + "/bad/export.zip")
    // The member's uncompressed size, in its local header (offset 22) and its central
    // directory entry (offset 24), set to about 4 GB: more than deflate makes of a few bytes.
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/bad/export.zip")))
    for (signature, offset) in [([0x50, 0x4B, 0x03, 0x04] as [UInt8], 22), ([0x50, 0x4B, 0x01, 0x02], 24)] {
        let start = try #require((0..<(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == signature })
        bytes.replaceSubrange((start + offset)..<(start + offset + 4), with: [0xF0, 0xFF, 0xFF, 0xFF])
    }
    try Data(bytes).write(to: URL(fileURLWithPath: root + "/bad/export.zip"))
    let out = try temporaryDirectory() + "/out"
    let result = try Batch.run(quietOptions(root, out))
    #expect(result.outcome == .someFailed && result.ok == 1 && result.failed == 1)
    #expect(result.failures.first?.source == "bad/export.zip")
    #expect(result.failures.first?.reason.contains("damaged") == true, "\(result.failures)")
}

// MARK: Shards

@Test func shardsSplitEveryCaseIdExactlyOnce() throws {
    for count in [1, 2, 3, 7] {
        let shards = (0..<count).map { Shard(index: $0, count: count)! }
        var perShard = Array(repeating: 0, count: count)
        for n in 0..<3000 {
            let id = String(format: "%016llx", UInt64(n) &* 0x9E37_79B9_7F4A_7C15)
            let owners = shards.indices.filter { shards[$0].contains(id) }
            #expect(owners.count == 1)
            perShard[owners[0]] += 1
        }
        // Hash-based: roughly even (each shard within 20 % of its share).
        #expect(
            perShard.allSatisfy { abs(Double($0) - 3000 / Double(count)) < 0.2 * 3000 / Double(count) }, "\(perShard)")
    }
    #expect(Shard(parsing: "3/3") == nil && Shard(parsing: "-1/3") == nil && Shard(parsing: "2/3") != nil)
}

@Test func shardsOfAnotherCountCannotWriteTheSameOutputAtOnce() throws {
    let archive = try smallArchive()
    let out = try temporaryDirectory() + "/out"
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    // Shard 0/3 is running (its locks held) while someone starts shard 1/2 on the same OUT.
    let running = try OutputLock(root: out, shard: Shard(index: 0, count: 3))
    var options = quietOptions(archive.root, out)
    options.shard = Shard(index: 1, count: 2)
    let error = #expect(throws: LungCTError.self) { try Batch.run(options) }
    #expect(error?.description.contains("--shard K/3") == true, "\(String(describing: error))")
    // Another shard of the same count may run beside it.
    options.shard = Shard(index: 1, count: 3)
    #expect(try Batch.run(options).unfinished == 0)
    withExtendedLifetime(running) {}
}

@Test func threeShardsIntoOneOutputCoverEveryCaseOnceAndMerge() throws {
    let archive = try smallArchive()
    let out = try temporaryDirectory() + "/out"
    var shardRows: [String] = []
    for k in 0..<3 {
        var options = quietOptions(archive.root, out)
        options.shard = Shard(index: k, count: 3)
        let result = try Batch.run(options)
        #expect(result.casesInArchive == 4)
        #expect(result.unfinished == 0)
        shardRows += try summaryRows(out + "/summary.shard-\(k)-of-3.csv").map { $0["case_id"]! }
        if k == 1 {
            // Before the last shard ran, a merge says which shards are missing.
            let early = try Batch.merge(out)
            #expect(early.unfinishedShards == ["2/3"])
            #expect(early.outcome == .shardsUnfinished)
        }
    }
    #expect(shardRows.count == 4 && Set(shardRows).count == 4, "every case in exactly one shard")
    let merged = try Batch.merge(out)
    #expect(merged.unfinishedShards.isEmpty)
    #expect(merged.outcome == .done && merged.cases == 4 && merged.ok == 3 && merged.skipped == 1)
    try checkComplete(out, summary: out + "/summary.csv", archive: archive)
    #expect(Set(try summaryRows(out + "/summary.csv").map { $0["case_id"]! }) == Set(shardRows))
}

// MARK: Zip files

@Test func zipMembersCannotEscapeTheScratchFolder() throws {
    let work = try temporaryDirectory()
    let zipPath = work + "/archive/evil.zip"
    try FileManager.default.createDirectory(atPath: work + "/archive", withIntermediateDirectories: true)
    let zip = try Archive(url: URL(fileURLWithPath: zipPath), accessMode: .create)
    let payload = Data("gotcha".utf8)
    for name in ["../escaped.txt", "a/../../escaped2.txt", "/absolute.txt", "fine/inside.txt"] {
        try zip.addEntry(with: name, type: .file, uncompressedSize: Int64(payload.count)) { position, size in
            payload.subdata(in: Int(position)..<Int(position) + size)
        }
    }
    let scratch = work + "/scratch/inner"
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    let inventory = try ArchiveScan.scan(work + "/archive", scratch: scratch)
    #expect(!FileManager.default.fileExists(atPath: work + "/scratch/escaped.txt"))
    #expect(!FileManager.default.fileExists(atPath: work + "/escaped.txt"))
    #expect(!FileManager.default.fileExists(atPath: work + "/escaped2.txt"))
    #expect(!FileManager.default.fileExists(atPath: "/absolute.txt"))
    let refused = inventory.setAside.filter { $0.reason.contains("refused") }.map(\.path)
    #expect(refused.sorted() == ["evil.zip!/../escaped.txt", "evil.zip!/a/../../escaped2.txt"])
    // The others are unpacked inside (an absolute name is taken as relative, as unzip does)
    // and set aside as non-DICOM files.
    let unpacked = inventory.setAside.filter { $0.reason == "not a DICOM file" }.map(\.path)
    #expect(unpacked.sorted() == ["evil.zip!/absolute.txt", "evil.zip!/fine/inside.txt"])
    #expect(inventory.cases.isEmpty)
}

// MARK: Disk full

/// A 700 KB tmpfs as the output folder fills up after a few cases. Needs root (mount).
@Test(.enabled(if: canMountTmpfs, "needs root with CAP_SYS_ADMIN to mount a small tmpfs"))
func diskFullIsAClearErrorAndTheRerunFinishes() throws {
    let work = try temporaryDirectory()
    let mountPoint = work + "/small-disk"
    try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
    try runTool("mount", ["-t", "tmpfs", "-o", "size=700k", "tmpfs", mountPoint])
    // Lazy: a file whose close failed on the full disk may still hold the mount busy.
    defer { _ = try? runTool("umount", ["-l", mountPoint]) }
    let root = work + "/archive"
    for seed in 41...46 {
        _ = try TestArchive.phantomStudy(into: root + "/s\(seed)", seed: UInt64(seed), size: 64, slices: 20)
    }
    let out = mountPoint + "/out"
    let error = #expect(throws: LungCTError.self) { try Batch.run(quietOptions(root, out)) }
    #expect(error?.category == .outputFailed)
    #expect(error?.description.contains("free on the output's file system") == true, "\(String(describing: error))")
    #expect(error?.description.contains("rerun the same command") == true)
    let partials = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".partial-") }
    #expect(partials.isEmpty)
    let before = try summaryRows(out + "/summary.csv")
    #expect(before.count < 6 && before.allSatisfy { $0["status"] == "ok" }, "no case marked failed for a full disk")

    try runTool("mount", ["-o", "remount,size=64m", mountPoint])
    let rerun = try Batch.run(quietOptions(root, out))
    #expect(rerun.outcome == .done && rerun.ok == 6 && rerun.alreadyDone == before.count)
}

// MARK: The command line

@Test func batchHelpAndExitCodes() throws {
    let help = try lungct("batch", "--help")
    #expect(help.status == 0)
    #expect(help.stdout.contains("Example") && help.stdout.contains("Exit codes") && help.stdout.contains("--shard"))
    #expect(try lungct("--help").stdout.contains("batch"))

    let work = try temporaryDirectory()
    try FileManager.default.createDirectory(atPath: work + "/empty-ish", withIntermediateDirectories: true)
    try "x".write(toFile: work + "/empty-ish/notes.txt", atomically: true, encoding: .utf8)
    let nothing = try lungct("batch", work + "/empty-ish", "-o", work + "/out")
    #expect(nothing.status == 2, "\(nothing.stderr)")
    let missing = try lungct("batch", work + "/missing", "-o", work + "/out2")
    #expect(missing.status == 3 && missing.stderr.contains(work + "/missing"))
    let unwritable = try lungct("batch", work + "/empty-ish", "-o", "/proc/lungct-batch")
    #expect(unwritable.status == 5 && unwritable.stderr.contains("/proc/lungct-batch"))
    #expect(try lungct("batch", work + "/empty-ish", "-o", work + "/o", "--shard", "3/3").status == 1)
    #expect(try lungct("batch", work + "/empty-ish").status == 1)
    #expect(try lungct("batch", "merge", work + "/empty-ish", work + "/out").status == 1)
    #expect(try lungct("batch", "merge", work + "/nowhere").status == 3)
}

@Test(.timeLimit(.minutes(10)))
func sigintFinishesTheCasesInProgressAndTheRerunTheRest() throws {
    var archive = TestArchive(root: try temporaryDirectory() + "/archive")
    for seed in 51...56 {
        _ = try TestArchive.phantomStudy(into: archive.root + "/s\(seed)", seed: UInt64(seed))
        archive.expected["s\(seed)"] = .ok
    }
    let out = try temporaryDirectory() + "/out"
    let log = try temporaryDirectory() + "/run"
    let run = try startLungct(["batch", archive.root, "-o", out, "--progress-interval", "1"], log: log)
    while run.isRunning, (try? summaryRows(out + "/summary.csv"))?.isEmpty ?? true { usleep(20_000) }
    run.interrupt()
    run.waitUntilExit()
    let stderr = try String(contentsOfFile: log + ".err", encoding: .utf8)
    #expect(run.terminationStatus == 130, "\(stderr)")
    #expect(stderr.contains("interrupted: rerun the same command"))
    let rows = try summaryRows(out + "/summary.csv")
    #expect(rows.count >= 1 && rows.count < 6)
    #expect(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".partial-") }.isEmpty)

    let rerun = try lungct("batch", archive.root, "-o", out)
    #expect(rerun.status == 0, "\(rerun.stderr)")
    try checkComplete(out, summary: out + "/summary.csv", archive: archive)
}

@Test func anOutputFolderInsideTheArchiveIsNotScanned() throws {
    let archive = try smallArchive()
    let out = archive.root + "/results"
    let first = try Batch.run(quietOptions(archive.root, out))
    #expect(first.cases == 4)
    // The outputs (NIfTI masks, PNG overviews) must not become cases of the next run.
    let second = try Batch.run(quietOptions(archive.root, out))
    #expect(second.cases == 4 && second.analysedThisRun == 0 && second.setAsideFiles.isEmpty)
}

@Test func aBatchCaseHasTheSameResultsAsAnalyze() throws {
    let archive = try smallArchive()
    let out = try temporaryDirectory() + "/out"
    _ = try Batch.run(quietOptions(archive.root, out))
    let row = try #require(try summaryRows(out + "/summary.csv").first { $0["source"] == "a/study" })
    let single = try Analyzer.analyze(
        AnalysisOptions(input: archive.root + "/a/study", output: try temporaryDirectory()))
    let total = try #require(single.lungPanel?.total.volumeML)
    #expect(row["total_lung_ml"] == String(format: "%.1f", total))
    let batchReport = try JSONDecoder().decode(
        AnalysisReport.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/" + row["case_id"]! + "/report.json")))
    #expect(batchReport.study.studyHash == single.study.studyHash)
    #expect(batchReport.lungPanel?.total.meanHU == single.lungPanel?.total.meanHU)
    #expect(batchReport.geometry.size == single.geometry.size)
}

/// A CT's row carries the lesion network's COVID-19 pattern score (report.json's
/// `model.probability`) in `study_probability`, and the network's SHA-256.
@Test func batchRowsCarryTheStudyProbabilityAndTheModelThatRan() throws {
    let archive = try smallArchive()
    let out = try temporaryDirectory() + "/out"
    var options = quietOptions(archive.root, out)
    // An untrained lesion network, small so that the debug build runs it quickly.
    let path = try temporaryDirectory() + "/lesion.h5"
    try ModelTools.initializeLesion(to: path, width: 4, depth: 2, seed: 3)
    let model = try AnalysisModels.load(path, requireManifest: false)
    options.models = AnalysisModels(lesion: model)
    let result = try Batch.run(options)
    #expect(result.ok == 3)
    let rows = try summaryRows(out + "/summary.csv").filter { $0["status"] == "ok" }
    #expect(rows.count == 3)
    for row in rows {
        let probability = try #require(Double(row["study_probability"] ?? ""), "\(row)")
        #expect((0...1).contains(probability))
        #expect(row["model_sha256"] == model.sha256)
        let report = try JSONDecoder().decode(
            AnalysisReport.self,
            from: Data(contentsOf: URL(fileURLWithPath: out + "/" + row["case_id"]! + "/report.json")))
        #expect(report.model.ran)
        #expect(report.model.probability == report.lesions?.score.value.rounded(places: ReportPrecision.probability))
        #expect(probability == report.model.probability)
        for file in [OutputFile.probability, OutputFile.lesionMask] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + row["case_id"]! + "/" + file))
        }
    }
}

@Test func maskVolumesBesideTheStudiesAreSkippedNotScored() throws {
    let archive = try smallArchive()
    try NIfTI.write(testPhantom(size: 40, slices: 10, spacing: 12).phantom.lungs, to: archive.root + "/c-mask.nii.gz")
    let out = try temporaryDirectory() + "/out"
    let result = try Batch.run(quietOptions(archive.root, out))
    #expect(result.outcome == .done, "a skipped mask is not a failure")
    let mask = try #require(try summaryRows(out + "/summary.csv").first { $0["source"] == "c-mask.nii.gz" })
    #expect(mask["status"] == "skipped")
    #expect(mask["reason"]?.contains("label volume") == true)
}

/// A folder named like a spreadsheet formula must not become one in summary.csv (CSV
/// injection): the field gets a leading apostrophe, and stays one quoted field.
@Test func summaryFieldsThatLookLikeFormulasStayText() {
    #expect(SummaryCSV.field("=HYPERLINK(\"http://x\",\"y\")") == "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"")
    #expect(SummaryCSV.field("+1") == "'+1")
    #expect(SummaryCSV.field("@SUM(A1)") == "'@SUM(A1)")
    #expect(SummaryCSV.field("-2+3") == "'-2+3")
    #expect(SummaryCSV.field("study/ct") == "study/ct")
}

/// A zip whose central directory points many names at one member (the overlapping zip bomb:
/// a few MB asking for hundreds of GB) used to stop the whole run with exit 5 ("unpacking
/// needs 330 GB") on every rerun. It is one failed case; the healthy study is ok.
@Test func aZipWhoseMembersOverlapIsOneFailedCaseNotAFullDisk() throws {
    let root = try temporaryDirectory() + "/archive"
    _ = try TestArchive.phantomStudy(into: root + "/good", seed: 33, size: 48, slices: 12)
    let path = root + "/bomb/export.zip"
    try overlappingZipBomb(at: path)
    let out = try temporaryDirectory() + "/out"
    let result = try Batch.run(quietOptions(root, out))
    #expect(result.outcome == .someFailed && result.ok == 1 && result.failed == 1)
    #expect(result.failures.first?.source == "bomb/export.zip")
    #expect(result.failures.first?.reason.contains("overlap") == true, "\(result.failures)")
}

/// What only a NIfTI's voxels show (NaN read as 0) reaches a batch case's report.json as it
/// reaches analyze's: the batch used to load through a path that dropped it.
@Test func aBatchCaseKeepsTheWarningsLoadingFound() throws {
    let root = try temporaryDirectory() + "/archive"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let (phantom, _) = testPhantom(size: 32, slices: 8, spacing: 5, seed: 7)
    var voxels = phantom.ct.voxels.map(Float.init)
    voxels[5] = .nan
    try NIfTI.write(Volume(geometry: phantom.ct.geometry, voxels: voxels), to: root + "/ct.nii.gz")
    let out = try temporaryDirectory() + "/out"
    _ = try Batch.run(quietOptions(root, out))
    let row = try #require(try summaryRows(out + "/summary.csv").first)
    #expect(row["status"] == "ok", "\(row)")
    let report = try JSONDecoder().decode(
        AnalysisReport.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/" + row["case_id"]! + "/report.json")))
    #expect(report.warnings.contains { $0.contains("1 voxels are NaN or infinite: read as 0") }, "\(report.warnings)")
}
