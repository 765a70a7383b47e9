import Foundation
import VolumeCore

/// Tolerances for slice ordering and spacing. Each says why it has that value.
public enum SliceTolerance {
    /// Two slices closer than this along the normal are at the same position, in mm.
    /// (0020,0032) is a DS of at most 16 characters; 0.01 mm is far above its rounding and far
    /// below any slice spacing in use (≥ 0.5 mm).
    public static let duplicatePosition = 0.01
    /// A step between slices may differ from the series' nominal spacing by this fraction
    /// and still count as even: 5 % moves a slice by a twentieth of a slice at most, below what
    /// interpolation would change, and covers the rounding of positions to 2 decimals.
    public static let relativeSpacing = 0.05
    /// Up to this many consecutive missing slices are filled by linear interpolation between
    /// the neighbours; a larger hole would be invented anatomy, so the series is refused.
    public static let maximumFilledGap = 2
    /// Gantry tilt below this many degrees is ignored: at 0.1°, 300 mm of scan shifts the last
    /// slice by 0.5 mm, half a pixel.
    public static let tiltDegrees = 0.1
    /// Row and column directions whose dot product exceeds this are not perpendicular.
    public static let orthogonality = 1e-3
}

/// How a slice of the output volume is made.
public enum SliceSource: Sendable, Equatable {
    /// Copied from ordered input slice `index`.
    case slice(Int)
    /// Linear interpolation: (1 - weight) × slice `lower` + weight × slice `upper`.
    case interpolated(lower: Int, upper: Int, weight: Double)
}

/// The ordered slices of one series and the grid they load onto, with every correction that
/// loading will apply and every warning worth telling the user.
public struct StackPlan: Sendable {
    /// Input slices in output order (along the slice normal), duplicates removed.
    public var slices: [DICOMHeader]
    /// The output grid.
    public var geometry: Geometry
    /// For each output slice, where its voxels come from.
    public var sources: [SliceSource]
    /// For a tilted gantry: per output slice, the in-plane shift (columns, rows) to resample by
    /// so that the output grid is orthogonal. Empty when there is no tilt.
    public var tiltShifts: [(columns: Double, rows: Double)]
    /// What was corrected and how, in sentences.
    public var corrections: [String]
    /// What is odd but left alone.
    public var warnings: [String]
}

/// Why a series cannot be loaded as one volume.
public struct StackRefusal: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

