// The resampling grid a volumetric model is trained and applied on: stored in its description,
// so that analysis prepares its input exactly as training did (ModelRuntime's `LesionGrid`
// builds the grid from it).

/// The lesion model's grid: pixel size, plane step, context planes, margin and window.
public struct LesionGridSpec: Sendable, Codable, Equatable {
    /// In-plane pixel size: 1.5 mm keeps a 5 mm ground-glass focus over 3 pixels and a 330 mm
    /// chest at about 220 pixels, which keeps a 300-slice study within the time budget.
    public var pixelMM = 1.5
    /// Distance between planes: 2.5 mm, between the 1–2 mm of thin-slice and the 5 mm of
    /// thick-slice chest CT.
    public var sliceStepMM = 2.5
    /// Planes on each side of the one segmented (channels = 2 · contextSlices + 1).
    public var contextSlices = 1
    /// Grown around the lungs' bounding box on each side, so that the pleura and subpleural
    /// lesions lie inside the crop.
    public var marginMM = 8.0
    /// The window the planes are shown in (the lung window, HU), mapped to 0...1 and clamped.
    public var windowLowHU = -1350.0
    public var windowHighHU = 150.0
    /// HU outside the scanned field (and outside the volume): air.
    public static let outsideHU: Float = -1024

    public init() {}

    public var channels: Int { 2 * contextSlices + 1 }
}
