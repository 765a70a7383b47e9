import AppSupport
import DICOMSeries
import Foundation
import NIfTIIO
import Radiograph
import VolumeCore

/// A file set aside during the scan.
public struct FileNote: Codable, Sendable, Hashable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// What series choice made of a series (JSON: "chosen", "not chosen", "rejected").
public enum SeriesStatus: String, Codable, Sendable {
    /// The series that is analysed.
    case chosen
    /// Analysable, but another series of the study was preferred (the reason says why).
    case notChosen = "not chosen"
    /// Not analysable (a localizer, too few slices...; the reason says why).
    case rejected
}

/// One series (or part of a split series, or a single NIfTI / picture file) in a report.
public struct SeriesEntry: Codable, Sendable {
    public var id: String
    public var seriesUID: String
    public var modality: String
    public var description: String
    public var kind: String
    public var images: Int
    /// Voxels along x, y, z after loading (z counts filled slices).
    public var size: [Int]
    public var spacingMM: [Double]
    /// Where voxel axes point, e.g. "LPS".
    public var orientation: String?
    public var transferSyntaxes: [String]
    public var status: SeriesStatus
    public var reason: String?
    public var splitReason: String?
    public var corrections: [String]
    public var warnings: [String]
    public var findings: [QualityFinding]
}

/// What `lungct info` reports about an input.
public struct InputReport: Codable, Sendable {
    public var input: String
    public var format: String
    public var filesScanned: Int
    public var skippedFiles: [FileNote]
    public var series: [SeriesEntry]
    public var chosen: String?
    public var statistics: VolumeStatistics?
}

/// An image loaded for analysis.
public enum LoadedImage: Sendable {
    case ct(HUVolume)
    case radiograph(RadiographImage)
}

/// An input looked at: what it holds and which image would be analysed. Reading headers
/// only; `load` reads the pixels of the chosen (or named) series.
public struct Inspection: Sendable {
    public var report: InputReport
    public enum Source: Sendable {
        case dicom([SeriesCandidate])
        case nifti(String)
        case picture(RadiographImage)
    }
    public var source: Source
    /// What the aliases the files were read through stand for (names that are not valid
    /// UTF-8); the report already shows the names they stand for.
    public var names = ShownNames()
    /// Keeps a folder scan's aliases in place while `load` may still read through them.
    var aliases: NameAliases?

