import AppSupport
import Dispatch
import Foundation

/// A file the scan looked at and set aside, with the reason.
public struct SkippedFile: Sendable, Hashable {
    public var path: String
    public var reason: String
    /// A DICOM file that is broken (unreadable, truncated, a header that contradicts its
    /// pixel data), as opposed to a file that is simply not an image.
    public var damaged = false
}

/// Everything a recursive scan of a folder found: DICOM image headers to group, and every
/// other file with the reason it was set aside.
public struct FolderScan: Sendable {
    public var headers: [DICOMHeader]
    public var skipped: [SkippedFile]
    public var fileCount: Int
    /// What the aliases the scan read files through stand for (files whose names are not valid
    /// UTF-8): header paths are aliases, messages and reports show `names.shown(...)`.
    public var names = ShownNames()
    /// Keeps the aliases of `scan(_:)` in place while the scan, or an inspection built from
    /// it, can still load through them; they are removed when the last of those goes, so code
    /// that loads from the headers alone keeps the scan alive (`withExtendedLifetime`).
    public var aliases: NameAliases?

    /// Scans `root` (a folder, searched recursively, or a single file). Headers are read in
    /// parallel, without pixel data. Files that are not DICOM, DICOMDIRs, non-image objects
    /// (SR, presentation states, ...) and unreadable files are reported in `skipped`, as are
    /// symbolic links, FIFOs, sockets and devices (not read). Files whose names are not valid
    /// UTF-8 are read through aliases in a temporary folder.
    public static func scan(_ root: String) throws(DICOMError) -> FolderScan {
        guard let root = try folderToWalk(root) else { return scan(files: [root]) }
        let aliases = NameAliases()
        let tree = FileTree.walk(root, aliases: aliases, shownRoot: root)
        var scan = scan(files: tree.files.map(\.path))
        scan.names = aliases.shown
        scan.aliases = aliases
        scan.skipped = scan.skipped.map {
            SkippedFile(
                path: scan.names.shown(path: $0.path), reason: scan.names.shown(inText: $0.reason), damaged: $0.damaged)
        }
        scan.skipped += tree.refused.map {
            SkippedFile(path: $0.shown.isEmpty ? root : root + "/" + $0.shown, reason: $0.reason)
        }
        scan.fileCount += tree.refused.count
        return scan
    }

    /// Scans exactly the files given (a batch gathers a series from several folders and zip
    /// files), in parallel and without pixel data, as `scan(_:)` does for a folder. An enhanced CT
    /// object gives one header per frame (`DICOMHeader.readImages`), once its header passes
    /// `reasonToSkip`.
    public static func scan(files: [String]) -> FolderScan {
        let results = ConcurrentResults<Result<[DICOMHeader], DICOMError>>(count: files.count)
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            results[index] = Result { () throws(DICOMError) in
                let header = try DICOMHeader.read(path: files[index])
                guard header.readsAsFrames, reasonToSkip(header) == nil else { return [header] }
                return try header.frames()
            }
        }
        var headers: [DICOMHeader] = []
        var skipped: [SkippedFile] = []
        for (index, result) in results.values.enumerated() {
            switch result {
            case .success(let images):
                if let reason = images.first.flatMap(Self.reasonToSkip) {
                    skipped.append(
                        SkippedFile(path: files[index], reason: reason, damaged: reason.hasPrefix(Self.corruptHeader)))
                } else {
                    headers += images
                }
            case .failure(let error):
                let reason = error.kind == .notDICOM ? "not a DICOM file" : "unreadable DICOM: \(error.message)"
                skipped.append(SkippedFile(path: files[index], reason: reason, damaged: error.kind != .notDICOM))
            case nil:
                skipped.append(SkippedFile(path: files[index], reason: "not scanned"))
            }
        }
        return FolderScan(headers: headers, skipped: skipped, fileCount: files.count)
    }

    static let corruptHeader = "corrupt header:"

    /// Why a readable DICOM file holds nothing to load as an image, or nil when it does.
    static func reasonToSkip(_ header: DICOMHeader) -> String? {
        if header.mediaStorageSOPClassUID == SOPClass.mediaStorageDirectory {
            return "DICOMDIR (a media directory, not an image; its files are found by the folder scan)"
        }
        if !header.hasPixelData {
            let name = header.sopClassUID.isEmpty ? "unknown SOP class" : header.sopClassName
            return "non-image object (\(name)): no (7FE0,0010) Pixel Data"
        }
        if header.rows == 0 || header.columns == 0 {
            return "image without (0028,0010) Rows / (0028,0011) Columns"
        }
        // Checked against the header before any pixel buffer exists, so a corrupt header
        // claiming 60000×60000 pixels costs nothing.
        // Overflow-checked: 65535 × 65535 pixels in 2^31 (0028,0008) Number of Frames would trap.
        let (needed, overflow) = header.frameBytes.multipliedReportingOverflow(by: header.numberOfFrames)
        if let length = header.pixelDataLength, overflow || length < needed {
            let frames = header.numberOfFrames > 1 ? " × \(header.numberOfFrames) frames" : ""
            return
                "\(corruptHeader) (0028,0010) Rows \(header.rows) × (0028,0011) Columns \(header.columns) × \(header.bitsAllocated) bits\(frames) need \(overflow ? "more than \(Int.max)" : "\(needed)") bytes but (7FE0,0010) Pixel Data holds \(length)"
        }
        // Compressed frames: each begins a fragment of its own (PS3.5 A.4), so fewer fragments
        // than frames means frames are missing.
        if header.pixelDataLength == nil, header.fragmentCount < header.numberOfFrames {
            return
                "\(corruptHeader) (0028,0008) Number of Frames is \(header.numberOfFrames) but its compressed (7FE0,0010) Pixel Data holds \(header.fragmentCount) fragment(s)"
        }
        return nil
    }

    /// `root` as an absolute path when it is a folder to walk; nil when it is a single file.
    static func folderToWalk(_ root: String) throws(DICOMError) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw DICOMError(.unreadable, path: root, message: "\(root): no such file or folder")
        }
        guard isDirectory.boolValue else {
            // A FIFO, socket or device would block DCMTK's first read: refused by its type.
            guard isRegularFile(root) else {
                throw DICOMError(
                    .unreadable, path: root, message: "\(root): not a regular file (a FIFO, socket or device)")
            }
            return nil
        }
        guard FileManager.default.isReadableFile(atPath: root) else {
            throw DICOMError(.unreadable, path: root, message: "\(root): folder cannot be read")
        }
        return URL(fileURLWithPath: root).path
    }
}

/// Fixed-size storage that concurrent iterations each write one distinct slot of.
/// Distinct indices never alias, which is what makes the unchecked Sendable sound.
final class ConcurrentResults<Value>: @unchecked Sendable {
    private var storage: [Value?]
    private let lock = NSLock()

    init(count: Int) { storage = Array(repeating: nil, count: count) }

    subscript(index: Int) -> Value? {
        get { lock.withLock { storage[index] } }
        set { lock.withLock { storage[index] = newValue } }
    }

    var values: [Value?] { lock.withLock { storage } }
}