public enum SliceStack {
    /// Orders the slices of a group by Image Position (Patient) projected on the slice normal
    /// (never by Instance Number), and checks duplicates, spacing, gaps and gantry tilt.
    public static func plan(_ group: [DICOMHeader]) -> Result<StackPlan, StackRefusal> {
        guard let first = group.first else { return .failure(StackRefusal(reason: "no images")) }
        let missingGeometry = group.filter { $0.imagePosition == nil || $0.rowDirection == nil }.count
        guard missingGeometry == 0 else {
            return .failure(
                StackRefusal(
                    reason:
                        "\(missingGeometry) of \(group.count) images lack (0020,0032) Image Position or (0020,0037) Image Orientation (Patient): slices cannot be placed"
                ))
        }
        let row = first.rowDirection!.normalized
        let column = first.columnDirection!.normalized
        if abs(row.dot(column)) > SliceTolerance.orthogonality {
            return .failure(StackRefusal(reason: "(0020,0037) Image Orientation (Patient) row and column directions are not perpendicular"))
        }
        let normal = row.cross(column).normalized
        guard let spacing = first.pixelSpacing ?? first.imagerPixelSpacing, spacing.row > 0, spacing.column > 0 else {
            return .failure(StackRefusal(reason: "no (0028,0030) Pixel Spacing: voxel size unknown"))
        }

        // Order along the normal; Instance Number only breaks exact ties so the order is stable.
        var ordered = group.sorted { a, b in
            let pa = a.imagePosition!.dot(normal)
            let pb = b.imagePosition!.dot(normal)
            if pa != pb { return pa < pb }
            return (a.instanceNumber ?? 0, a.path) < (b.instanceNumber ?? 0, b.path)
        }
        var warnings: [String] = []
        var corrections: [String] = []

        // Duplicates: the same instance twice is dropped; different instances at one position refuse.
        var unique: [DICOMHeader] = []
        var droppedCopies = 0
        var conflicts: [Double] = []
        for header in ordered {
            if let last = unique.last,
                abs(last.imagePosition!.dot(normal) - header.imagePosition!.dot(normal)) < SliceTolerance.duplicatePosition
            {
                if last.sopInstanceUID == header.sopInstanceUID && !header.sopInstanceUID.isEmpty {
                    droppedCopies += 1
                } else {
                    conflicts.append(header.imagePosition!.dot(normal))
                }
                continue
            }
            unique.append(header)
        }
        if !conflicts.isEmpty {
            let where_ = conflicts.prefix(3).map { String(format: "%.2f", $0) }.joined(separator: ", ")
            return .failure(
                StackRefusal(
                    reason:
                        "\(conflicts.count) positions hold two different images (at \(where_) mm along the normal) and no acquisition or temporal number tells them apart: cannot tell which belongs to the volume"
                ))
        }
        if droppedCopies > 0 {
            corrections.append("\(droppedCopies) duplicate file(s) of the same SOP instance ignored")
        }
        ordered = unique

        let positions = ordered.map { $0.imagePosition!.dot(normal) }
        var geometrySpacing = Vector3(spacing.column, spacing.row, first.sliceThickness ?? 1)
        var sources: [SliceSource] = [.slice(0)]
        var tiltShifts: [(columns: Double, rows: Double)] = []

        if ordered.count > 1 {
            let steps = zip(positions.dropFirst(), positions).map { $0 - $1 }
            let nominal = median(steps)
            geometrySpacing.z = nominal
            let tolerance = SliceTolerance.relativeSpacing * nominal
            var missing = 0
            sources = [.slice(0)]
            for (index, step) in steps.enumerated() {
                let multiple = (step / nominal).rounded()
                if abs(step - nominal) <= tolerance {
                    sources.append(.slice(index + 1))
                } else if multiple >= 2, abs(step - multiple * nominal) <= tolerance {
                    let gap = Int(multiple) - 1
                    guard gap <= SliceTolerance.maximumFilledGap else {
                        return .failure(
                            StackRefusal(
                                reason: String(
                                    format:
                                        "%d consecutive slices missing at %.2f mm (more than %d): refusing to invent that much anatomy",
                                    gap, positions[index] + nominal, SliceTolerance.maximumFilledGap)))
                    }
                    for g in 1...gap {
                        sources.append(.interpolated(lower: index, upper: index + 1, weight: Double(g) / multiple))
                    }
                    sources.append(.slice(index + 1))
                    missing += gap
                } else {
                    return .failure(
                        StackRefusal(
                            reason: String(
                                format:
                                    "uneven slice spacing: steps from %.3f to %.3f mm (median %.3f mm) that are not whole multiples of one spacing; refusing rather than guessing a grid",
                                steps.min()!, steps.max()!, nominal)))
                }
            }
            if missing > 0 {
                corrections.append(
                    "\(missing) missing slice(s) filled by linear interpolation between their neighbours (spacing \(String(format: "%.3f", nominal)) mm)"
                )
            }

            // Gantry tilt: the line through the slice positions leaves the normal.
            let span = ordered.last!.imagePosition! - ordered[0].imagePosition!
            let along = span.dot(normal)
            let angle = acos(min(1, abs(along) / max(span.length, 1e-12))) * 180 / .pi
            if angle > SliceTolerance.tiltDegrees {
                let inPlanePerMM = (1 / along) * (span - along * normal)
                for k in sources.indices {
                    let offset = Double(k) * nominal
                    let shift = offset * inPlanePerMM
                    tiltShifts.append((columns: shift.dot(row) / spacing.column, rows: shift.dot(column) / spacing.row))
                }
                corrections.append(
                    String(
                        format:
                            "gantry tilt of %.2f° corrected by shifting each slice in-plane (bilinear resampling) onto an orthogonal grid",
                        angle))
            } else if let tilt = first.gantryTilt, abs(tilt) > SliceTolerance.tiltDegrees {
                warnings.append(
                    String(format: "(0018,1120) Gantry/Detector Tilt says %.2f° but slice positions show no tilt; positions used", tilt))
            }
            if let thickness = first.sliceThickness, thickness > 0, thickness < nominal * 0.5 {
                warnings.append(
                    String(format: "slices are %.2f mm thick but %.2f mm apart: the volume has gaps between slices", thickness, nominal))
            }
        }

        // After a tilt correction slice 0 is unchanged and later slices sit straight above it,
        // so the first slice's position is the origin either way.
        let origin = ordered[0].imagePosition!
        let geometry = Geometry(
            size: Size3(first.columns, first.rows, sources.count),
            spacing: geometrySpacing,
            origin: origin,
            direction: Matrix3(columns: row, column, normal))
        let slopes = Set(ordered.map { $0.rescaleSlope ?? 1 })
        let intercepts = Set(ordered.map { $0.rescaleIntercept ?? 0 })
        if slopes.count > 1 || intercepts.count > 1 {
            warnings.append("rescale slope/intercept vary between slices; each slice is rescaled with its own values")
        }
        return .success(
            StackPlan(
                slices: ordered, geometry: geometry, sources: sources, tiltShifts: tiltShifts,
                corrections: corrections, warnings: warnings))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
