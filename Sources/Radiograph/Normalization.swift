import VolumeCore

/// How a radiograph's gray values are brought to 0...1 for display and for a network: there
/// are no Hounsfield units on a radiograph, so the scale comes from the image itself.
public struct NormalizedRadiograph: Sendable {
    /// 0 (black) ... 1 (white), same grid as the source.
    public var volume: Volume<Float>
    /// The value mapped to 0 and the value mapped to 1, in the image's own scale.
    public var low: Double
    public var high: Double
    /// "window" when the DICOM's (0028,1050)/(0028,1051) were used, "voi-lut" when the image
    /// was rendered through its (0028,3010) VOI LUT, else "percentiles".
    public var method: String

    public var description: String {
        switch method {
        case "window": "radiograph normalised to 0...1 with its DICOM window (\(low)...\(high))"
        case "voi-lut": "radiograph normalised to 0...1 as rendered through its DICOM VOI LUT"
        default: "radiograph normalised to 0...1 between its 0.5th and 99.5th percentiles (\(low)...\(high))"
        }
    }
}

public enum RadiographNormalization {
    /// Percentiles used when the image carries no window: 0.5 % and 99.5 % ignore burned-in
    /// labels, collimator edges and dead pixels at either end, as torchxrayvision-style
    /// pipelines and most viewers' auto-window do with some small tail.
    public static let lowerPercentile = 0.005
    public static let upperPercentile = 0.995

    /// The radiograph mapped linearly to 0...1 (clipped): through its DICOM window when it has
    /// one, else between its own 0.5th and 99.5th percentiles.
    public static func normalize(_ image: RadiographImage) -> NormalizedRadiograph {
        var low: Double
        var high: Double
        let method: String
        if image.voiLUTApplied {
            // The LUT already maps the image to its display range: all of it is 0...1.
            (low, high) = (0, image.fullScale)
            method = "voi-lut"
        } else if let window = image.window, window.width > 1 {
            low = window.center - window.width / 2
            high = window.center + window.width / 2
            method = "window"
        } else {
            guard let range = percentileRange(image.volume.voxels) else {
                return NormalizedRadiograph(volume: image.volume, low: 0, high: 1, method: "percentiles")
            }
            (low, high) = range
            method = "percentiles"
        }
        if high <= low { high = low + 1 }
        let scale = 1 / (high - low)
        let normalized = image.volume.map { Float(min(1, max(0, (Double($0) - low) * scale))) }
        return NormalizedRadiograph(volume: normalized, low: low, high: high, method: method)
    }

    /// The 0.5th and 99.5th percentiles of `values` (nil when empty).
    public static func percentileRange(_ values: [Float]) -> (low: Double, high: Double)? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        return (
            Double(sorted[Int(lowerPercentile * Double(sorted.count - 1))]),
            Double(sorted[Int(upperPercentile * Double(sorted.count - 1))])
        )
    }

    /// `values` mapped linearly to 0...1 (clipped) between their own percentiles: what
    /// `normalize` does to a picture without a window, for pixels that are not a radiograph
    /// (a windowed CT slice, so that it looks to a model as its training images did).
    public static func normalizeByPercentiles(_ values: [Float]) -> [Float] {
        guard let (low, high) = percentileRange(values) else { return values }
        let scale = Float(1 / (high > low ? high - low : 1))
        return values.map { min(1, max(0, ($0 - Float(low)) * scale)) }
    }
}
