import Foundation
import TestSupport
import Testing
import ZIPFoundation

@testable import BatchScoring

// Zip files unpacked by a batch: capped (--zip-limit, counted as written), removed when their
// cases are done, when the run stops and when a killed run left them, and stopped by the first
// SIGTERM. The issue: a zip bomb wrote 5.9 GB into OUT/.work, the first SIGTERM did not stop the
// scan, and the 5.6 GB were left behind.

/// A zip at `path` with one member `name` of `bytes` zero bytes, deflated by ZIPFoundation.
func zerosZip(at path: String, name: String = "zeros.bin", bytes: Int) throws {
    try FileManager.default.createDirectory(
        atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
    let zip = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
    try zip.addEntry(
        with: name, type: .file, uncompressedSize: Int64(bytes), compressionMethod: .deflate, bufferSize: 1 << 20
    ) { position, size in Data(count: min(size, bytes - Int(position))) }
}

/// Sets the uncompressed size of the first member of the zip at `path`, in its local header
/// (offset 22) and its central directory entry (offset 24).
func declareSize(_ size: UInt32, inZip path: String) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    for (signature, offset) in [([0x50, 0x4B, 0x03, 0x04] as [UInt8], 22), ([0x50, 0x4B, 0x01, 0x02], 24)] {
        let start = try #require((0..<(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == signature })
        bytes.replaceSubrange(
            (start + offset)..<(start + offset + 4), with: (0..<4).map { UInt8((size >> (8 * $0)) & 0xFF) })
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The folders in OUT/.work/<label>/ that hold unpacked zips (z1, z2, ...).
func unpackedFolders(_ out: String, label: String = "all") -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: out + "/.work/" + label)) ?? []).filter {
        $0.hasPrefix("z")
    }
}

/// Before: no cap at all (a zip unpacked whatever it held), and a member was written whole
/// whatever size it declared.
@Test func aZipBeyondTheCapIsOneFailedCaseAndTheOtherCasesAreOK() throws {
    let root = try temporaryDirectory() + "/archive"
    _ = try TestArchive.phantomStudy(into: root + "/good", seed: 61, size: 48, slices: 12)
    // Declares 4 MiB against a cap of 2 MiB: refused before anything is written.
    try zerosZip(at: root + "/big.zip", bytes: 4 << 20)
    // Declares 1000 bytes and inflates to 3 MiB: stopped at the 1001st byte.
    try zerosZip(at: root + "/liar.zip", bytes: 3 << 20)
    try declareSize(1000, inZip: root + "/liar.zip")
    // A zip of 2 KB holding one that unpacks to 3 MiB: the nested one draws on the same cap.
    let nested = try temporaryDirectory()
    try zerosZip(at: nested + "/inner.zip", bytes: 3 << 20)
    try TestArchive.makeZip(of: nested, at: root + "/outer.zip")
    let out = try temporaryDirectory() + "/out"
    var options = quietOptions(root, out)
    options.zipLimitBytes = 2 << 20
    let result = try Batch.run(options)
    #expect(result.outcome == .someFailed && result.ok == 1 && result.failed == 3, "\(result.failures)")
    let reasons = Dictionary(result.failures.map { ($0.source, $0.reason) }, uniquingKeysWith: { a, _ in a })
    #expect(reasons["big.zip"]?.contains("declares more than 2.0 MB") == true, "\(reasons)")
    #expect(reasons["big.zip"]?.contains("--zip-limit") == true)
    #expect(reasons["liar.zip"]?.contains("inflates to more than the 1000 bytes it declares") == true, "\(reasons)")
    #expect(reasons["outer.zip!/inner.zip"]?.contains("--zip-limit") == true, "\(reasons)")
    #expect(!FileManager.default.fileExists(atPath: out + "/.work"), "no scratch left")
}

/// Before: every unpacked zip stayed in OUT/.work until the whole run ended.
@Test func aZipsScratchGoesWhenItsLastCaseHasFinished() throws {
    let root = try temporaryDirectory() + "/archive"
    for (name, seed) in [("a", 62), ("b", 63)] {
        let study = try temporaryDirectory()
        _ = try TestArchive.phantomStudy(into: study + "/ct", seed: UInt64(seed), size: 48, slices: 12)
        try TestArchive.makeZip(of: study, at: root + "/\(name).zip")
    }
    let out = try temporaryDirectory() + "/out"
    var options = quietOptions(root, out)
    options.interactive = true
    // What OUT/.work held each time the run reported (a progress line per finished case, among others).
    let seen = Locked<[Int]>([])
    let result = try Batch.run(options) { _ in seen.update { $0.append(unpackedFolders(out).count) } }
    #expect(result.outcome == .done && result.ok == 2)
    #expect(seen.value.contains(2), "both zips unpacked after the scan: \(seen.value)")
    #expect(seen.value.contains(1), "the first case's zip removed when it finished: \(seen.value)")
    #expect(!FileManager.default.fileExists(atPath: out + "/.work"), "no scratch left")
}

