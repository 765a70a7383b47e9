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
    /// Lengths a (0020,0037) direction may have and still be taken as a unit vector (PS3.3
    /// C.7.6.2.1.1): cosines rounded to a few decimals are off by far less than 10 %; a zero, NaN
    /// or huge vector is no direction at all.
    public static let directionLength: ClosedRange<Double> = 0.9...1.1
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

/// One slice with its (0020,0032) Image Position (Patient) and (0020,0037) Image Orientation
/// (Patient) unwrapped once, up front, so that no later stage force-unwraps an optional it
/// knows is there.
struct PositionedSlice {
    var header: DICOMHeader
    var position: Vector3
    /// The first three values of (0020,0037), as stored (not yet normalized).
    var rowDirection: Vector3
    /// The last three values of (0020,0037), as stored (not yet normalized).
    var columnDirection: Vector3

    /// Where the slice sits along the slice normal, in mm: the key slices are ordered by.
    func distance(along normal: Vector3) -> Double { position.dot(normal) }
}

/// The plane every slice of the series lies in, read from the first header: grouping already
/// split slices whose (0020,0037) Image Orientation (Patient) differs.
struct SlicePlane {
    /// Unit vector along a row (increasing column index).
    var row: Vector3
    /// Unit vector along a column (increasing row index).
    var column: Vector3
    /// Unit vector row × column: the axis slices are ordered along.
    var normal: Vector3
    /// (0028,0030) Pixel Spacing, or (0018,1164) Imager Pixel Spacing in its absence, in mm.
    var pixelSpacing: (row: Double, column: Double)
}

/// How the ordered slices are spread along the normal: the grid spacing and, per output slice,
/// where it comes from.
struct SliceSpacing {
    /// The median step between consecutive slices, in mm: the output slice spacing.
    var nominal: Double
    var sources: [SliceSource]
    /// How many output slices were interpolated to fill gaps.
    var filled: Int
}

public enum SliceStack {
    /// A tilt-angle denominator never below this (mm), so that `acos` stays defined even if the
    /// span between first and last slice were ever zero; real spans are many millimetres.
    static let minimumSpanLength = 1e-12
    /// Slices thinner than this fraction of their spacing leave tissue unimaged between them,
    /// which is worth a warning (contiguous or overlapping reconstructions are at or above 1).
    static let gapThicknessFraction = 0.5

    /// Orders the slices of a group by Image Position (Patient) projected on the slice normal
    /// (never by Instance Number), and checks duplicates, spacing, gaps and gantry tilt.
    public static func plan(_ group: [DICOMHeader]) -> Result<StackPlan, StackRefusal> {
        do throws(StackRefusal) {
            return .success(try makePlan(group))
        } catch {
            return .failure(error)
        }
    }

