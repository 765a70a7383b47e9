import VolumeCore

/// A chest radiograph as lungct analyses it: one gray plane in the image's own scale, what is
/// known about its pixel size, and what looked wrong with the file.
///
/// A radiograph is a projection: it has no position in patient space. Its volume therefore has
/// origin 0 and the identity direction; index i runs along a row (left to right as displayed)
/// and j down the rows. The geometry's patient-axis letters ("LPS") mean nothing for it; only
/// the spacing does, and only when `pixelSpacingKnown`.
public struct RadiographImage: Sendable {
    /// A single-slice volume (columns × rows × 1) of gray values in the image's own scale:
    /// 0...255 for 8-bit files, 0...65535 for 16-bit PNG, stored values for DICOM (after
    /// MONOCHROME1 inversion, so that higher is always brighter). Spacing is (column, row, 1) mm.
    public var volume: Volume<Float>
    /// Bits per gray value: 8 or 16 for PNG, 8 for JPEG, (0028,0101) Bits Stored for DICOM.
    public var bitDepth: Int
    /// The file format: "png", "jpeg" or "dicom".
    public var source: String
    /// False when no pixel size was recorded and lungct assumed 1 mm (see the `missing-spacing` finding).
    public var pixelSpacingKnown: Bool
    /// What looked wrong or unusual, in the order found.
    public var findings: [QualityFinding]
    /// (0028,1050) Window Center and (0028,1051) Window Width, first values, converted to the
    /// scale of `volume` (stored values, inverted for MONOCHROME1). Nil when absent or not DICOM.
    public var window: (center: Double, width: Double)?
    /// True when `volume` holds the image as rendered through its DICOM VOI LUT (0 black ...
    /// 65535 white, `bitDepth` 16): its whole range is then the display range.
    public var voiLUTApplied = false

    public init(
        volume: Volume<Float>, bitDepth: Int, source: String, pixelSpacingKnown: Bool,
        findings: [QualityFinding], window: (center: Double, width: Double)? = nil
    ) {
        self.volume = volume
        self.bitDepth = bitDepth
        self.source = source
        self.pixelSpacingKnown = pixelSpacingKnown
        self.findings = findings
        self.window = window
    }

    /// The brightest value the bit depth allows (255, 4095, 65535, ...).
    public var fullScale: Double { Double((1 << bitDepth) - 1) }

    /// True when a finding with this code was reported.
    public func has(_ code: String) -> Bool { findings.contains { $0.code == code } }
}

/// Something about an input image that a user should know before trusting the result.
/// `code` is stable (scripts and the batch summary match on it); `message` is a sentence.
public struct QualityFinding: Sendable, Codable, Hashable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// The codes lungct reports for radiographs.
    public enum Code {
        /// JPEG file, or DICOM with a lossy transfer syntax or (0028,2110) Lossy Image Compression "01".
        public static let lossyCompression = "lossy-compression"
        /// Stored as RGB and holding real colour.
        public static let colourImage = "colour-image"
        /// Stored as RGB or RGBA, but every pixel is gray; converted to one channel.
        public static let rgbButGray = "rgb-but-gray"
        /// A gray picture with a small fraction of strongly coloured pixels (annotations, markers).
        public static let burnedInColour = "burned-in-colour"
        /// No pixel size recorded; 1 mm assumed.
        public static let missingSpacing = "missing-spacing"
        /// The shorter side is below `RadiographLimits.smallSide`.
        public static let smallImage = "small-image"
        /// The JPEG decoder reported corrupt data (for example a truncated file).
        public static let corruptData = "corrupt-data"
        /// DICOM MONOCHROME1 inverted so that higher values are brighter.
        public static let monochrome1Inverted = "monochrome1-inverted"
        /// DICOM with a (0028,3010) VOI LUT Sequence and no window: shown through the LUT.
        public static let voiLUTApplied = "voi-lut-applied"
        /// DICOM with a (0028,3010) VOI LUT Sequence that could not be applied.
        public static let voiLUTUnusable = "voi-lut-unusable"
        /// PNG palette (indexed colour) image.
        public static let palette = "palette"
        /// The image had an alpha channel, which lungct ignores.
        public static let alphaIgnored = "alpha-ignored"
    }
}

/// Sizes that decide whether an image is refused or reported.
public enum RadiographLimits {
    /// Images whose shorter side is below this are refused: 32 px cannot show a lung field
    /// (an icon or thumbnail, or a corrupt header), and the network's input is far larger.
    public static let minimumSide = 32
    /// Images whose shorter side is below this get the `small-image` finding: chest-radiograph
    /// networks take inputs of 224–512 px, so a smaller image must be upsampled, and fine
    /// texture such as ground-glass opacity is already lost at that size.
    public static let smallSide = 256
    /// Images with a side above this are refused before anything is decoded: the largest chest
    /// detectors are 43 cm at 0.1 mm (4300 px) and a film scanned at 0.05 mm is 8600 px, while
    /// a 249 KB PNG can claim 16000×16000 and cost gigabytes to decode.
    public static let maximumSide = 10_000
}
