import AppSupport
import Crypto
import DICOMSeries
import Foundation
import ModelRuntime
import StudyAnalysis
import StudyInput

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
    /// What the aliases among `files` stand for (names that are not valid UTF-8).
    public var names: ShownNames?
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
            scratch: scratch, root: root,
            excluding: Set(excluding.map { URL(fileURLWithPath: $0).standardizedFileURL.path }))
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
        /// The archive (absolute): messages name aliased files as `<root>/<archive path>`.
        let root: String
        let excluding: Set<String>
        /// Files and folders whose names are not valid UTF-8 are read through links made here,
        /// in the scratch folder, which the batch removes at its end (and at the next start).
        let aliases: NameAliases
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

        init(scratch: String, root: String, excluding: Set<String>) {
            self.scratch = scratch
            self.root = root
            self.excluding = excluding
            aliases = NameAliases(in: scratch + "/names")
        }

        /// Every regular file under `folder`, in the order of their archive paths; links,
        /// FIFOs, devices and folders that cannot be read are set aside.
        mutating func walk(folder: String, display: String, zipDepth: Int) {
            let tree = FileTree.walk(
                folder, aliases: aliases, shownRoot: ArchiveScan.joined(root, display), excluding: excluding)
            for refused in tree.refused {
                let path =
                    refused.shown.isEmpty
                    ? (display.isEmpty ? "." : display) : ArchiveScan.joined(display, refused.shown)
                setAside.append(FileNote(path: path, reason: refused.reason))
            }
            for file in tree.files {
                visit(file: file.path, display: ArchiveScan.joined(display, file.shown), zipDepth: zipDepth)
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
            let magic = leadingBytes(of: path, count: 12)
            if magic.starts(with: [0x89, 0x50, 0x4E, 0x47]) || magic.starts(with: [0xFF, 0xD8]) {
                cases.append(BatchCase(id: caseID("file", display), kind: .picture, source: display, files: [path]))
                return
            }
            if let format = PictureFormat.unsupported(magic) {
                setAside.append(FileNote(path: display, reason: PictureFormat.refusal(format)))
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
            // An enhanced CT object gives a header per frame; its file is listed once.
            for header in scan.headers where (header.frameIndex ?? 0) == 0 {
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
            let names = aliases.shown
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
                        problem: names.shown(
                            inText:
                                "\(count) damaged DICOM file\(count == 1 ? "" : "s") in this folder, e.g. \(broken.reason)"
                        )))
            }
            if !names.links.isEmpty {
                for index in cases.indices {
                    let used = names.restricted(to: cases[index].files)
                    if !used.links.isEmpty { cases[index].names = used }
                }
                setAside = setAside.map { FileNote(path: $0.path, reason: names.shown(inText: $0.reason)) }
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
