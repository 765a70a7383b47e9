import AppSupport
import Crypto
import DICOMSeries
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput
internal import ZIPFoundation

/// One unit of batch work: a DICOM series (gathered from every folder and zip file that holds
/// some of its images), a NIfTI volume, a picture, or something found broken during the scan.
public struct BatchCase: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable {
        case dicomSeries = "DICOM series"
        case nifti = "NIfTI"
        case picture = "picture"
        /// DICOM files of a folder that cannot be read (truncated, corrupt header).
        case damagedFiles = "damaged DICOM files"
        /// A zip file that cannot be unpacked.
        case damagedZip = "damaged zip"
    }

    /// 16 hex digits of a SHA-256 of what identifies the case (Study and Series Instance UID,
    /// or the path inside the archive): the same in every run and every shard, and free of
    /// patient identifiers.
    public var id: String
    public var kind: Kind
    /// Where the case is, relative to the archive; members of a zip as `a/b.zip!/member`.
    public var source: String
    /// The files to read (members of a zip: their unpacked copies).
    public var files: [String]
    /// Why the case cannot be analysed, when the scan already knows.
    public var problem: String?
}

/// What a scan of an archive found.
public struct ArchiveInventory: Sendable {
    /// Sorted by id.
    public var cases: [BatchCase]
    /// Files that are not images (non-DICOM files, DICOMDIRs, reports, ...), by archive path.
    public var setAside: [FileNote]
    public var filesScanned: Int
    public var zipFiles: Int
    /// Scratch folder of each unpacked zip file → its archive path followed by "!".
    public var unpacked: [String: String]
}

/// Finds every case in an archive: a folder tree (or a zip file) of DICOM studies, NIfTI
/// volumes and radiographs in any nesting, with zip files unpacked into a scratch folder.
/// DICOM files are grouped by Study and Series Instance UID across the whole tree, from
/// their headers alone; pixels are read only when a case is processed.
public enum ArchiveScan {
    /// Headers are read in parallel, this many files at a time, so that the scan keeps only
    /// each file's path and series, never every header of a large archive.
    static let headerChunk = 4096
    /// Zip files inside zip files are unpacked down to this depth (a zip that contains
    /// itself would otherwise never end).
    static let maximumZipDepth = 4
    /// Space left free on the output's file system when unpacking zip files, for the
    /// outputs of the cases in progress.
    static let scratchReserveBytes: Int64 = 64 << 20