/// Before: a run removed only its own label's scratch, so what a killed shard (or a killed run
/// of another shard count) left stayed for good.
@Test func scratchThatKilledRunsLeftIsRemovedBeforeTheNextRunStarts() throws {
    let archive = try smallArchive()
    let out = try temporaryDirectory() + "/out"
    // What kill -9 left: an unsharded run's scratch, a shard's that is running now, a dead shard's.
    for label in ["all", "shard-0-of-2", "shard-1-of-2"] {
        try FileManager.default.createDirectory(atPath: out + "/.work/\(label)/z1", withIntermediateDirectories: true)
        try Data(count: 1000).write(to: URL(fileURLWithPath: out + "/.work/\(label)/z1/member.dcm"))
    }
    var running: OutputLock? = try OutputLock(root: out, shard: Shard(index: 0, count: 2))
    var options = quietOptions(archive.root, out)
    options.shard = Shard(index: 1, count: 2)
    let atStart = Locked<[String]?>(nil)
    _ = try Batch.run(options) { _ in
        atStart.update { if $0 == nil { $0 = (try? FileManager.default.contentsOfDirectory(atPath: out + "/.work")) } }
    }
    #expect(atStart.value?.sorted() == ["shard-0-of-2", "shard-1-of-2"], "before the scan: \(atStart.value ?? [])")
    #expect(!FileManager.default.fileExists(atPath: out + "/.work/shard-1-of-2/z1"), "its own old scratch too")
    #expect(unpackedFolders(out, label: "shard-0-of-2") == ["z1"], "the running shard's scratch is kept")
    // The other shard has ended (killed): the next unsharded run removes everything.
    withExtendedLifetime(running) {}
    running = nil
    _ = try Batch.run(quietOptions(archive.root, out))
    #expect(!FileManager.default.fileExists(atPath: out + "/.work"), "no scratch left")
}

/// Before: the first SIGTERM let the unpacking (and the scan) run to its end, 25 s for this
/// zip in a debug build; the zip bomb took minutes and left 5.6 GB behind.
@Test(.timeLimit(.minutes(10)))
func sigtermStopsAZipBeingUnpackedAtOnceAndLeavesNoScratch() throws {
    let work = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: work) }
    try zerosZip(at: work + "/archive/export.zip", name: "big/zeros.bin", bytes: 256 << 20)
    let out = work + "/out"
    let run = try startLungct(["batch", work + "/archive", "-o", out, "--no-model"], log: work + "/run")
    let member = out + "/.work/all/z1/big/zeros.bin"
    let deadline = Date().addingTimeInterval(60)
    func written() -> Int { (try? FileManager.default.attributesOfItem(atPath: member)[.size] as? Int) ?? 0 }
    while run.isRunning && written() == 0 && Date() < deadline { usleep(10_000) }
    try #require(run.isRunning && written() > 0, "the unpacking did not start")
    let stop = Date()
    kill(run.processIdentifier, SIGTERM)
    while run.isRunning && Date().timeIntervalSince(stop) < 20 { usleep(10_000) }
    let seconds = Date().timeIntervalSince(stop)
    if run.isRunning { kill(run.processIdentifier, SIGKILL) }
    run.waitUntilExit()
    #expect(seconds < 2, "ended \(seconds) s after SIGTERM (\(written() >> 20) MB written)")
    #expect(run.terminationStatus == 130)
    let stderr = try String(contentsOfFile: work + "/run.err", encoding: .utf8)
    #expect(stderr.contains("stopped while unpacking a zip file"), "\(stderr)")
    #expect(!FileManager.default.fileExists(atPath: out + "/.work"), "no scratch left")
}

/// A value that report callbacks on several threads update.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}

/// A scratch folder whose name begins another's (z1, z10) must not turn the other's path into
/// the wrong zip's: with dictionary order, z1 could be replaced inside /s/z10/x.dcm first.
@Test func aReasonNamesTheZipItsFileCameFromWhenScratchNamesSharePrefixes() {
    let unpacked = (1...12).reduce(into: [String: String]()) { map, n in map["/s/z\(n)"] = "a\(n).zip!" }
    for n in 1...12 {
        let text = CaseAnalysis.archivePaths(in: "/s/z\(n)/x.dcm: truncated", unpacked: unpacked)
        #expect(text == "a\(n).zip!/x.dcm: truncated")
    }
}

/// A memory-limit failure quotes the limit the user gave, not a rounding of it.
@Test(arguments: [(0.85, "0.85 GiB"), (8, "8 GiB"), (1.5, "1.5 GiB"), (0.1, "0.1 GiB")])
func theMemoryLimitIsQuotedAsGiven(limit: Double, text: String) {
    let launcher = WorkerLauncher(
        executable: "/bin/true", arguments: [], caseTimeout: 1, memoryLimitGiB: limit, runStoppingExits: [:])
    #expect(launcher.memoryLimitText == text)
}
