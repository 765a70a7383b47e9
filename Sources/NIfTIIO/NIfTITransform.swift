internal import CNIfTI
import VolumeCore

// Which of a NIfTI header's voxel-to-patient transforms lungct trusts: the first usable one in
// the order nifti1.h gives ("Method 3" sform, "Method 2" qform, "Method 1" pixdim alone).

extension NIfTI {
    /// The smallest absolute determinant of a transform's normalised columns: 1 for orthogonal
    /// voxel axes, about 0.7 for a 45° shear (gantry tilt stays far above); below it the axes
    /// are taken as parallel, and patient positions could not be mapped back to voxels.
    static let minimumAxisIndependence = 1e-3

    /// The geometry from the first transform that can be trusted, with a warning for each
    /// transform set aside (NaN or infinite values, a zero column, parallel axes; a qform without
    /// a positive, finite pixdim, which nifticlib would read as 1 mm) and, when pixdim alone is
    /// left, one saying that the spacing comes from pixdim and the orientation is unknown.
    /// Refused: nothing usable and no pixdim spacing (no length or volume could be measured),
    /// and a transform whose spacing or position is outside `VolumeLimits` (segmentation and
    /// the overview turn millimetres into voxel counts and would overflow).
    static func chooseGeometry(_ raw: lct_nifti_header, size: Size3, path: String) throws(NIfTIError)
        -> (geometry: Geometry, transform: String, warnings: [String])
    {
        let pixdim = withUnsafeBytes(of: raw.pixdim) { Array($0.bindMemory(to: Double.self)) }
        let spacing = pixdim[1...3].map { $0 * spatialUnitMillimetres(raw.xyz_units) }
        let pixdimText = "pixdim[1...3] = " + spacing.map(number).joined(separator: ", ")
        let pixdimIsSpacing = spacing.allSatisfy { $0.isFinite && $0 > 0 }
        var warnings: [String] = []
        let unit = spatialUnit(raw.xyz_units, warnings: &warnings)
        if raw.sform_code > 0 {
            let affine = scaled(matrix(raw.sto_xyz), by: unit)
            if let problem = affineProblem(affine) {
                warnings.append("the sform (code \(raw.sform_code)) \(problem): set aside")
            } else {
                return (try plausible(Geometry(size: size, affineRAS: affine), "the sform", path), "sform", warnings)
            }
        }
        if raw.qform_code > 0 {
            let parameters = withUnsafeBytes(of: (raw.quatern, raw.qoffset)) { Array($0.bindMemory(to: Double.self)) }
            let affine = scaled(matrix(raw.qto_xyz), by: unit)
            let problem =
                !parameters.allSatisfy(\.isFinite)
                ? "holds NaN or infinite quaternion or offset values"
                : !pixdimIsSpacing ? "has no voxel size (\(pixdimText))" : affineProblem(affine)
            if let problem {
                warnings.append("the qform (code \(raw.qform_code)) \(problem): set aside")
            } else {
                return (try plausible(Geometry(size: size, affineRAS: affine), "the qform", path), "qform", warnings)
            }
        }
        let absent = warnings.isEmpty ? "no sform or qform" : "no usable sform or qform"
        guard pixdimIsSpacing else {
            throw NIfTIError(
                path: path,
                message:
                    "\(path): \(([absent] + warnings).joined(separator: "; ")), and \(pixdimText) is no voxel "
                    + "size: lengths and volumes cannot be measured; the header is damaged")
        }
        warnings.append(
            "\(absent): voxel spacing taken from pixdim (\(spacing.map(number).joined(separator: " × ")) mm), orientation unknown (voxel axes taken as R, A, S)"
        )
        let diagonal = (0..<4).map { row in (0..<4).map { row == $0 ? (row < 3 ? spacing[row] : 1) : 0 } }
        return (try plausible(Geometry(size: size, affineRAS: diagonal), "pixdim", path), "pixdim", warnings)
    }