    /// Scans `archive` (a folder or a zip file). Zip files are unpacked under `scratch`,
    /// which the caller removes when the batch is done. `excluding` (the output folder, when
    /// it lies inside the archive) is not searched.
    public static func scan(_ archive: String, scratch: String, excluding: [String] = []) throws(LungCTError)
        -> ArchiveInventory
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: archive, isDirectory: &isDirectory) else {
            throw .inputFailed("\(archive): no such file or folder")
        }
        let root = URL(fileURLWithPath: archive).standardizedFileURL.path
        var scan = Walk(
            scratch: scratch, excluding: excluding.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        if isDirectory.boolValue {
            guard FileManager.default.isReadableFile(atPath: root) else {
                throw .inputFailed("\(archive): folder not readable")
            }
            scan.walk(folder: root, display: "", zipDepth: 0)
        } else {
            scan.visit(file: root, display: URL(fileURLWithPath: root).lastPathComponent, zipDepth: 0)
        }
        if let fatal = scan.fatal { throw fatal }
        return scan.finish()
    }

    /// The case id for what identifies a case.
    static func caseID(_ parts: String...) -> String {
        let digest = SHA256.hash(data: Data(parts.joined(separator: "\u{0}").utf8))
        return digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// The part of `path` after `prefix` and a slash, for display.
    static func joined(_ display: String, _ name: String) -> String { display.isEmpty ? name : display + "/" + name }

    /// One pass over the tree. DICOM candidates are read in chunks as they accumulate.
    struct Walk {
        let scratch: String
        let excluding: [String]
        var cases: [BatchCase] = []
        var setAside: [FileNote] = []
        var filesScanned = 0
        var zipFiles = 0
        var unpacked: [String: String] = [:]
        /// An output error (no room to unpack a zip file) that ends the scan.
        var fatal: LungCTError?
        /// Files waiting for their header to be read, with their archive path.
        var pendingDICOM: [(path: String, display: String)] = []
        /// Study + series → files and archive paths.
        var series: [String: (files: [String], displays: [String])] = [:]
        /// Archive folder → damaged DICOM files in it and the first reason.
        var damaged: [String: (files: [String], reason: String)] = [:]

        init(scratch: String, excluding: [String]) {
            self.scratch = scratch
            self.excluding = excluding
        }

        mutating func walk(folder: String, display: String, zipDepth: Int) {
            guard
                let enumerator = FileManager.default.enumerator(
                    at: URL(fileURLWithPath: folder), includingPropertiesForKeys: [.isRegularFileKey, .isDirectoryKey],
                    options: [.skipsHiddenFiles])
            else {
                setAside.append(FileNote(path: display.isEmpty ? "." : display, reason: "folder cannot be read"))
                return
            }
            var files: [(String, String)] = []
            for case let url as URL in enumerator {
                let path = url.standardizedFileURL.path
                if excluding.contains(path) {
                    enumerator.skipDescendants()
                    continue
                }
                if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                    let relative = String(path.dropFirst(folder.count + 1))
                    files.append((path, ArchiveScan.joined(display, relative)))
                }
            }
            for (path, shown) in files.sorted(by: { $0.1 < $1.1 }) {
                visit(file: path, display: shown, zipDepth: zipDepth)
            }
        }

        mutating func visit(file path: String, display: String, zipDepth: Int) {
            guard fatal == nil else { return }
            filesScanned += 1
            let lower = path.lowercased()
            if lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz") {
                cases.append(BatchCase(id: caseID("file", display), kind: .nifti, source: display, files: [path]))
                return
            }
            let magic = leadingBytes(of: path, count: 4)
            if magic.starts(with: [0x89, 0x50, 0x4E, 0x47]) || magic.starts(with: [0xFF, 0xD8]) {
                cases.append(BatchCase(id: caseID("file", display), kind: .picture, source: display, files: [path]))
                return
            }
            if magic.starts(with: [0x50, 0x4B, 0x03, 0x04]) || magic.starts(with: [0x50, 0x4B, 0x05, 0x06])
                || lower.hasSuffix(".zip")
            {
                unpack(zip: path, display: display, zipDepth: zipDepth)
                return
            }
            pendingDICOM.append((path, display))
            if pendingDICOM.count >= ArchiveScan.headerChunk { readHeaders() }
        }

        /// Unpacks a zip file into the scratch folder and walks what came out. A zip that
        /// cannot be read whole becomes one damaged case: a study with some of its images
        /// missing must not pass for a complete one.
        mutating func unpack(zip path: String, display: String, zipDepth: Int) {
            zipFiles += 1
            guard zipDepth < ArchiveScan.maximumZipDepth else {
                setAside.append(
                    FileNote(
                        path: display, reason: "zip nested more than \(ArchiveScan.maximumZipDepth) deep: not unpacked")
                )
                return
            }
            let destination = scratch + "/z\(zipFiles)"
            switch ZipUnpacker.unpack(path, into: destination, reserveBytes: ArchiveScan.scratchReserveBytes) {
            case .success(let refused):
                unpacked[destination] = display + "!"
                for (member, reason) in refused {
                    setAside.append(FileNote(path: display + "!/" + member, reason: reason))
                }
                walk(folder: destination, display: display + "!", zipDepth: zipDepth + 1)
            case .failure(let problem):
                try? FileManager.default.removeItem(atPath: destination)
                if problem.outOfSpace {
                    if fatal == nil { fatal = .outputFailed("\(display): \(problem.message)") }
                    return
                }
                cases.append(
                    BatchCase(
                        id: caseID("zip", display), kind: .damagedZip, source: display, files: [path],
                        problem: problem.message))
            }
        }

        /// Reads the headers of the files waiting and files each one under its series.
        mutating func readHeaders() {
            guard !pendingDICOM.isEmpty else { return }
            let displays = Dictionary(pendingDICOM.map { ($0.path, $0.display) }, uniquingKeysWith: { a, _ in a })
            let scan = FolderScan.scan(files: pendingDICOM.map(\.path))
            pendingDICOM.removeAll(keepingCapacity: true)
            for header in scan.headers {
                let shown = displays[header.path] ?? header.path
                // Without UIDs, files cannot be matched across folders: their folder is the series.
                let key =
                    header.seriesInstanceUID.isEmpty
                    ? "\u{1}" + ArchiveScan.folder(of: shown)
                    : header.studyInstanceUID + "\u{0}" + header.seriesInstanceUID
                series[key, default: ([], [])].files.append(header.path)
                series[key, default: ([], [])].displays.append(shown)
            }
            for file in scan.skipped {
                let shown = displays[file.path] ?? file.path
                if file.damaged {
                    let folder = ArchiveScan.folder(of: shown)
                    damaged[folder, default: ([], file.reason)].files
                        .append(file.path)
                } else {
                    setAside.append(FileNote(path: shown, reason: file.reason))
                }
            }
        }

        mutating func finish() -> ArchiveInventory {
            readHeaders()
            for (key, members) in series {
                let id = key.hasPrefix("\u{1}") ? caseID("folder", String(key.dropFirst())) : caseID("dicom", key)
                cases.append(
                    BatchCase(
                        id: id, kind: .dicomSeries, source: ArchiveScan.commonFolder(members.displays),
                        files: members.files.sorted()))
            }
            for (folder, broken) in damaged {
                let count = broken.files.count
                cases.append(
                    BatchCase(
                        id: caseID("damaged", folder), kind: .damagedFiles, source: folder.isEmpty ? "." : folder,
                        files: broken.files.sorted(),
                        problem:
                            "\(count) damaged DICOM file\(count == 1 ? "" : "s") in this folder, e.g. \(broken.reason)")
                )
            }
            return ArchiveInventory(
                cases: cases.sorted { $0.id < $1.id }, setAside: setAside.sorted { $0.path < $1.path },
                filesScanned: filesScanned,
                zipFiles: zipFiles, unpacked: unpacked)
        }
    }

    /// The folder part of an archive path ("" for the archive's top).
    static func folder(of display: String) -> String {
        guard let slash = display.lastIndex(of: "/") else { return "" }
        return String(display[..<slash])
    }

    /// The deepest folder that holds every one of the archive paths.
    static func commonFolder(_ displays: [String]) -> String {
        var common = displays.first.map { folder(of: $0).split(separator: "/", omittingEmptySubsequences: false) } ?? []
        for display in displays.dropFirst() {
            let parts = folder(of: display).split(separator: "/", omittingEmptySubsequences: false)
            var shared = 0
            while shared < min(common.count, parts.count), common[shared] == parts[shared] { shared += 1 }
            common.removeLast(common.count - shared)
        }
        let joined = common.joined(separator: "/")
        return joined.isEmpty ? "." : joined
    }
}

