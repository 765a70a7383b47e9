import Foundation
internal import ZIPFoundation

/// Unpacks zip files with ZIPFoundation, refusing members that would land outside the target
/// folder ("zip slip": `../` or absolute paths) and links, which are not followed. What one zip
/// may write is capped, counted as it is written (`UnpackSession`), and a stop of the run ends
/// an unpacking at its next chunk.
enum ZipUnpacker {
    struct Problem: Error {
        var message: String
        /// Why the scan cannot go on, as opposed to a damaged zip (which is one failed case).
        enum Ending {
            /// The output's file system is full: an output error for the run.
            case outOfSpace
            /// The run is being stopped (SIGINT, SIGTERM): `Batch.run` reports it interrupted.
            case stopped
        }
        var ending: Ending?

        init(message: String, outOfSpace: Bool = false) {
            self.message = message
            ending = outOfSpace ? .outOfSpace : nil
        }

        /// Whether the scan ends here instead of recording a damaged zip: no room, or a stop
        /// (`ArchiveScan` turns either into the error that ends the scan).
        var outOfSpace: Bool { ending != nil }
    }

    /// The unpacking of one batch run, bound around its archive scan (`Batch.run`); without
    /// one, each zip has the default cap and is never stopped.
    @TaskLocal static var session: UnpackSession?

    /// Output chunk of inflation: large enough that the per-chunk cost stays small, small enough
    /// that a stop is seen at once.
    static let chunkBytes = 256 << 10

    /// The folder-relative path a member may be written to, or the reason it is refused.
    static func safeRelativePath(_ member: String) -> Result<String, Problem> {
        let parts = member.replacingOccurrences(of: "\\", with: "/").split(separator: "/").filter { $0 != "." }
        if parts.contains("..") { return .failure(Problem(message: "path leaves the zip's folder (\"..\"): refused")) }
        if parts.isEmpty { return .failure(Problem(message: "empty member name")) }
        return .success(parts.joined(separator: "/"))
    }

    /// Deflate expands at most about 1032:1 (RFC 1951: a 258-byte match in under two bits).
    static let maximumExpansion: UInt64 = 1032
    /// Bytes a member may claim beyond `maximumExpansion` times its compressed size: the margin
    /// covers headers of tiny members.
    static let expansionMarginBytes: UInt64 = 65_536

    /// Whether a member's declared size can be true: no more than deflate can expand its
    /// compressed bytes to, which lie inside the zip file.
    static func plausibleSize(_ entry: Entry, zipBytes: UInt64) -> Bool {
        let compressed = min(entry.compressedSize, zipBytes)
        let (limit, overflow) = compressed.multipliedReportingOverflow(by: maximumExpansion)
        return overflow || entry.uncompressedSize <= limit + expansionMarginBytes
    }

