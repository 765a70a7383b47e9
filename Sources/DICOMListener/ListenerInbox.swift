import AppSupport
import Crypto
import DICOMNetwork
import Foundation

/// Where received images are filed, and which studies wait for an analysis. Nothing from the
/// network becomes a path: a study, series or instance is filed under a name made from the
/// SHA-256 of its UID (`study-<16 hex>` the same digest report.json's studyHash starts with).
/// Thread-safe: the listener's thread files, the node's loop asks what is ready.
final class ListenerInbox: @unchecked Sendable {
    struct Study {
        var key: String
        var lastImage: Date
        /// Images received since the study's last analysis started.
        var pending: Int
        var series: Set<String>
    }

    let incoming: String
    let results: String
    private let spool: String
    private let maxBytes: UInt64?
    private let lock = NSLock()
    private var studies: [String: Study] = [:]
    private(set) var usedBytes: UInt64

    init(folder: String, maxBytes: UInt64?) throws(LungCTError) {
        incoming = folder + "/incoming"
        results = folder + "/results"
        spool = folder + "/incoming/.spool"
        self.maxBytes = maxBytes
        do {
            for path in [incoming, results, spool] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
            // What an earlier run left half-received is not kept.
            for name in try FileManager.default.contentsOfDirectory(atPath: spool) {
                try? FileManager.default.removeItem(atPath: spool + "/" + name)
            }
        } catch {
            throw .outputFailed("\(folder): cannot create the listener's folders: \(error.localizedDescription)")
        }
        usedBytes = Self.bytes(under: folder)
    }

    var spoolFolder: String { spool }

    /// Files one received object; the status to answer with and, for a refusal, why.
    func file(_ object: ReceivedObject, now: Date = Date()) -> (StoreStatus, String?) {
        guard !object.studyInstanceUID.isEmpty, !object.seriesInstanceUID.isEmpty else {
            return (.cannotUnderstand, "no Study or Series Instance UID")
        }
        let studyKey = Self.key("study", object.studyInstanceUID)
        let folder = incoming + "/" + studyKey + "/" + Self.key("series", object.seriesInstanceUID)
        let path = folder + "/" + Self.key("image", object.sopInstanceUID) + ".dcm"
        return lock.withLock {
            let replaced = Self.size(path)
            if let maxBytes, usedBytes - min(usedBytes, replaced) + object.bytes > maxBytes {
                return (.outOfResources, "the folder's storage bound (\(maxBytes) bytes) would be passed")
            }
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                if replaced > 0 { try FileManager.default.removeItem(atPath: path) }
                try FileManager.default.moveItem(atPath: object.spoolPath, toPath: path)
            } catch {
                return (.outOfResources, "cannot file the image: \(error.localizedDescription)")
            }
            usedBytes = usedBytes - min(usedBytes, replaced) + object.bytes
            var study = studies[studyKey] ?? Study(key: studyKey, lastImage: now, pending: 0, series: [])
            study.lastImage = now
            study.pending += 1
            study.series.insert(object.seriesInstanceUID)
            studies[studyKey] = study
            return (.success, nil)
        }
    }

    /// The studies with images that arrived at least `idle` seconds ago and no later (all
    /// studies with images when `idle` is nil: a drain), oldest first; each is marked as
    /// analysed from now on (images arriving later make it pending again).
    func takeReady(idle: Double?, now: Date = Date()) -> [Study] {
        lock.withLock {
            let ready = studies.values.filter { study in
                study.pending > 0 && (idle.map { now.timeIntervalSince(study.lastImage) >= $0 } ?? true)
            }.sorted { $0.lastImage < $1.lastImage }
            for study in ready { studies[study.key]?.pending = 0 }
            return ready
        }
    }

    /// Counts the bytes of a new result folder in the storage used.
    func add(resultsAt path: String) {
        let bytes = Self.bytes(under: path)
        lock.withLock { usedBytes += bytes }
    }

    /// `prefix-` and the first 16 hex digits of the SHA-256 of `uid` (as received).
    static func key(_ prefix: String, _ uid: String) -> String {
        prefix + "-" + SHA256.hash(data: Data(uid.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// The size of a regular file; 0 for anything else or nothing.
    static func size(_ path: String) -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return 0 }
        return UInt64(clamping: info.st_size)
    }

    static func bytes(under folder: String) -> UInt64 {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return 0 }
        var total: UInt64 = 0
        while let name = walker.nextObject() as? String { total += size(folder + "/" + name) }
        return total
    }
}