    /// The stages of `plan`, in order; the first refusal ends it.
    static func makePlan(_ group: [DICOMHeader]) throws(StackRefusal) -> StackPlan {
        guard !group.isEmpty else { throw StackRefusal(reason: "no images") }
        try checkHeaderValues(group)
        let positioned = try positionedSlices(group)
        // Every header was positioned, so positioned[0] is the group's first header.
        let plane = try slicePlane(of: positioned[0])
        let first = positioned[0].header
        var corrections: [String] = []
        var warnings: [String] = []

        let (slices, droppedCopies) = try removingDuplicates(
            ordered(positioned, along: plane.normal), along: plane.normal)
        if droppedCopies > 0 {
            corrections.append("\(droppedCopies) duplicate file(s) of the same SOP instance ignored")
        }

        var geometrySpacing = Vector3(plane.pixelSpacing.column, plane.pixelSpacing.row, 1)
        var sources: [SliceSource] = [.slice(0)]
        var tiltShifts: [(columns: Double, rows: Double)] = []
        if slices.count > 1 {
            let spacing = try sliceSpacing(slices.map { $0.distance(along: plane.normal) })
            geometrySpacing.z = spacing.nominal
            sources = spacing.sources
            if spacing.filled > 0 {
                corrections.append(
                    "\(spacing.filled) missing slice(s) filled by linear interpolation between their neighbours (spacing \(String(format: "%.3f", spacing.nominal)) mm)"
                )
            }
            tiltShifts = correctTilt(
                slices, plane: plane, nominal: spacing.nominal, outputCount: sources.count, header: first,
                corrections: &corrections, warnings: &warnings)
            if let thickness = first.sliceThickness, thickness > 0, thickness < spacing.nominal * gapThicknessFraction {
                warnings.append(
                    String(
                        format: "slices are %.2f mm thick but %.2f mm apart: the volume has gaps between slices",
                        thickness, spacing.nominal))
            }
        } else {
            geometrySpacing.z = try singleSliceSpacing(first.sliceThickness)
        }

        // After a tilt correction slice 0 is unchanged and later slices sit straight above it,
        // so the first slice's position is the origin either way.
        let geometry = Geometry(
            size: Size3(first.columns, first.rows, sources.count),
            spacing: geometrySpacing,
            origin: slices[0].position,
            direction: Matrix3(columns: plane.row, plane.column, plane.normal))
        let ordered = slices.map(\.header)
        if let warning = rescaleWarning(ordered) { warnings.append(warning) }
        if let warning = lossyWarning(ordered) { warnings.append(warning) }
        return StackPlan(
            slices: ordered, geometry: geometry, sources: sources, tiltShifts: tiltShifts,
            corrections: corrections, warnings: warnings)
    }

    /// Refuses the group when any image holds a rescale, position, orientation or pixel spacing
    /// that no scanner writes (`DICOMHeader.rescaleProblem`, `geometryProblem`), naming the first
    /// such value: nothing computed from it could be trusted, and some would trap converting to
    /// integers.
    static func checkHeaderValues(_ group: [DICOMHeader]) throws(StackRefusal) {
        let problems = group.compactMap { header in
            (header.rescaleProblem ?? header.geometryProblem).map { (header.path, $0) }
        }
        guard let (path, problem) = problems.first else { return }
        let name = URL(fileURLWithPath: path).lastPathComponent
        throw StackRefusal(
            reason:
                "\(problem) in \(name) (\(problems.count) of \(group.count) images with implausible values): the header is corrupt; refusing the series rather than computing from it"
        )
    }

    /// The slice spacing of a one-slice series: its (0018,0050) Slice Thickness, refused outside
    /// `VolumeLimits.voxelSpacingMM`; 1 mm when absent, as before. Unused for more slices.
    static func singleSliceSpacing(_ thickness: Double?) throws(StackRefusal) -> Double {
        guard let thickness else { return 1 }
        guard VolumeLimits.isPlausibleSpacing(thickness) else {
            throw StackRefusal(
                reason:
                    "(0018,0050) Slice Thickness is \(dsValues(thickness)) (must be \(voxelSpacingText) mm), and a single slice takes it as its spacing"
            )
        }
        return thickness
    }

    /// Pairs each header with its (0020,0032) Image Position (Patient), refusing the group when
    /// any image lacks it or (0020,0037) Image Orientation (Patient): such a slice has no place.
    static func positionedSlices(_ group: [DICOMHeader]) throws(StackRefusal) -> [PositionedSlice] {
        let positioned = group.compactMap { header -> PositionedSlice? in
            guard let position = header.imagePosition, let row = header.rowDirection,
                let column = header.columnDirection
            else { return nil }
            return PositionedSlice(header: header, position: position, rowDirection: row, columnDirection: column)
        }
        let missingGeometry = group.count - positioned.count
        guard missingGeometry == 0 else {
            throw StackRefusal(
                reason:
                    "\(missingGeometry) of \(group.count) images lack (0020,0032) Image Position or (0020,0037) Image Orientation (Patient): slices cannot be placed"
            )
        }
        return positioned
    }

