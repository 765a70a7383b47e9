import Foundation
import VolumeCore

/// Bounds on (0028,1053) Rescale Slope and (0028,1052) Rescale Intercept (PS3.3 C.11.1.1.2),
/// chosen so that HU = stored × slope + intercept of every stored value (at most 16 bits, so
/// |stored| ≤ 65535) stays within ±(65535 × 100 + 1e5) ≈ ±6.7e6: no Int32 product in the int16
/// loader can wrap, and every whole HU is exact in float32 (below 2^24), the type values beyond
/// int16 are loaded as.
public enum RescaleLimits {
    /// The largest |slope|, in HU per stored unit. CT writes 1, occasionally a fraction or a small
    /// whole number; at 100 HU per unit, lung and air would differ by a step or two.
    public static let maximumSlope = 100.0
    /// The largest |intercept|, in HU. CT writes −1024, −1000, −8192 or −32768; 1e5 is three
    /// times the largest of these.
    public static let maximumIntercept = 1e5
}

/// The most one deflated DICOM object ((0002,0010) 1.2.840.10008.1.2.1.99 Deflated Explicit VR
/// Little Endian, PS3.5 A.5) may inflate to. A deflated data set cannot be read lazily: DCMTK
/// inflates all of it, Pixel Data included, while reading even the header, and deflate expands up
/// to 1032:1, so a 4.2 MB file can cost 4 GB. The inflated size is therefore counted (in
/// constant memory) before DCMTK parses the file, and a larger one is refused as `.tooLarge`.
///
/// 512 MiB: the largest image lungct reads is a single-frame radiograph of at most 10 000 pixels
/// a side (`RadiographLimits.maximumSide`): 191 MiB as 16-bit gray, 286 MiB as 8-bit RGB; a CT
/// slice is at most 8 MiB (2048² × 16 bits). Multi-frame objects, the only ones that need more,
/// are not read anyway. The limit also bounds the header scan: each file read at once holds at
/// most this much. Counting a refused file's first 512 MiB takes about half a second.
///
/// No ratio check beside it: deflate itself bounds the ratio (1032:1), and a tighter one would
/// refuse honest files (a blank or padded image compresses past 500:1) while saving only that
/// half second.
public enum DeflateLimits {
    /// Bytes a deflated data set may inflate to: 512 MiB.
    public static let maximumInflatedBytes: UInt64 = 512 << 20
}

/// (0028,1053) Rescale Slope and (0028,1052) Rescale Intercept of one image, checked against
/// `RescaleLimits` before any HU is computed (missing values are the identity, slope 1 and
/// intercept 0, as PS3.3 C.11.1.1.2 allows for CT).
struct Rescale {
    let slope: Double
    let intercept: Double

    /// Throws a `DICOMError` naming the tag and the value when the header's rescale is outside
    /// `RescaleLimits`.
    init(_ header: DICOMHeader) throws(DICOMError) {
        if let problem = header.rescaleProblem {
            throw DICOMError(
                .implausibleValue, path: header.path,
                message: "\(header.path): \(problem); the header is corrupt, so no HU are computed from it")
        }
        slope = header.rescaleSlope ?? 1
        intercept = header.rescaleIntercept ?? 0
    }

    /// Whether both are whole numbers, so HU can be computed in integers.
    var isIntegral: Bool { slope == slope.rounded() && intercept == intercept.rounded() }
}

extension DICOMHeader {
    /// Why (0028,1053) Rescale Slope or (0028,1052) Rescale Intercept cannot turn this image's
    /// stored values into HU (outside `RescaleLimits`), naming the tag and the value; nil when
    /// they can or are absent.
    public var rescaleProblem: String? {
        if let slope = rescaleSlope, !(slope != 0 && abs(slope) <= RescaleLimits.maximumSlope) {
            return
                "(0028,1053) Rescale Slope is \(dsValues(slope)) (must be nonzero and at most \(dsValues(RescaleLimits.maximumSlope)) in magnitude)"
        }
        if let intercept = rescaleIntercept, !(abs(intercept) <= RescaleLimits.maximumIntercept) {
            return
                "(0028,1052) Rescale Intercept is \(dsValues(intercept)) (must be within ±\(dsValues(RescaleLimits.maximumIntercept)) HU)"
        }
        return nil
    }

    /// Why (0020,0032) Image Position (Patient), (0020,0037) Image Orientation (Patient) or the
    /// pixel spacing ((0028,0030), else (0018,1164) Imager Pixel Spacing) cannot place this image,
    /// naming the tag and the value; nil when they can or are absent. Ranges: `VolumeLimits`.
    public var geometryProblem: String? {
        if let position = imagePosition, !VolumeLimits.isPlausiblePosition(position) {
            return
                "(0020,0032) Image Position (Patient) is \(dsValues(position.x, position.y, position.z)) (each coordinate must be within ±\(dsValues(VolumeLimits.maximumCoordinateMM)) mm)"
        }
        if let row = rowDirection, let column = columnDirection,
            ![row, column].allSatisfy({ SliceTolerance.directionLength.contains($0.length) })
        {
            return
                "(0020,0037) Image Orientation (Patient) is \(dsValues(row.x, row.y, row.z, column.x, column.y, column.z)) (two unit vectors expected)"
        }
        if let used = spacingInUse,
            !VolumeLimits.isPlausibleSpacing(used.value.row) || !VolumeLimits.isPlausibleSpacing(used.value.column)
        {
            return "\(used.tag) is \(dsValues(used.value.row, used.value.column)) (must be \(voxelSpacingText) mm)"
        }
        return nil
    }

    /// The in-plane spacing slices are placed with, and its tag: (0028,0030) Pixel Spacing, else
    /// (0018,1164) Imager Pixel Spacing.
    var spacingInUse: (tag: String, value: (row: Double, column: Double))? {
        if let pixelSpacing { return ("(0028,0030) Pixel Spacing", pixelSpacing) }
        if let imagerPixelSpacing { return ("(0018,1164) Imager Pixel Spacing", imagerPixelSpacing) }
        return nil
    }
}

/// `VolumeLimits.voxelSpacingMM` in words.
let voxelSpacingText =
    "\(dsValues(VolumeLimits.voxelSpacingMM.lowerBound)) to \(dsValues(VolumeLimits.voxelSpacingMM.upperBound))"

/// Values of a DS as a message shows them, separated by backslashes as DICOM writes them:
/// "-190\nan\1e+30". Ten significant digits hide DCMTK's parsing noise (1e-30 reads back as
/// 9.999999999999999e-31) and still show a position to 0.01 mm anywhere within ±1e6 mm.
func dsValues(_ numbers: Double...) -> String {
    numbers.map { String(format: "%.10g", $0) }.joined(separator: "\\")
}