    /// Looks at `path`: a folder of DICOM files (searched recursively), a single DICOM file,
    /// a NIfTI volume (.nii, .nii.gz) or a PNG/JPEG radiograph.
    public static func inspect(_ path: String) throws(LungCTError) -> Inspection {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .inputFailed("\(path): no such file or folder")
        }
        if !isDirectory.boolValue {
            // A FIFO, socket or device would block the first read (or never end): refused by its type.
            guard isRegularFile(path) else {
                throw .inputFailed(
                    "\(path): not a regular file (a FIFO, socket or device); lungct reads files and folders")
            }
            guard FileManager.default.isReadableFile(atPath: path) else { throw .inputFailed("\(path): not readable") }
            let lower = path.lowercased()
            if lower.hasSuffix(".nii") || lower.hasSuffix(".nii.gz") { return try inspectNIfTI(path) }
            let bytes = leadingBytes(of: path, count: 12)
            if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) || bytes.starts(with: [0xFF, 0xD8]) {
                return try inspectPicture(path)
            }
            if bytes.isEmpty { throw .inputFailed("\(path): the file is empty") }
            if let format = PictureFormat.unsupported(bytes) {
                throw .inputFailed("\(path): " + PictureFormat.refusal(format))
            }
        }
        return try inspectDICOM(path)
    }

    static func inspectDICOM(_ path: String) throws(LungCTError) -> Inspection {
        let scan: FolderScan
        do {
            scan = try FolderScan.scan(path)
        } catch {
            throw .inputFailed(error.description)
        }
        return inspect(scan, input: path)
    }

    /// Groups, checks and ranks the series of a scan; `input` names what was scanned.
    public static func inspect(_ scan: FolderScan, input path: String) -> Inspection {
        var candidates = SeriesSelection.candidates(from: SeriesGrouping.group(scan.headers))
        SeriesSelection.choose(&candidates)
        let chosen = candidates.first(where: \.isChosen).map(\.group.label)
        var inspection = Inspection(
            report: InputReport(
                input: path, format: "DICOM", filesScanned: scan.fileCount,
                skippedFiles: scan.skipped.map { FileNote(path: $0.path, reason: $0.reason) },
                series: candidates.map(entry), chosen: chosen, statistics: nil),
            source: .dicom(candidates), aliases: scan.aliases)
        inspection.show(scan.names)
        return inspection
    }

    static func entry(_ candidate: SeriesCandidate) -> SeriesEntry {
        let group = candidate.group
        let header = group.first
        let geometry = candidate.plan?.geometry
        var findings: [QualityFinding] = []
        if candidate.kind == .radiograph, candidate.rejection == nil {
            // Quality findings need the pixels (colour, corruption); a radiograph is one image.
            findings = (try? RadiographLoader.load(path: header.path))?.findings ?? []
        }
        let spacing = header.pixelSpacing ?? header.imagerPixelSpacing
        return SeriesEntry(
            id: group.label,
            seriesUID: shortUID(group.seriesInstanceUID),
            modality: header.modality,
            description: header.seriesDescription,
            kind: candidate.kind.rawValue,
            images: group.headers.count,
            size: geometry.map { [$0.size.x, $0.size.y, $0.size.z] } ?? [
                header.columns, header.rows, group.headers.count,
            ],
            spacingMM: geometry.map {
                [$0.spacing.x, $0.spacing.y, $0.spacing.z].map { $0.rounded(places: ReportPrecision.millimetres) }
            }
                ?? (spacing.map { [$0.column, $0.row].map { $0.rounded(places: ReportPrecision.millimetres) } } ?? []),
            orientation: geometry?.orientationCode,
            transferSyntaxes: group.transferSyntaxes,
            status: candidate.rejection != nil ? .rejected : candidate.isChosen ? .chosen : .notChosen,
            reason: candidate.rejection ?? candidate.notChosenBecause,
            splitReason: group.splitReason,
            corrections: candidate.plan?.corrections ?? [],
            warnings: candidate.plan?.warnings ?? [],
            findings: findings)
    }

    public static func inspectNIfTI(_ path: String) throws(LungCTError) -> Inspection {
        let header: NIfTIHeader
        do {
            header = try NIfTI.readHeader(path)
        } catch {
            throw .inputFailed(error.description)
        }
        let g = header.geometry
        let entry = SeriesEntry(
            id: URL(fileURLWithPath: path).lastPathComponent, seriesUID: "", modality: "",
            description: header.description,
            kind: SeriesKind.ctVolume.rawValue, images: 1, size: [g.size.x, g.size.y, g.size.z],
            spacingMM: [g.spacing.x, g.spacing.y, g.spacing.z].map { $0.rounded(places: ReportPrecision.millimetres) },
            orientation: g.orientationCode,
            transferSyntaxes: ["NIfTI-\(header.version) (\(header.transform))"], status: .chosen, reason: nil,
            splitReason: nil, corrections: [], warnings: header.warnings, findings: [])
        return Inspection(
            report: InputReport(
                input: path, format: "NIfTI-\(header.version)", filesScanned: 1, skippedFiles: [], series: [entry],
                chosen: entry.id, statistics: nil),
            source: .nifti(path))
    }

    public static func inspectPicture(_ path: String) throws(LungCTError) -> Inspection {
        let image: RadiographImage
        do {
            image = try RadiographLoader.load(path: path)
        } catch {
            throw .inputFailed(error.description)
        }
        let g = image.volume.geometry
        let entry = SeriesEntry(
            id: URL(fileURLWithPath: path).lastPathComponent, seriesUID: "", modality: "", description: "",
            kind: SeriesKind.radiograph.rawValue, images: 1, size: [g.size.x, g.size.y, 1],
            spacingMM: [g.spacing.x, g.spacing.y].map { $0.rounded(places: ReportPrecision.millimetres) },
            orientation: nil,
            transferSyntaxes: [image.source.uppercased() + " \(image.bitDepth)-bit"], status: .chosen, reason: nil,
            splitReason: nil, corrections: [], warnings: [], findings: image.findings)
        return Inspection(
            report: InputReport(
                input: path, format: image.source.uppercased(), filesScanned: 1, skippedFiles: [], series: [entry],
                chosen: entry.id, statistics: nil),
            source: .picture(image))
    }

    /// The values of a volume that looks like a label map (a mask or segmentation) rather
    /// than a CT: whole numbers in 0...255, at most 16 of them. Nil for anything else: a CT in
    /// HU has air below 0, and raw unsigned CT values take hundreds of levels. Stops at the
    /// first voxel that rules it out, so a CT costs almost nothing.
    static func labelValues(_ volume: HUVolume) -> [Int]? {
        var seen = Set<Int>()
        func take(_ value: Double) -> Bool {
            guard value >= 0, value <= 255, value == value.rounded() else { return false }
            seen.insert(Int(value))
            return seen.count <= 16
        }
        switch volume {
        case .int16(let v):
            for value in v.voxels where !take(Double(value)) { return nil }
        case .float32(let v):
            for value in v.voxels where !take(Double(value)) { return nil }
        }
        return seen.sorted()
    }

    /// The first header of the chosen (or named) DICOM series; nil for NIfTI and pictures.
    public func header(series: String? = nil) -> DICOMHeader? {
        guard case .dicom(let candidates) = source else { return nil }
        if let series {
            return candidates.first { $0.isNamed(series) }?.group.first
        }
        return candidates.first(where: \.isChosen)?.group.first
    }

    /// The CT of `path` in HU as int16, loaded as `analyze` loads it (the chosen series, or
    /// `series`); nil when the input is a radiograph, for the caller to refuse in its own words.
    public static func loadCT(_ path: String, series: String? = nil) throws(LungCTError) -> Volume<Int16>? {
        var inspection = try inspect(path)
        guard case .ct(let ct) = try inspection.load(series: series) else { return nil }
        return ct.asInt16
    }

    /// Loads the chosen series, or the one whose Series Instance UID (full, or as shown
    /// shortened) matches `series`. What only the voxels show, which reading the header
    /// (`inspect`) cannot see, is added to the entry's `warnings` in `report`: for a NIfTI
    /// volume, the voxels read as 0 (NaN or infinite) and those int16 cannot hold.
    public mutating func load(series: String? = nil) throws(LungCTError) -> LoadedImage {
        do {
            return try loadImage(series: series)
        } catch {
            throw names.shown(error)
        }
    }

    private mutating func loadImage(series: String?) throws(LungCTError) -> LoadedImage {
        switch source {
        case .nifti(let path):
            let (image, warnings) = try Self.loadNIfTI(path)
            for index in report.series.indices {
                report.series[index].warnings += warnings.filter { !report.series[index].warnings.contains($0) }
            }
            return image
        case .picture(let image):
            return .radiograph(image)
        case .dicom(let candidates):
            let candidate: SeriesCandidate
            if let series {
                let matches = candidates.filter { $0.isNamed(series) }
                guard let match = matches.first(where: { $0.rejection == nil }) ?? matches.first else {
                    throw .usage("\(report.input): no series \(series); `lungct info` lists the series found")
                }
                if let rejection = match.rejection {
                    throw .inputFailed("\(report.input): series \(match.group.label) cannot be loaded: \(rejection)")
                }
                candidate = match
            } else {
                guard let chosen = candidates.first(where: \.isChosen) else {
                    let reasons = candidates.map { "\($0.group.label): \($0.rejection ?? "not chosen")" }
                    let details =
                        candidates.isEmpty
                        ? "No DICOM image found among \(report.filesScanned) file(s)."
                        : "Every series was rejected: " + reasons.joined(separator: "; ")
                    throw .nothingToAnalyse(input: report.input, details: details)
                }
                candidate = chosen
            }
            do {
                switch candidate.kind {
                case .ctVolume:
                    return .ct(try SeriesLoader.load(candidate.plan!))
                case .radiograph:
                    return .radiograph(try RadiographLoader.load(path: candidate.group.first.path))
                case .other:
                    throw LungCTError.inputFailed("\(candidate.group.label) is not an image lungct analyses")
                }
            } catch let error as LungCTError {
                throw error
            } catch {
                throw .inputFailed("\(candidate.group.label): \(error)")
            }
        }
    }
}

extension Inspection {
    /// A NIfTI volume and its header's warnings (those of `inspectNIfTI` again, and what the
    /// voxels showed); a label volume is nothing to analyse.
    static func loadNIfTI(_ path: String) throws(LungCTError) -> (image: LoadedImage, warnings: [String]) {
        let volume: HUVolume
        let header: NIfTIHeader
        do {
            (volume, header) = try NIfTI.read(path)
        } catch {
            throw .inputFailed(error.description)
        }
        if let values = labelValues(volume) {
            throw .nothingToAnalyse(
                input: path,
                details: "a label volume (values \(values.map(String.init).joined(separator: ", "))), not a CT in HU")
        }
        return (.ct(volume), header.warnings)
    }
}

/// The first `count` bytes of a file (fewer when it is shorter, none when it cannot be read),
/// to tell pictures and zip files by their signature. `read(upToCount:)` throws on an I/O
/// error, where Foundation's `readData(ofLength:)` would trap.
public func leadingBytes(of path: String, count: Int) -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
    defer { try? handle.close() }
    return [UInt8]((try? handle.read(upToCount: count)) ?? Data())
}
