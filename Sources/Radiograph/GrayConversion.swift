import Foundation

/// How much colour an image with colour channels holds, counted while converting it to gray.
struct ColourAnalysis {
    var pixelCount = 0
    /// 3 or 4 channels (RGB, RGBA, or an expanded palette).
    var hasColourChannels = false
    var hasAlpha = false
    /// Pixels whose alpha is below full scale.
    var translucentCount = 0
    /// Pixels whose channels differ by more than `GrayConversion.grayTolerance`.
    var tintedCount = 0
    /// Pixels whose channels differ by at least `GrayConversion.strongChroma`.
    var stronglyColouredCount = 0
    /// The largest difference between the channels of one pixel, in sample units.
    var maximumChroma = 0.0
}

/// How an image with colour channels was stored, for the findings' wording.
enum ColourStorage {
    case rgb, rgba, palette

    var name: String {
        switch self {
        case .rgb: "RGB"
        case .rgba: "RGBA"
        case .palette: "a PNG palette"
        }
    }
}

/// Turns interleaved gray, gray+alpha, RGB or RGBA samples into one gray plane and measures
/// how much colour was thrown away.
enum GrayConversion {
    /// ITU-R BT.601 luma weights (Rec. ITU-R BT.601-7, section 2.5.1: E'Y = 0.299 E'R +
    /// 0.587 E'G + 0.114 E'B). libjpeg's YCbCr conversion and most viewers use them, so the
    /// gray lungct analyses matches what a viewer shows.
    static let redWeight = 0.299
    static let greenWeight = 0.587
    static let blueWeight = 0.114

    /// A pixel counts as gray when its channels differ by at most 4 % of full scale (10 of
    /// 255 levels). Gray pictures saved as colour JPEG come back with channel differences of
    /// a few levels from chroma rounding (at most 11 of 255, on a handful of pixels, in
    /// the shared chest-radiograph set), which is no colour anyone can see.
    static let grayTolerance = 0.04
    /// A pixel is strongly coloured when its channels differ by at least a quarter of full
    /// scale (64 of 255): far above compression noise, and what red, green or yellow
    /// annotation marks and arrows have.
    static let strongChroma = 0.25
    /// Burned-in colour covers at most 5 % of the picture: arrows, text, rulers and markers
    /// are thin; more than that is a colour picture (a heat map or a photograph).
    static let burnedInMaximumFraction = 0.05
    /// More than 10 % tinted pixels makes a colour picture even without strong colour (a
    /// sepia or tinted print). Below it, tinted pixels are the halo that JPEG's chroma
    /// subsampling spreads around coloured marks.
    static let colourImageTintedFraction = 0.10

    /// Gray values (as Float, in the samples' own scale) and the colour analysis.
    /// `channels` is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); `fullScale` is the
    /// largest sample value the bit depth allows.
    static func convert<Sample: BinaryInteger>(
        _ samples: UnsafeBufferPointer<Sample>, channels: Int, fullScale: Double
    ) -> (gray: [Float], analysis: ColourAnalysis) {
        precondition(channels >= 1 && channels <= 4 && samples.count % channels == 0, "bad channel layout")
        let count = samples.count / channels
        var analysis = ColourAnalysis()
        analysis.pixelCount = count
        analysis.hasColourChannels = channels >= 3
        analysis.hasAlpha = channels == 2 || channels == 4
        let tolerance = grayTolerance * fullScale
        let strong = strongChroma * fullScale
        let alphaChannel = channels == 2 ? 1 : 3
        let gray = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for pixel in 0..<count {
                let base = pixel * channels
                var value = Double(samples[base])
                if channels >= 3 {
                    let red = value
                    let green = Double(samples[base + 1])
                    let blue = Double(samples[base + 2])
                    let chroma = max(red, green, blue) - min(red, green, blue)
                    if chroma > 0 {
                        // Equal channels keep their value exactly; only real colour is weighted.
                        value = redWeight * red + greenWeight * green + blueWeight * blue
                        analysis.maximumChroma = max(analysis.maximumChroma, chroma)
                        if chroma > tolerance { analysis.tintedCount += 1 }
                        if chroma >= strong { analysis.stronglyColouredCount += 1 }
                    }
                }
                if analysis.hasAlpha, Double(samples[base + alphaChannel]) < fullScale {
                    analysis.translucentCount += 1
                }
                buffer[pixel] = Float(value)
            }
            initialized = count
        }
        return (gray, analysis)
    }

    /// The findings an analysis calls for. A palette image that turns out gray gets no
    /// `rgb-but-gray`: the `palette` finding already says it was converted.
    static func findings(_ a: ColourAnalysis, storage: ColourStorage, fullScale: Double) -> [QualityFinding] {
        var findings: [QualityFinding] = []
        if a.hasAlpha {
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.alphaIgnored,
                    message:
                        "The image has an alpha (transparency) channel; lungct ignored it and used the gray values as stored (\(percent(a.translucentCount, of: a.pixelCount)) of pixels are not fully opaque)."
                ))
        }
        guard a.hasColourChannels, a.pixelCount > 0 else { return findings }
        let tinted = Double(a.tintedCount) / Double(a.pixelCount)
        let strong = Double(a.stronglyColouredCount) / Double(a.pixelCount)
        if tinted > colourImageTintedFraction || strong > burnedInMaximumFraction {
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.colourImage,
                    message:
                        "The image is stored as \(storage.name) and holds real colour (\(percent(a.tintedCount, of: a.pixelCount)) of pixels are visibly coloured); lungct converted it to gray with ITU-R BT.601 luma weights. A radiograph has no colour: check that this is not a photograph, a figure or a colour overlay."
                ))
        } else if a.stronglyColouredCount > 0 {
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.burnedInColour,
                    message:
                        "\(percent(a.stronglyColouredCount, of: a.pixelCount)) of the pixels are strongly coloured in an otherwise gray picture stored as \(storage.name), probably annotations or markers burned into the image; they were converted to gray with the rest and can disturb the lung mask and the model's score."
                ))
        } else if storage != .palette {
            let how =
                a.maximumChroma == 0
                ? "every pixel has equal channels"
                : "every pixel's channels lie within \(Int(a.maximumChroma)) of \(Int(fullScale)) levels of each other, which is compression noise or a faint tint"
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.rgbButGray,
                    message:
                        "The image is stored as \(storage.name) but is gray: \(how). lungct converted it to one gray channel."
                ))
        }
        return findings
    }

    /// "0.13%": a share of pixels, with enough digits that a few pixels do not read as 0.
    static func percent(_ part: Int, of whole: Int) -> String {
        guard whole > 0 else { return "0%" }
        let value = 100 * Double(part) / Double(whole)
        if value == 0 { return "0%" }
        return value >= 10
            ? String(format: "%.0f%%", value) : value >= 0.01 ? String(format: "%.2f%%", value) : "<0.01%"
    }
}
