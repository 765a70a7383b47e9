import AppSupport
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput

/// The layout of a batch's output folder, and the only code that changes it:
///
///     OUT/<case id>/                 a finished case: analyze's files and case.json, or case.json alone
///     OUT/.partial-<case id>-<tag>/  a case being written; renamed to OUT/<case id>/ when complete
///     OUT/summary.csv                one row per finished case
///     OUT/summary.shard-K-of-N.csv   the same for one shard; `--merge` joins them into summary.csv
///     OUT/summary.shard-K-of-N.json  how far that shard got
///     OUT/.work/                     zip files unpacked for the run, removed case by case and at its end
///     OUT/.attempts/<case id>        runs that stopped while the case was in progress
///     OUT/.lock, OUT/.lock.shard-K-of-N   flock(2) locks that keep two runs from writing the same thing
///
/// A case folder appears whole through one rename(2), after its files and the folder were
/// flushed to disk; the summary row follows. So a crash at any moment leaves finished case
/// folders, at most one torn summary line, and stale partial folders: `reconcile` repairs
/// all three from the case folders, which are the truth.
struct BatchOutput {
    let root: String

    static let caseFile = "case.json"
    static let partialPrefix = ".partial-"
    static let workFolder = ".work"
    static let attemptsFolder = ".attempts"

    func caseFolder(_ id: String) -> String { root + "/" + id }

    func summaryPath(_ shard: Shard?) -> String {
        root + "/" + (shard.map { "summary.\($0.fileLabel).csv" } ?? Batch.summaryFile)
    }

    func shardStatePath(_ shard: Shard) -> String { root + "/summary.\(shard.fileLabel).json" }

    /// Case ids are 16 lower-case hex digits (`ArchiveScan.caseID`).
    static func isCaseID(_ name: Substring) -> Bool {
        name.count == 16 && name.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// The row of a finished case, or nil when its folder or its case.json does not exist (a
    /// folder is published whole, so that is a folder lungct did not finish). A case.json that
    /// exists but cannot be read or decoded throws instead: an I/O error or a record of another
    /// lungct version must not get a finished result deleted and redone.
    func finishedRow(_ id: String) throws(LungCTError) -> CaseRow? {
        let path = caseFolder(id) + "/" + Self.caseFile
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .outputFailed("\(path): a finished case's record cannot be read; check the file system, then rerun")
        }
        do {
            return try JSONDecoder().decode(CaseRow.self, from: data)
        } catch {
            throw .outputFailed(
                "\(path): not a case record this lungct reads (\(error)); remove \(caseFolder(id)) to have the case done again"
            )
        }
    }

    /// The rows of every finished case folder in OUT, with `known` rows used where given.
    func finishedRows(known: [String: CaseRow] = [:]) throws(LungCTError) -> [CaseRow] {
        var rows: [CaseRow] = []
        for id in allCaseFolders() {
            if let row = known[id] {
                rows.append(row)
            } else if let row = try finishedRow(id) {
                rows.append(row)
            }
        }
        return rows
    }