    /// Millimetres per header unit from xyz_units' space bits (nifti1.h `XYZT_TO_SPACE`):
    /// metres and micrometres are converted as ITK and nibabel do; no unit (code 0, what some
    /// writers leave) and codes nifti1.h does not define are taken as millimetres.
    static func spatialUnitMillimetres(_ xyzUnits: Int32) -> Double {
        switch xyzUnits & 0x07 {
        case Int32(LCT_NII_UNITS_METER): 1000
        case Int32(LCT_NII_UNITS_MICRON): 0.001
        default: 1
        }
    }

    /// `spatialUnitMillimetres`, with a warning when the header's unit is not millimetres: a
    /// conversion is said, an assumption is said (volumes in mL depend on it).
    static func spatialUnit(_ xyzUnits: Int32, warnings: inout [String]) -> Double {
        let code = xyzUnits & 0x07
        switch code {
        case Int32(LCT_NII_UNITS_MM): break
        case Int32(LCT_NII_UNITS_METER):
            warnings.append("the header's spatial unit is metres (xyz_units): converted to mm")
        case Int32(LCT_NII_UNITS_MICRON):
            warnings.append("the header's spatial unit is micrometres (xyz_units): converted to mm")
        case Int32(LCT_NII_UNITS_UNKNOWN):
            warnings.append("the header gives no spatial unit (xyz_units 0): millimetres assumed")
        default: warnings.append("the header's spatial unit code \(code) is not defined by NIfTI: millimetres assumed")
        }
        return spatialUnitMillimetres(xyzUnits)
    }

    /// A 4×4 affine whose millimetre rows (the first three: axes and offset) are multiplied by
    /// `factor`.
    static func scaled(_ affine: [[Double]], by factor: Double) -> [[Double]] {
        factor == 1 ? affine : affine.enumerated().map { row, values in row < 3 ? values.map { $0 * factor } : values }
    }

    /// Why a 4×4 RAS affine cannot be used, or nil. Lengths beyond Double are left to
    /// `plausible`, which refuses them with the rest of the absurd spacings.
    static func affineProblem(_ affine: [[Double]]) -> String? {
        guard affine.prefix(3).allSatisfy({ $0.allSatisfy(\.isFinite) }) else { return "holds NaN or infinite values" }
        let columns = (0..<3).map { Vector3(affine[0][$0], affine[1][$0], affine[2][$0]) }
        if let axis = columns.firstIndex(where: { $0.length == 0 }) {
            return "has a zero column (voxel axis \(["i", "j", "k"][axis]) has no length)"
        }
        guard columns.allSatisfy({ $0.length.isFinite }) else { return nil }
        let directions = Matrix3(columns: columns[0].normalized, columns[1].normalized, columns[2].normalized)
        return abs(directions.determinant) < minimumAxisIndependence ? "has parallel voxel axes" : nil
    }

    /// `geometry` when its spacing and origin are within `VolumeLimits`; a damaged header otherwise.
    static func plausible(_ geometry: Geometry, _ source: String, _ path: String) throws(NIfTIError) -> Geometry {
        let limits = VolumeLimits.voxelSpacingMM
        for axis in 0..<3 where !VolumeLimits.isPlausibleSpacing(geometry.spacing[axis]) {
            throw NIfTIError(
                path: path,
                message:
                    "\(path): \(source) gives a voxel spacing of \(number(geometry.spacing[axis])) mm along voxel axis "
                    + "\(["i", "j", "k"][axis]) (lungct accepts \(number(limits.lowerBound)) to \(number(limits.upperBound)) mm); the "
                    + "header is damaged")
        }
        guard VolumeLimits.isPlausiblePosition(geometry.origin) else {
            let o = geometry.origin
            throw NIfTIError(
                path: path,
                message:
                    "\(path): \(source) puts the first voxel at (\(number(o.x)), \(number(o.y)), \(number(o.z))) mm, more "
                    + "than \(number(VolumeLimits.maximumCoordinateMM)) mm from the scanner's origin; the header is damaged"
            )
        }
        return geometry
    }
}
