import Foundation

extension Activation {
    /// A softmax over the channels at every pixel of an [N, K, H, W] tensor of logits: per-pixel
    /// class probabilities of the same shape. Each pixel's values equal `softmax` of its logits.
    public static func pixelSoftmax(_ logits: Tensor) -> Tensor {
        precondition(logits.shape.count == 4, "pixelSoftmax: logits must be [N, K, H, W], got \(logits.shape)")
        let (n, k, plane) = (logits.shape[0], logits.shape[1], logits.shape[2] * logits.shape[3])
        guard k > 0, plane > 0 else { return logits }
        var result = logits
        var top = [Float](repeating: 0, count: plane)
        var sum = [Float](repeating: 0, count: plane)
        result.storage.withUnsafeMutableBufferPointer { values in
            for image in 0..<n {
                let base = image * k * plane
                for p in 0..<plane { (top[p], sum[p]) = (values[base + p], 0) }
                for c in 1..<k {
                    for p in 0..<plane { top[p] = max(top[p], values[base + c * plane + p]) }
                }
                for c in 0..<k {
                    for p in 0..<plane {
                        let e = exp(values[base + c * plane + p] - top[p])
                        values[base + c * plane + p] = e
                        sum[p] += e
                    }
                }
                for c in 0..<k {
                    for p in 0..<plane { values[base + c * plane + p] /= sum[p] }
                }
            }
        }
        return result
    }

    /// The most likely class at every pixel of [N, K, H, W] logits or probabilities, N·H·W
    /// values (the first of tied classes; K at most 256).
    public static func classPerPixel(_ maps: Tensor) -> [UInt8] {
        precondition(maps.shape.count == 4 && maps.shape[1] <= 256, "classPerPixel: needs [N, K ≤ 256, H, W] maps")
        let (n, k, plane) = (maps.shape[0], maps.shape[1], maps.shape[2] * maps.shape[3])
        var result = [UInt8](repeating: 0, count: n * plane)
        var best = [Float](repeating: 0, count: plane)
        for image in 0..<n where k > 0 {
            let base = image * k * plane
            for p in 0..<plane { best[p] = maps.storage[base + p] }
            for c in 1..<k {
                for p in 0..<plane where maps.storage[base + c * plane + p] > best[p] {
                    best[p] = maps.storage[base + c * plane + p]
                    result[image * plane + p] = UInt8(c)
                }
            }
        }
        return result
    }
}

extension Tensor {
    /// An [N, C, H, W] tensor placed at (`top`, `left`) in a larger `height`×`width` one, the
    /// border filled by repeating the nearest edge pixel (replicate padding).
    public func edgePadded(top: Int, left: Int, height: Int, width: Int) -> Tensor {
        precondition(shape.count == 4, "edgePadded: needs an [N, C, H, W] tensor, got \(shape)")
        let (maps, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        precondition(h >= 1 && w >= 1, "edgePadded: cannot pad an empty image")
        precondition(
            top >= 0 && left >= 0 && top + h <= height && left + w <= width,
            "edgePadded: \(h)×\(w) at (\(top), \(left)) does not fit \(height)×\(width)")
        var result = Tensor(zeros: [shape[0], shape[1], height, width])
        let columns = (0..<width).map { min(max($0 - left, 0), w - 1) }
        for map in 0..<maps {
            for y in 0..<height {
                let source = map * h * w + min(max(y - top, 0), h - 1) * w
                let destination = (map * height + y) * width
                for x in 0..<width { result.storage[destination + x] = storage[source + columns[x]] }
            }
        }
        return result
    }

    /// The `height`×`width` window at (`top`, `left`) of every map of an [N, C, H, W] tensor.
    public func cropped(top: Int, left: Int, height: Int, width: Int) -> Tensor {
        precondition(shape.count == 4, "cropped: needs an [N, C, H, W] tensor, got \(shape)")
        let (maps, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        precondition(
            top >= 0 && left >= 0 && height >= 0 && width >= 0 && top + height <= h && left + width <= w,
            "cropped: \(height)×\(width) at (\(top), \(left)) is outside \(h)×\(w)")
        var storage: [Float] = []
        storage.reserveCapacity(maps * height * width)
        for map in 0..<maps {
            for y in 0..<height {
                let start = (map * h + top + y) * w + left
                storage += self.storage[start..<(start + width)]
            }
        }
        return Tensor(shape: [shape[0], shape[1], height, width], storage: storage)
    }
}

extension Sequential {
    /// What the input's height and width must be a multiple of (`Architecture.sizeMultiple`).
    public var sizeMultiple: Int { Architecture.sizeMultiple(specification) }

    /// Per-pixel class probabilities [N, K, H, W] from a segmentation network (one that maps
    /// [N, C, H, W] to logits [N, K, H', W'] with the input's padded size) for an input of any
    /// height and width, at inference (batch statistics are not used; `infer` splits the
    /// images between the cores).
    ///
    /// An input whose sides are not multiples of `sizeMultiple` (2^depth for a U-Net) is padded
    /// up to the next multiples, split as evenly as possible before and after on each axis, by
    /// repeating the edge pixels: a border of zeros would add an edge that is not in the image
    /// (0 is not air in a lung window). The logits are cropped back to H×W before the softmax,
    /// so the result has the input's size whatever the padding.
    public func segmentationProbabilities(_ input: Tensor) -> Tensor {
        precondition(
            input.shape.count == 4, "segmentationProbabilities: input must be [N, C, H, W], got \(input.shape)")
        let (height, width, multiple) = (input.shape[2], input.shape[3], sizeMultiple)
        let padded = Pair2D(
            height: (height + multiple - 1) / multiple * multiple, width: (width + multiple - 1) / multiple * multiple)
        let (top, left) = ((padded.height - height) / 2, (padded.width - width) / 2)
        guard padded != Pair2D(height: height, width: width) else { return Activation.pixelSoftmax(infer(input)) }
        let logits = infer(input.edgePadded(top: top, left: left, height: padded.height, width: padded.width))
        return Activation.pixelSoftmax(logits.cropped(top: top, left: left, height: height, width: width))
    }
}