    /// The slice plane from one slice, refusing directions that are not perpendicular and a
    /// missing or non-positive pixel spacing (the voxel size would be unknown).
    static func slicePlane(of slice: PositionedSlice) throws(StackRefusal) -> SlicePlane {
        let header = slice.header
        let row = slice.rowDirection.normalized
        let column = slice.columnDirection.normalized
        if abs(row.dot(column)) > SliceTolerance.orthogonality {
            throw StackRefusal(
                reason: "(0020,0037) Image Orientation (Patient) row and column directions are not perpendicular")
        }
        guard let spacing = header.pixelSpacing ?? header.imagerPixelSpacing, spacing.row > 0, spacing.column > 0 else {
            throw StackRefusal(reason: "no (0028,0030) Pixel Spacing: voxel size unknown")
        }
        return SlicePlane(row: row, column: column, normal: row.cross(column).normalized, pixelSpacing: spacing)
    }

    /// Orders along the normal; Instance Number (then path) only breaks exact ties, so that the
    /// order is the same on every run.
    static func ordered(_ slices: [PositionedSlice], along normal: Vector3) -> [PositionedSlice] {
        slices.sorted { a, b in
            let pa = a.distance(along: normal)
            let pb = b.distance(along: normal)
            if pa != pb { return pa < pb }
            return (a.header.instanceNumber ?? 0, a.header.path, a.header.frameIndex ?? 0)
                < (b.header.instanceNumber ?? 0, b.header.path, b.header.frameIndex ?? 0)
        }
    }

    /// Drops a second file of the same SOP instance at one position (a copy), and refuses two
    /// different instances at one position: nothing says which belongs to the volume.
    static func removingDuplicates(
        _ ordered: [PositionedSlice], along normal: Vector3
    ) throws(StackRefusal) -> (unique: [PositionedSlice], droppedCopies: Int) {
        var unique: [PositionedSlice] = []
        var droppedCopies = 0
        var conflicts: [Double] = []
        for slice in ordered {
            if let last = unique.last,
                abs(last.distance(along: normal) - slice.distance(along: normal)) < SliceTolerance.duplicatePosition
            {
                if last.header.imageKey == slice.header.imageKey && !slice.header.sopInstanceUID.isEmpty {
                    droppedCopies += 1
                } else {
                    conflicts.append(slice.distance(along: normal))
                }
                continue
            }
            unique.append(slice)
        }
        if !conflicts.isEmpty {
            let places = conflicts.prefix(3).map { String(format: "%.2f", $0) }.joined(separator: ", ")
            throw StackRefusal(
                reason:
                    "\(conflicts.count) positions hold two different images (at \(places) mm along the normal) and no acquisition or temporal number tells them apart: cannot tell which belongs to the volume"
            )
        }
        return (unique, droppedCopies)
    }

    /// Takes the median step as the spacing; a step that is a whole multiple of it is a gap of
    /// missing slices, filled by interpolation up to `SliceTolerance.maximumFilledGap`. Any other
    /// step refuses the series rather than guess a grid. `positions` has at least two entries.
    static func sliceSpacing(_ positions: [Double]) throws(StackRefusal) -> SliceSpacing {
        let steps = zip(positions.dropFirst(), positions).map { $0 - $1 }
        let nominal = median(steps)
        // Positions passed `VolumeLimits.isPlausiblePosition` and duplicates are gone, so the
        // steps are finite and at least `SliceTolerance.duplicatePosition`; a spacing beyond
        // the voxel spacing range is still no CT volume.
        guard VolumeLimits.isPlausibleSpacing(nominal) else {
            throw StackRefusal(
                reason:
                    "slices are \(dsValues(nominal)) mm apart along the normal (from (0020,0032) Image Position (Patient)); slice spacing must be \(voxelSpacingText) mm"
            )
        }
        let tolerance = SliceTolerance.relativeSpacing * nominal
        var missing = 0
        var sources: [SliceSource] = [.slice(0)]
        for (index, step) in steps.enumerated() {
            let multiple = (step / nominal).rounded()
            if abs(step - nominal) <= tolerance {
                sources.append(.slice(index + 1))
            } else if multiple >= 2, abs(step - multiple * nominal) <= tolerance {
                // Checked as a Double, so that only a small count is ever converted to Int.
                guard multiple - 1 <= Double(SliceTolerance.maximumFilledGap) else {
                    throw StackRefusal(
                        reason: String(
                            format:
                                "%.0f consecutive slices missing at %.2f mm (more than %d): refusing to invent that much anatomy",
                            multiple - 1, positions[index] + nominal, SliceTolerance.maximumFilledGap))
                }
                let gap = Int(multiple) - 1
                for g in 1...gap {
                    sources.append(.interpolated(lower: index, upper: index + 1, weight: Double(g) / multiple))
                }
                sources.append(.slice(index + 1))
                missing += gap
            } else {
                throw StackRefusal(
                    reason: String(
                        format:
                            "uneven slice spacing: steps from %.3f to %.3f mm (median %.3f mm) that are not whole multiples of one spacing; refusing rather than guessing a grid",
                        steps.min() ?? nominal, steps.max() ?? nominal, nominal))
            }
        }
        return SliceSpacing(nominal: nominal, sources: sources, filled: missing)
    }