/// Unpacks zip files with ZIPFoundation, refusing members that would land outside the target
/// folder ("zip slip": `../` or absolute paths) and links, which are not followed.
enum ZipUnpacker {
    struct Problem: Error {
        var message: String
        /// The output's file system is full: an output error for the run, not a damaged zip.
        var outOfSpace = false
    }

    /// The folder-relative path a member may be written to, or the reason it is refused.
    static func safeRelativePath(_ member: String) -> Result<String, Problem> {
        let parts = member.replacingOccurrences(of: "\\", with: "/").split(separator: "/").filter { $0 != "." }
        if parts.contains("..") { return .failure(Problem(message: "path leaves the zip's folder (\"..\"): refused")) }
        if parts.isEmpty { return .failure(Problem(message: "empty member name")) }
        return .success(parts.joined(separator: "/"))
    }

    /// Deflate expands at most about 1032:1 (RFC 1951: a 258-byte match in under two bits);
    /// the margin covers headers of tiny members.
    static let maximumExpansion: UInt64 = 1032

    /// Whether a member's declared size can be true: no more than deflate can expand its
    /// compressed bytes to, which lie inside the zip file.
    static func plausibleSize(_ entry: Entry, zipBytes: UInt64) -> Bool {
        let compressed = min(entry.compressedSize, zipBytes)
        let (limit, overflow) = compressed.multipliedReportingOverflow(by: maximumExpansion)
        return overflow || entry.uncompressedSize <= limit + 65_536
    }

