/// Ranges of voxel spacing and position that a volume read from a file must fall in before
/// lungct computes with them. Segmentation kernels and the overview picture turn millimetres into
/// voxel counts (mm / spacing) and positions into indices, so a spacing of 1e-30 mm or a position
/// of 1e30 mm from a corrupt header would overflow those conversions; readers refuse such values
/// by name instead.
extension VolumeLimits {
    /// Voxel spacing on any axis, in mm. Micro-CT reaches 0.01 mm; clinical CT uses about 0.2–1 mm
    /// in-plane and 0.5–10 mm between slices; at 100 mm a 512-pixel row would be 51 m long.
    public static let voxelSpacingMM: ClosedRange<Double> = 0.01...100

    /// The largest magnitude of a patient-space coordinate, in mm: 1 km. Scanners place voxels
    /// within a metre or two of the isocentre; the bound keeps every distance between two
    /// positions, divided by the smallest spacing, far inside any integer type.
    public static let maximumCoordinateMM = 1e6

    /// Whether `value` is a usable voxel spacing in mm (false for NaN and infinities).
    public static func isPlausibleSpacing(_ value: Double) -> Bool { voxelSpacingMM.contains(value) }

    /// Whether every coordinate of `point` is finite and within `maximumCoordinateMM`.
    public static func isPlausiblePosition(_ point: Vector3) -> Bool {
        [point.x, point.y, point.z].allSatisfy { $0.isFinite && abs($0) <= maximumCoordinateMM }
    }
}