    /// Unpacks every file member of `zip` into `folder`. Returns the members refused with
    /// their reasons; fails as a whole when the zip cannot be read, would not fit, writes more
    /// than its cap (`UnpackSession`) or the run is being stopped.
    static func unpack(_ zip: String, into folder: String, reserveBytes: Int64) -> Result<[(String, String)], Problem> {
        let session = session ?? UnpackSession(capBytes: BatchOptions.defaultZipLimitBytes)
        if session.stopRequested() { return .failure(session.stopProblem(zip)) }
        let budget = session.budget(for: zip, unpackingInto: folder)
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: zip), accessMode: .read)
        } catch {
            return .failure(Problem(message: "not a readable zip file (\(error))"))
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            return .failure(
                Problem(message: "cannot create the scratch folder \(folder): \(error.localizedDescription)"))
        }
        let entries = Array(archive)
        if let problem = sizeProblem(entries, zip: zip, folder: folder, reserveBytes: reserveBytes, budget: budget) {
            return .failure(problem)
        }
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path
        var refused: [(String, String)] = []
        for entry in entries {
            let written = Written(budget: budget, session: session, folder: folder, reserveBytes: reserveBytes)
            switch extract(entry, from: archive, into: root, written: written) {
            case .success(let refusal?): refused.append((entry.path, refusal))
            case .success(nil): continue
            case .failure(let problem): return .failure(problem)
            }
        }
        return .success(refused)
    }

    /// Why the zip is not unpacked at all, judged from the sizes its members declare: a member
    /// claiming more than deflate can produce from its compressed bytes (or, stored, more than
    /// it holds) has a damaged size field, or is a zip bomb, and the zip is one failed case, not
    /// a reason to stop the run for want of space; so is a zip declaring more than what is left
    /// of its `budget`; members that would not fit beside `reserveBytes` on the output's file
    /// system are an output error. Nil: go ahead.
    static func sizeProblem(
        _ entries: [Entry], zip: String, folder: String, reserveBytes: Int64, budget: UnpackSession.Budget
    ) -> Problem? {
        let zipBytes =
            (try? FileManager.default.attributesOfItem(atPath: zip)[.size] as? Int).map { UInt64($0) } ?? .max
        if let bad = entries.first(where: { !plausibleSize($0, zipBytes: zipBytes) }) {
            return Problem(
                message:
                    "member \(bad.path) claims \(bad.uncompressedSize) bytes from \(bad.compressedSize) compressed: a damaged or hostile zip, not unpacked"
            )
        }
        // Members share bytes when their compressed sizes add up to more than the zip holds: a
        // central directory pointing many names at one member, the classic overlapping zip bomb
        // (5.7 MB asking for 60 × 5.9 GB). Hostile, so one failed case, not a full disk.
        let compressed = entries.reduce(UInt64(0)) { sum, entry in
            let (total, overflow) = sum.addingReportingOverflow(entry.compressedSize)
            return overflow ? .max : total
        }
        if compressed > zipBytes {
            return Problem(
                message:
                    "its \(entries.count) members claim \(compressed) compressed bytes in a \(zipBytes)-byte file, so they overlap: a hostile zip (zip bomb), not unpacked"
            )
        }
        // Past --zip-limit: the zip's own failure, checked before the free space, which a zip
        // bomb's claims would exhaust and so stop the whole run.
        if let problem = budget.declaredProblem(entries) { return problem }
        let needed = entries.reduce(Int64(0)) { sum, entry in
            let (total, overflow) = sum.addingReportingOverflow(Int64(clamping: entry.uncompressedSize))
            return overflow ? .max : total
        }
        if let free = DiskSpace.freeBytes(folder), needed > free - reserveBytes {
            return Problem(
                message:
                    "\(zip): unpacking needs \(DiskSpace.describe(needed)) and \(DiskSpace.describe(reserveBytes)) to spare, but \(DiskSpace.describe(free)) are free on the output's file system",
                outOfSpace: true)
        }
        return nil
    }

    /// Unpacks one member under `root` (the scratch folder, standardised). Success: nil when
    /// the member was written or needs nothing (a folder), else the reason it was refused;
    /// failure: the member could not be written, or `written` ended it, which fails the whole zip.
    static func extract(_ entry: Entry, from archive: Archive, into root: String, written: Written) -> Result<
        String?, Problem
    > {
        switch entry.type {
        case .directory: return .success(nil)
        case .symlink: return .success("symbolic link in a zip: not followed")
        case .file: break
        }
        let relative: String
        switch safeRelativePath(entry.path) {
        case .failure(let problem): return .success(problem.message)
        case .success(let path): relative = path
        }
        let target = URL(fileURLWithPath: root + "/" + relative).standardizedFileURL.path
        guard target.hasPrefix(root + "/") else { return .success("path leaves the zip's folder: refused") }
        if FileManager.default.fileExists(atPath: target) {
            return .success("a second member with the same name: ignored")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: target).deletingLastPathComponent().path,
                withIntermediateDirectories: true)
        } catch {
            return .failure(Problem(message: "member \(entry.path) cannot be unpacked (\(error))"))
        }
        // O_EXCL | O_NOFOLLOW: a member never writes through a link or over a file.
        let descriptor = open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            return .failure(
                Problem(message: "member \(entry.path) cannot be unpacked (\(String(cString: strerror(errno))))"))
        }
        defer { close(descriptor) }
        do {
            // Each chunk is counted and written as it comes: a member's declared size can lie.
            _ = try archive.extract(entry, bufferSize: chunkBytes) { chunk in
                try written.add(chunk, of: entry, to: descriptor)
            }
        } catch let problem as Problem {
            return .failure(problem)
        } catch {
            return .failure(written.problem(entry, error))
        }
        return .success(nil)
    }

    /// Counts what one member writes against its declared size, the zip's budget and the run's
    /// stop, and writes it.
    final class Written {
        let budget: UnpackSession.Budget
        let session: UnpackSession
        let folder: String
        let reserveBytes: Int64
        private(set) var bytes: UInt64 = 0

        init(budget: UnpackSession.Budget, session: UnpackSession, folder: String, reserveBytes: Int64) {
            self.budget = budget
            self.session = session
            self.folder = folder
            self.reserveBytes = reserveBytes
        }

        /// Writes `chunk` of `entry` to `descriptor`, or throws the `Problem` that ends the zip.
        func add(_ chunk: Data, of entry: Entry, to descriptor: Int32) throws {
            if session.stopRequested() { throw session.stopProblem(entry.path) }
            bytes += UInt64(chunk.count)
            guard bytes <= entry.uncompressedSize else {
                throw Problem(
                    message:
                        "member \(entry.path) inflates to more than the \(entry.uncompressedSize) bytes it declares: a damaged or hostile zip, not unpacked"
                )
            }
            if let problem = budget.spend(Int64(chunk.count)) { throw problem }
            try chunk.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let count = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { throw problem(entry, POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)) }
                    offset += count
                }
            }
        }

        /// A member that could not be read or written: out of space, or a damaged zip.
        func problem(_ entry: Entry, _ error: any Error) -> Problem {
            let code = (error as? POSIXError)?.code
            let full =
                code == .ENOSPC || code == .EDQUOT
                || (DiskSpace.freeBytes(folder) ?? .max) < Int64(clamping: entry.uncompressedSize) + reserveBytes
            return Problem(message: "member \(entry.path) cannot be unpacked (\(error))", outOfSpace: full)
        }
    }
}
