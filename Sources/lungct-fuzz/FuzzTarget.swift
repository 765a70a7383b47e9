import BatchScoring
import Foundation
import ModelRuntime
import StudyInput

/// The readers under fuzzing: one entry per kind of file lungct takes from the wild, each
/// called exactly as the command line calls it. A thrown error is a correct answer to a bad
/// file; a crash, a trap, a sanitizer report or a hang is a finding.
enum FuzzTarget: String, CaseIterable {
    /// A DICOM file as `lungct info --stats` reads it: header scan, grouping, series choice,
    /// then the pixels of the chosen CT slice or CR/DX radiograph.
    case dicom
    /// A NIfTI-1 or NIfTI-2 volume as `lungct info --stats` reads it (header, then voxels);
    /// gzipped when it starts with the gzip signature.
    case nifti
    /// A PNG or JPEG radiograph as `lungct info` reads it (decode, gray conversion, findings).
    case picture
    /// A zip file as `lungct batch` scans an archive: unpacking with its size and path
    /// checks, then the DICOM headers of the members.
    case zip
    /// A model file as `lungct analyze --model FILE` loads it (HDF5 from memory, the JSON
    /// description, the weights, the checks that analysis can apply it).
    case model

    /// The PNG signature (PNG spec, section 5.2) and the JPEG start-of-image marker FF D8.
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47]
    static let jpegSignature: [UInt8] = [0xFF, 0xD8]
    /// The gzip signature (RFC 1952, section 2.3.1: ID1 ID2).
    static let gzipSignature: [UInt8] = [0x1F, 0x8B]

    /// The file name an input is written under (the readers tell NIfTI and zip files by their
    /// name), or nil when the input is not for this target: a picture target input that is
    /// neither PNG nor JPEG would only exercise the DICOM reader.
    func fileName(for input: some Collection<UInt8>) -> String? {
        switch self {
        case .dicom: return "image.dcm"
        case .nifti: return input.starts(with: Self.gzipSignature) ? "volume.nii.gz" : "volume.nii"
        case .picture:
            if input.starts(with: Self.pngSignature) { return "radiograph.png" }
            return input.starts(with: Self.jpegSignature) ? "radiograph.jpg" : nil
        case .zip: return "archive.zip"
        case .model: return "model.h5"
        }
    }

    /// Reads the file at `path` as the command line would, discarding the result and any
    /// thrown error. `scratch` is a folder the zip target may unpack into; it is emptied after.
    func read(_ path: String, scratch: String) {
        switch self {
        case .dicom, .nifti, .picture:
            // `lungct info --stats`: inspect, then load the chosen image.
            guard var inspection = try? Inspection.inspect(path) else { return }
            _ = try? inspection.load()
        case .zip:
            _ = try? ArchiveScan.scan(path, scratch: scratch)
            try? FileManager.default.removeItem(atPath: scratch)
        case .model:
            // `--model FILE` with no MANIFEST beside it: loaded without a hash to check.
            _ = try? AnalysisModels.load(path, requireManifest: false)
        }
    }
}

/// Runs inputs through one target, writing each into a private temporary folder (the readers
/// take paths). The folder is removed when the harness goes away.
final class FuzzHarness {
    let target: FuzzTarget
    let folder: String

    /// Creates the private folder under `TMPDIR` (fuzz.sh points it at /dev/shm when it can,
    /// so that writing each input costs no disk I/O).
    init(target: FuzzTarget) throws {
        self.target = target
        let base = FileManager.default.temporaryDirectory.path
        folder = base + "/lungct-fuzz-\(target.rawValue)-\(ProcessInfo.processInfo.processIdentifier)"
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    deinit {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs one input; false when the input is not for this target (nothing was read).
    func run(_ input: UnsafeRawBufferPointer) -> Bool {
        guard let name = target.fileName(for: input) else { return false }
        let path = folder + "/" + name
        do {
            try Data(input).write(to: URL(fileURLWithPath: path))
        } catch {
            fatalError("lungct-fuzz cannot write its input to \(path): \(error)")
        }
        target.read(path, scratch: folder + "/scratch")
        try? FileManager.default.removeItem(atPath: path)
        return true
    }
}