    /// Unpacks every file member of `zip` into `folder`. Returns the members refused with
    /// their reasons; fails as a whole when the zip cannot be read or would not fit.
    static func unpack(_ zip: String, into folder: String, reserveBytes: Int64) -> Result<[(String, String)], Problem> {
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
        // A member claiming more than deflate can produce from its compressed bytes (or, stored,
        // more than it holds) has a damaged size field, or is a zip bomb: the zip is one failed
        // case, not a reason to stop the run for want of space.
        let zipBytes =
            (try? FileManager.default.attributesOfItem(atPath: zip)[.size] as? Int).map { UInt64($0) } ?? .max
        if let bad = entries.first(where: { !plausibleSize($0, zipBytes: zipBytes) }) {
            return .failure(
                Problem(
                    message:
                        "member \(bad.path) claims \(bad.uncompressedSize) bytes from \(bad.compressedSize) compressed: a damaged or hostile zip, not unpacked"
                ))
        }
        let needed = entries.reduce(Int64(0)) { sum, entry in
            let (total, overflow) = sum.addingReportingOverflow(Int64(clamping: entry.uncompressedSize))
            return overflow ? .max : total
        }
        if let free = DiskSpace.freeBytes(folder), needed > free - reserveBytes {
            return .failure(
                Problem(
                    message:
                        "\(zip): unpacking needs \(DiskSpace.describe(needed)) and \(DiskSpace.describe(reserveBytes)) to spare, but \(DiskSpace.describe(free)) are free on the output's file system",
                    outOfSpace: true))
        }
        let root = URL(fileURLWithPath: folder).standardizedFileURL.path
        var refused: [(String, String)] = []
        for entry in entries {
            switch entry.type {
            case .directory:
                continue
            case .symlink:
                refused.append((entry.path, "symbolic link in a zip: not followed"))
                continue
            case .file:
                break
            }
            switch safeRelativePath(entry.path) {
            case .failure(let problem):
                refused.append((entry.path, problem.message))
            case .success(let relative):
                let target = URL(fileURLWithPath: root + "/" + relative).standardizedFileURL.path
                guard target.hasPrefix(root + "/") else {
                    refused.append((entry.path, "path leaves the zip's folder: refused"))
                    continue
                }
                if FileManager.default.fileExists(atPath: target) {
                    refused.append((entry.path, "a second member with the same name: ignored"))
                    continue
                }
                do {
                    _ = try archive.extract(entry, to: URL(fileURLWithPath: target))
                } catch {
                    let full =
                        (DiskSpace.freeBytes(folder) ?? .max) < Int64(clamping: entry.uncompressedSize) + reserveBytes
                    return .failure(
                        Problem(message: "member \(entry.path) cannot be unpacked (\(error))", outOfSpace: full))
                }
            }
        }
        return .success(refused)
    }
}

/// Free space, for clear "disk full" messages.
enum DiskSpace {
    /// Bytes available to this user on the file system holding `path`. The corresponding C
    /// function is `statvfs`.
    static func freeBytes(_ path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        let (bytes, overflow) = Int64(clamping: info.f_bavail).multipliedReportingOverflow(
            by: Int64(clamping: info.f_frsize))
        return overflow ? .max : bytes
    }

    static func describe(_ bytes: Int64) -> String {
        let mb = Double(bytes) / 1_048_576
        return mb >= 1024 ? String(format: "%.1f GB", mb / 1024) : String(format: mb < 10 ? "%.1f MB" : "%.0f MB", mb)
    }
}
