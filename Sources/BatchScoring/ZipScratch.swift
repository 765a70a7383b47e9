import AppSupport
import Foundation

/// The folders one run unpacked zip files into (`ArchiveInventory.unpacked`), each removed as
/// soon as no case of the run reads from it: right after the scan when no pending case does
/// (cases of other shards, cases finished by an earlier run, set-aside files), else when its
/// last case finishes, ok or failed. Whatever is left goes with the run's whole scratch folder
/// at its end, interrupted or not (`Batch.removeScratch`), or at the next run's start after a
/// kill -9 (`Batch.prepareScratch`).
final class ZipScratch: @unchecked Sendable {
    private let lock = NSLock()
    /// Folder → pending cases that read from it.
    private var users: [String: Int] = [:]
    private var foldersOfCase: [String: Set<String>] = [:]

    /// Counts which of `pending` read from which of `folders` (under `scratch`) and removes the
    /// folders none reads from.
    init(folders: some Collection<String>, pending: [BatchCase], scratch: String) {
        for folder in folders { users[folder] = 0 }
        // Files whose names are not UTF-8 are read through links in the scratch folder, which may
        // point into an unpacked zip: those are told by where they lead.
        var resolved: [String: String] = [:]
        for folder in folders { resolved[Self.realPath(folder) ?? folder] = folder }
        for item in pending {
            var used = Set<String>()
            for file in item.files {
                if let folder = Self.folder(of: file, among: users) {
                    used.insert(folder)
                } else if file.hasPrefix(scratch + "/"), let real = Self.realPath(file),
                    let folder = Self.folder(of: real, among: resolved).flatMap({ resolved[$0] })
                {
                    used.insert(folder)
                }
            }
            foldersOfCase[item.id] = used
            for folder in used { users[folder, default: 0] += 1 }
        }
        Self.remove(users.filter { $0.value == 0 }.map(\.key))
    }

    /// A case of the run finished (its row is written): the folders only it still read from go.
    func finished(_ caseID: String) {
        let unused = lock.withLock { () -> [String] in
            guard let folders = foldersOfCase.removeValue(forKey: caseID) else { return [] }
            return folders.filter { folder in
                users[folder, default: 1] -= 1
                return users[folder] == 0
            }
        }
        Self.remove(unused)
    }

    private static func remove(_ folders: [String]) {
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
    }

    /// The key of `folders` that holds `path` at some depth.
    private static func folder<V>(of path: String, among folders: [String: V]) -> String? {
        var end = path.endIndex
        while let slash = path[..<end].lastIndex(of: "/") {
            let prefix = String(path[..<slash])
            if folders[prefix] != nil { return prefix }
            end = slash
        }
        return nil
    }

    /// `path` with every link resolved. The corresponding C function is `realpath`.
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(decoding: UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)), as: UTF8.self)
    }
}

extension Batch {
    /// Creates this run's scratch folder (OUT/.work/<shard or "all">), first removing what runs
    /// that were killed (kill -9, a lost node) left in OUT/.work: this run's own folder always;
    /// an unsharded run, which holds the output exclusively, every other; a shard, the unsharded
    /// one (excluded while it holds its shared lock) and those of shards not running now.
    static func prepareScratch(_ out: BatchOutput, shard: Shard?) throws(LungCTError) -> String {
        let work = out.root + "/" + BatchOutput.workFolder
        let label = shard?.fileLabel ?? "all"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: work)) ?? [] {
            let running =
                name != label && shard != nil && name != "all" && !OutputLock.isFree(out.root + "/.lock." + name)
            if !running { try? FileManager.default.removeItem(atPath: work + "/" + name) }
        }
        let scratch = work + "/" + label
        do {
            try BatchOutput.createFolder(scratch)
        } catch {
            throw .outputFailed("\(scratch): cannot create the scratch folder: \(error.localizedDescription)")
        }
        return scratch
    }

    /// Scans the archive, its zip files unpacked within `BatchOptions.zipLimitBytes` each and
    /// stopped by `control`: nil when the run was stopped while a zip was being unpacked (the
    /// scan ended there).
    static func scanArchive(_ options: BatchOptions, scratch: String, out: BatchOutput, control: BatchControl)
        throws(LungCTError) -> ArchiveInventory?
    {
        let session = UnpackSession(capBytes: options.zipLimitBytes) { control.stopRequested }
        let scanned = ZipUnpacker.$session.withValue(session) {
            Result { () throws(LungCTError) in
                try ArchiveScan.scan(options.archive, scratch: scratch, excluding: [out.root])
            }
        }
        if session.endedByStop { return nil }
        return try scanned.get()
    }

    /// The result of a run stopped during its scan: nothing was started, a rerun does it all.
    static func stoppedDuringScan(_ options: BatchOptions, out: BatchOutput, scanSeconds: Double) -> BatchResult {
        BatchResult(
            archive: options.archive, output: out.root, summary: out.summaryPath(options.shard),
            shard: options.shard?.description, filesScanned: 0, zipFiles: 0, setAsideFiles: [], casesInArchive: 0,
            cases: 0, ok: 0, skipped: 0, failed: 0, unfinished: 0, alreadyDone: 0, analysedThisRun: 0,
            scanSeconds: scanSeconds, seconds: 0, studiesPerHour: nil, peakMemoryMB: peakMemoryMB(), interrupted: true,
            failures: [], outcome: .interrupted)
    }
}