    /// Gantry tilt shows as the line through the slice positions leaving the normal; when it
    /// does, returns per output slice the in-plane shift (in columns and rows) onto an orthogonal
    /// grid. A tilt that (0018,1120) Gantry/Detector Tilt claims but the positions do not show
    /// is only a warning, as the positions are what the voxels follow.
    static func correctTilt(
        _ slices: [PositionedSlice], plane: SlicePlane, nominal: Double, outputCount: Int, header: DICOMHeader,
        corrections: inout [String], warnings: inout [String]
    ) -> [(columns: Double, rows: Double)] {
        guard let firstSlice = slices.first, let lastSlice = slices.last else { return [] }
        let span = lastSlice.position - firstSlice.position
        let along = span.dot(plane.normal)
        let angle = acos(min(1, abs(along) / max(span.length, minimumSpanLength))) * 180 / .pi
        guard angle > SliceTolerance.tiltDegrees else {
            if let tilt = header.gantryTilt, abs(tilt) > SliceTolerance.tiltDegrees {
                warnings.append(
                    String(
                        format:
                            "(0018,1120) Gantry/Detector Tilt says %.2f° but slice positions show no tilt; positions used",
                        tilt))
            }
            return []
        }
        let inPlanePerMM = (1 / along) * (span - along * plane.normal)
        let shifts = (0..<outputCount).map { k in
            let shift = (Double(k) * nominal) * inPlanePerMM
            return (
                columns: shift.dot(plane.row) / plane.pixelSpacing.column,
                rows: shift.dot(plane.column) / plane.pixelSpacing.row
            )
        }
        corrections.append(
            String(
                format:
                    "gantry tilt of %.2f° corrected by shifting each slice in-plane (bilinear resampling) onto an orthogonal grid",
                angle))
        return shifts
    }

    /// (0028,1053) Rescale Slope and (0028,1052) Rescale Intercept that differ between slices are
    /// legal but unusual, so they are mentioned; loading applies each slice's own values.
    static func rescaleWarning(_ slices: [DICOMHeader]) -> String? {
        let slopes = Set(slices.map { $0.rescaleSlope ?? 1 })
        let intercepts = Set(slices.map { $0.rescaleIntercept ?? 0 })
        guard slopes.count > 1 || intercepts.count > 1 else { return nil }
        return "rescale slope/intercept vary between slices; each slice is rescaled with its own values"
    }

    /// Images stored with lossy compression ((0028,2110) Lossy Image Compression "01", or a lossy
    /// transfer syntax) hold HU that differ from what the scanner measured: densities and
    /// thresholds (the −950 HU emphysema band above all) are approximate, which is worth saying.
    static func lossyWarning(_ slices: [DICOMHeader]) -> String? {
        let lossy = slices.filter { $0.lossyCompressionFlag || TransferSyntax.lossy.contains($0.transferSyntaxUID) }
        guard let first = lossy.first else { return nil }
        let why = first.lossyCompressionFlag ? "(0028,2110) Lossy Image Compression is 01" : first.transferSyntaxName
        return
            "\(lossy.count) of \(slices.count) images are lossy-compressed (\(why)): HU differ from what the scanner measured, so densities and band fractions are approximate"
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}
