import Radiograph

/// How lungct prepares an image for its networks, in training, evaluation and analysis alike:
/// gray, normalised to 0...1 between the image's 0.5th and 99.5th percentiles
/// (`RadiographNormalization`), resized to size×size by area averaging (bilinear when
/// enlarging), aspect ratio not kept (the images are already cropped to the thorax). A model
/// file records this as its input normalisation; a model that asks for another is refused.
public enum ModelInputPreparation {
    /// The name a model file's input specification gives this preparation.
    public static let normalization = "percentile 0.5-99.5 to 0...1, area-average resize"

    /// The positive class of a task: "covid" when present (and not "noncovid"), else the second class.
    public static func positiveClass(_ classes: [String]) -> Int {
        classes.firstIndex { $0.lowercased().contains("covid") && !$0.lowercased().contains("non") } ?? 1
    }

    /// Area-average (box) resampling to size×size; bilinear where the source is smaller.
    public static func resize(_ source: [Float], width: Int, height: Int, to size: Int) -> [Float] {
        var output = [Float](repeating: 0, count: size * size)
        let sx = Double(width) / Double(size)
        let sy = Double(height) / Double(size)
        for y in 0..<size {
            for x in 0..<size {
                if sx >= 1 && sy >= 1 {
                    let x0 = Int(Double(x) * sx)
                    let x1 = max(x0 + 1, Int(Double(x + 1) * sx))
                    let y0 = Int(Double(y) * sy)
                    let y1 = max(y0 + 1, Int(Double(y + 1) * sy))
                    var sum: Float = 0
                    for yy in y0..<min(y1, height) { for xx in x0..<min(x1, width) { sum += source[yy * width + xx] } }
                    output[y * size + x] = sum / Float((min(y1, height) - y0) * (min(x1, width) - x0))
                } else {
                    let fx = max(0, min(Double(width - 1), (Double(x) + 0.5) * sx - 0.5))
                    let fy = max(0, min(Double(height - 1), (Double(y) + 0.5) * sy - 0.5))
                    let (ix, iy) = (Int(fx), Int(fy))
                    let (ax, ay) = (Float(fx - Double(ix)), Float(fy - Double(iy)))
                    let (jx, jy) = (min(ix + 1, width - 1), min(iy + 1, height - 1))
                    output[y * size + x] =
                        (1 - ay) * ((1 - ax) * source[iy * width + ix] + ax * source[iy * width + jx])
                        + ay * ((1 - ax) * source[jy * width + ix] + ax * source[jy * width + jx])
                }
            }
        }
        return output
    }
}
