import VolumeCore

/// One set of DICOM images that can form one volume (or one radiograph): a Series Instance
/// UID, split further when the images in it cannot share one grid.
public struct SeriesGroup: Sendable {
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    /// 1-based part number and count when a series was split, with the reason for the split.
    public var part: Int
    public var partCount: Int
    public var splitReason: String?
    public var headers: [DICOMHeader]

    public var first: DICOMHeader { headers[0] }

    /// A short, readable label: series number, shortened UID and part, e.g. "#3 1.2.826…4694 (part 2/2)".
    public var label: String {
        var text = first.seriesNumber.map { "#\($0) " } ?? ""
        text += shortUID(seriesInstanceUID)
        if partCount > 1 { text += " (part \(part)/\(partCount))" }
        return text
    }

    /// The transfer syntaxes in use, by name.
    public var transferSyntaxes: [String] {
        Array(Set(headers.map(\.transferSyntaxUID))).sorted().map(DICOMHeader.nameOfUID)
    }
}

/// A UID shortened for people: its first 9 and last 6 characters.
public func shortUID(_ uid: String) -> String {
    guard uid.count > 18 else { return uid.isEmpty ? "(no UID)" : uid }
    return "\(uid.prefix(9))…\(uid.suffix(6))"
}

/// Tolerances for deciding that two images share a grid.
public enum GroupingTolerance {
    /// Direction cosines are written with a few decimals; 1e-3 (0.06°) separates real
    /// orientation changes from rounding in (0020,0037).
    public static let orientation = 1e-3
    /// Pixel spacing differing by more than 0.1 % is a different reconstruction.
    public static let relativeSpacing = 1e-3
}

public enum SeriesGrouping {
    /// Groups headers by study and series UID, then splits each series where images cannot
    /// share a grid (orientation, rows/columns, pixel spacing, samples per pixel) or where
    /// positions repeat across acquisitions. Each part carries the reason for the split.
    public static func group(_ headers: [DICOMHeader]) -> [SeriesGroup] {
        var bySeries: [String: [DICOMHeader]] = [:]
        var order: [String] = []
        for header in headers {
            let key = header.studyInstanceUID + "|" + header.seriesInstanceUID
            if bySeries[key] == nil { order.append(key) }
            bySeries[key, default: []].append(header)
        }
        var groups: [SeriesGroup] = []
        for key in order {
            let members = bySeries[key]!
            var parts: [[DICOMHeader]] = []
            var reasons: [String] = []
            for header in members {
                var placed = false
                for index in parts.indices {
                    if let reason = whyNotSameGrid(parts[index][0], header) {
                        if !reasons.contains(reason) { reasons.append(reason) }
                    } else {
                        parts[index].append(header)
                        placed = true
                        break
                    }
                }
                if !placed { parts.append([header]) }
            }
            // Repeated positions across acquisitions (e.g. a 4D or repeated scan under one UID).
            var finalParts: [[DICOMHeader]] = []
            for part in parts {
                if let (split, reason) = splitRepeatedAcquisitions(part) {
                    finalParts += split
                    reasons.append(reason)
                } else {
                    finalParts.append(part)
                }
            }
            let reason = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
            // Bigger parts first so that "part 1" is the main image stack.
            finalParts.sort { $0.count > $1.count }
            for (index, part) in finalParts.enumerated() {
                groups.append(
                    SeriesGroup(
                        studyInstanceUID: part[0].studyInstanceUID,
                        seriesInstanceUID: part[0].seriesInstanceUID,
                        part: index + 1,
                        partCount: finalParts.count,
                        splitReason: finalParts.count > 1 ? reason : nil,
                        headers: part))
            }
        }
        return groups
    }

    /// The one predicate that says why two images cannot be in one volume, or nil if they can.
    public static func whyNotSameGrid(_ a: DICOMHeader, _ b: DICOMHeader) -> String? {
        if a.rows != b.rows || a.columns != b.columns {
            return "image size differs (\(a.columns)×\(a.rows) vs \(b.columns)×\(b.rows))"
        }
        if a.samplesPerPixel != b.samplesPerPixel || a.photometricInterpretation != b.photometricInterpretation {
            return
                "photometric interpretation differs (\(a.photometricInterpretation) vs \(b.photometricInterpretation))"
        }
        if (a.numberOfFrames > 1 && a.frameIndex == nil) || (b.numberOfFrames > 1 && b.frameIndex == nil) {
            return "multi-frame objects are separate images"
        }
        // An enhanced CT object is a volume of its own: its frames are not mixed with single-frame
        // files or with another object's frames, even under one Series Instance UID (the same
        // slices exported both ways would otherwise collide position by position).
        if (a.frameIndex != nil || b.frameIndex != nil)
            && (a.frameIndex == nil || b.frameIndex == nil || a.sopInstanceUID != b.sopInstanceUID)
        {
            return "the frames of a multi-frame object and other images are separate volumes"
        }
        switch (a.rowDirection, a.columnDirection, b.rowDirection, b.columnDirection) {
        case (let ra?, let ca?, let rb?, let cb?):
            let delta = max((ra - rb).length, (ca - cb).length)
            if delta > GroupingTolerance.orientation { return "image orientation differs" }
        case (nil, nil, nil, nil):
            break
        default:
            return "(0020,0037) Image Orientation (Patient) present on some images only"
        }
        switch (a.pixelSpacing, b.pixelSpacing) {
        case (let sa?, let sb?):
            let relative = max(
                abs(sa.row - sb.row) / max(sa.row, 1e-9), abs(sa.column - sb.column) / max(sa.column, 1e-9))
            if relative > GroupingTolerance.relativeSpacing { return "pixel spacing differs" }
        case (nil, nil):
            break
        default:
            return "(0028,0030) Pixel Spacing present on some images only"
        }
        return nil
    }

    /// When several different instances share a position and the instances carry more than
    /// one (0020,0012) Acquisition Number or (0020,0100) Temporal Position Identifier, splits
    /// by that number so each part has one slice per position.
    static func splitRepeatedAcquisitions(_ headers: [DICOMHeader]) -> ([[DICOMHeader]], String)? {
        // A position or orientation outside `DICOMHeader.geometryProblem`'s ranges is left
        // unsplit for the planner to refuse by name; the Int64 keys below are only computed
        // from positions within ±`VolumeLimits.maximumCoordinateMM` along a unit normal.
        guard headers.count > 1, headers.allSatisfy({ $0.geometryProblem == nil }),
            let normal = headers[0].sliceNormal
        else { return nil }
        var seen: [Int64: String] = [:]
        var repeated = false
        for header in headers {
            guard let position = header.imagePosition else { return nil }
            let key = Int64((position.dot(normal) / SliceTolerance.duplicatePosition).rounded())
            if let other = seen[key], other != header.imageKey {
                repeated = true
                break
            }
            seen[key] = header.imageKey
        }
        guard repeated else { return nil }
        for (name, value) in [
            ("(0020,0100) Temporal Position Identifier", { (h: DICOMHeader) in h.temporalPosition }),
            ("(0020,0012) Acquisition Number", { (h: DICOMHeader) in h.acquisitionNumber }),
        ] {
            let values = Set(headers.compactMap(value))
            guard values.count > 1 else { continue }
            var parts: [Int?: [DICOMHeader]] = [:]
            for header in headers { parts[value(header), default: []].append(header) }
            let sortedKeys = parts.keys.sorted { ($0 ?? Int.min) < ($1 ?? Int.min) }
            return (sortedKeys.map { parts[$0]! }, "positions repeat: split by \(name)")
        }
        return nil
    }
}
