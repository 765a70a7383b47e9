import NeuralEngine

/// Reading a fully convolutional classifier's per-location logits (the network without its
/// final global average pooling): the image's class probabilities and a class-activation map.
public enum ClassActivation {
    /// The image's logits: the mean of its per-location logits (what global pooling computes).
    public static func imageLogits(_ maps: Tensor, image: Int, classes: Int) -> [Float] {
        let locations = maps.shape[2] * maps.shape[3]
        return (0..<classes).map { c in
            let start = (image * classes + c) * locations
            return maps.storage[start..<(start + locations)].reduce(0, +) / Float(locations)
        }
    }

    /// The image's calibrated positive-class probability and the per-location one (softmax of
    /// the location's logits divided by the same temperature).
    public static func locationProbabilities(
        _ maps: Tensor, image: Int, classes: Int, positive: Int, temperature: Float
    ) -> (Double, [Float]) {
        let locations = maps.shape[2] * maps.shape[3]
        let imageProbability = Activation.softmax(
            imageLogits(maps, image: image, classes: classes).map { $0 / temperature })[positive]
        var location = [Float](repeating: 0, count: locations)
        for l in 0..<locations {
            let logits = (0..<classes).map { maps.storage[(image * classes + $0) * locations + l] / temperature }
            location[l] = Activation.softmax(logits)[positive]
        }
        return (Double(imageProbability), location)
    }

    /// Bilinear enlargement (half-pixel centres, edges clamped) of a width×height map.
    public static func enlarge(_ map: [Float], width: Int, height: Int, toWidth: Int, height toHeight: Int) -> [Float] {
        var output = [Float](repeating: 0, count: toWidth * toHeight)
        let (sx, sy) = (Double(width) / Double(toWidth), Double(height) / Double(toHeight))
        for y in 0..<toHeight {
            let fy = max(0, min(Double(height - 1), (Double(y) + 0.5) * sy - 0.5))
            let (iy, jy) = (Int(fy), min(Int(fy) + 1, height - 1))
            let ay = Float(fy - Double(iy))
            for x in 0..<toWidth {
                let fx = max(0, min(Double(width - 1), (Double(x) + 0.5) * sx - 0.5))
                let (ix, jx) = (Int(fx), min(Int(fx) + 1, width - 1))
                let ax = Float(fx - Double(ix))
                output[y * toWidth + x] =
                    (1 - ay) * ((1 - ax) * map[iy * width + ix] + ax * map[iy * width + jx])
                    + ay * ((1 - ax) * map[jy * width + ix] + ax * map[jy * width + jx])
            }
        }
        return output
    }
}