    /// Every case folder in OUT, whoever wrote it (any shard, an earlier archive).
    func allCaseFolders() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { Self.isCaseID($0[...]) }.sorted()
    }

    /// Removes partial folders left by a run that stopped, for the cases in `ids` (all when nil:
    /// only an unsharded run, which holds the exclusive lock, may touch every case).
    func removeStalePartials(for ids: Set<String>?) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        where name.hasPrefix(Self.partialPrefix) {
            let id = String(name.dropFirst(Self.partialPrefix.count).prefix(16))
            if ids == nil || ids!.contains(id) { try? FileManager.default.removeItem(atPath: root + "/" + name) }
        }
    }

    /// Removes a case folder so that the case is done again (a retry, or a folder that a
    /// crash left without case.json). Renamed first, so the folder never looks finished and
    /// half-deleted at once.
    func discard(_ id: String) {
        let doomed = root + "/" + Self.partialPrefix + id + "-discarded"
        try? FileManager.default.removeItem(atPath: doomed)
        if rename(caseFolder(id), doomed) == 0 { try? FileManager.default.removeItem(atPath: doomed) }
    }

    /// A new, empty partial folder for a case.
    func makePartial(_ id: String) throws(LungCTError) -> String {
        let path = root + "/" + Self.partialPrefix + id + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        } catch {
            throw .outputFailed("\(path): cannot create a case folder: \(error.localizedDescription)")
        }
        return path
    }

    /// Writes case.json into a partial folder, flushes the folder, and renames it into place.
    /// Returns false when the case folder already exists (another run finished the same case
    /// first): then the partial folder is dropped and the case must not be counted twice.
    func publish(_ partial: String, row: CaseRow) throws(LungCTError) -> Bool {
        do {
            try JSON.encode(row).write(to: URL(fileURLWithPath: partial + "/" + Self.caseFile))
            try Durable.syncFolder(partial)
        } catch {
            throw .outputFailed("\(partial): cannot write the case's files: \(error)")
        }
        if rename(partial, caseFolder(row.caseID)) != 0 {
            let code = errno
            if code == EEXIST || code == ENOTEMPTY {
                try? FileManager.default.removeItem(atPath: partial)
                return false
            }
            throw .outputFailed(
                "\(caseFolder(row.caseID)): cannot move the finished case into place: \(String(cString: strerror(code)))"
            )
        }
        try? Durable.sync(root)
        return true
    }

    // MARK: Attempts

    func attemptsPath(_ id: String) -> String { root + "/" + Self.attemptsFolder + "/" + id }

    /// How many runs have started this case without finishing it.
    func attempts(_ id: String) -> Int {
        FileManager.default.contents(atPath: attemptsPath(id)).flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
    }

    /// Records the number of unfinished starts (0 removes the record). Best effort: a disk
    /// problem shows up where the case's own files are written.
    func setAttempts(_ id: String, _ count: Int) {
        if count <= 0 {
            try? FileManager.default.removeItem(atPath: attemptsPath(id))
            return
        }
        // Another run may remove the empty folder between the two steps (`Batch.removeScratch`).
        for _ in 0..<3 {
            try? FileManager.default.createDirectory(
                atPath: root + "/" + Self.attemptsFolder, withIntermediateDirectories: true)
            if (try? Data("\(count)".utf8).write(to: URL(fileURLWithPath: attemptsPath(id)))) != nil { return }
        }
    }

    /// Creates `path` and its parents, again if another run removed an empty parent meanwhile
    /// (`Batch.removeScratch` removes OUT/.work once no run uses it).
    static func createFolder(_ path: String) throws {
        for attempt in 1...3 {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                return
            } catch _ where attempt < 3 {
                continue
            }
        }
    }
}

/// flock(2) locks on the output folder: an unsharded run holds OUT/.lock exclusively; each
/// shard holds it shared, plus its own shard lock exclusively. The kernel drops them when the
/// process ends, however it ends.
final class OutputLock {
    private var descriptors: [Int32] = []

    init(root: String, shard: Shard?) throws(LungCTError) {
        try take(root + "/.lock", exclusive: shard == nil) {
            shard == nil
                ? "\(root): another lungct batch is using this output folder; wait for it to end or choose another -o"
                : "\(root): an unsharded lungct batch is writing this output folder; wait for it to end"
        }
        if let shard {
            try take(root + "/.lock.\(shard.fileLabel)", exclusive: true) {
                "\(root): another lungct batch is already running shard \(shard); wait for it to end"
            }
            // Shards of one count own disjoint cases; shards of two counts at once would share
            // cases and remove each other's partial folders. Each count is held shared by its
            // shards, and a shard refuses to start while another count is held.
            try take(root + "/.lock.count-\(shard.count)", exclusive: false) {
                "\(root): shards of another count are starting on this output folder; run every shard of one archive with the same N"
            }
            let others = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
                .filter { $0.hasPrefix(".lock.count-") && $0 != ".lock.count-\(shard.count)" }
            for other in others {
                let count = other.dropFirst(".lock.count-".count)
                guard Self.isFree(root + "/" + other) else {
                    throw .outputFailed(
                        "\(root): shards of another count (--shard K/\(count)) are writing this output folder; "
                            + "run every shard of one archive with the same N, or wait for them to end")
                }
            }
        }
    }

    /// Whether nobody holds a lock on `path` (tried exclusively without waiting, then let go).
    static func isFree(_ path: String) -> Bool {
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return true }
        defer { close(descriptor) }
        return flock(descriptor, LOCK_EX | LOCK_NB) == 0
    }

    /// For `--merge`: shared with shards, excluded by an unsharded run.
    init(sharedOn root: String) throws(LungCTError) {
        try take(root + "/.lock", exclusive: false) {
            "\(root): an unsharded lungct batch is writing this output folder; merge when it has ended"
        }
    }

    private func take(_ path: String, exclusive: Bool, busy: () -> String) throws(LungCTError) {
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .outputFailed("\(path): cannot create the lock file: \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            let code = errno
            close(descriptor)
            // EWOULDBLOCK: held by another run. Anything else (ENOLCK, ENOSYS on a file system
            // without locks) is a different problem, said as it is.
            guard code == EWOULDBLOCK else {
                throw .outputFailed(
                    "\(path): cannot lock (\(String(cString: strerror(code)))); lungct batch needs flock(2) on the output's file system"
                )
            }
            throw .outputFailed(busy())
        }
        descriptors.append(descriptor)
    }

    deinit { for descriptor in descriptors { close(descriptor) } }
}
