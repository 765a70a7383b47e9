import AppSupport
import Foundation
import ModelRuntime
import Radiograph
import SeededRandom

/// One radiograph with its both-lungs mask, as the lung-field network trains and is measured on.
public struct LungFieldPair: Sendable {
    public var name: String
    /// The source, from the file name: the part before its first digit, without trailing
    /// "_" or "-" ("CHNCXR_0001_0" → "CHNCXR", "jsrt-like-3" → "jsrt-like").
    public var source: String
    /// The radiograph normalised to 0...1 on its own grid, and that grid's size.
    public var normalized: [Float]
    public var width: Int
    public var height: Int
    /// The true lung field on the same grid.
    public var truth: [Bool]

    /// The source named by a file name (see `source`).
    public static func source(of name: String) -> String {
        let head = name.prefix { !$0.isNumber }
        let trimmed = head.reversed().drop { $0 == "_" || $0 == "-" }
        return trimmed.isEmpty ? name : String(trimmed.reversed())
    }
}

/// Reading the lung-field pairs: DATA/images/NAME.(png|jpg|dcm...) and DATA/masks/NAME.png.
public enum LungFieldData {
    /// Mask pixels above this are lung: the Shenzhen masks have soft edges that their
    /// publishers threshold at 127 (shared/data/README.md); 0/255 masks give the same.
    public static let maskThreshold: Float = 127

    /// The pairs under `folder` (images/ and masks/ matched by file name without extension), in name order.
    public static func load(_ folder: String) throws(LungCTError) -> [LungFieldPair] {
        let fm = FileManager.default
        let (imageFolder, maskFolder) = (folder + "/images", folder + "/masks")
        guard let images = try? fm.contentsOfDirectory(atPath: imageFolder),
            let masks = try? fm.contentsOfDirectory(atPath: maskFolder)
        else {
            throw .inputFailed("\(folder): expected images/ and masks/ sub-folders (one mask PNG per image, same name)")
        }
        var maskByName: [String: String] = [:]
        for mask in masks where !mask.hasPrefix(".") { maskByName[stem(mask)] = maskFolder + "/" + mask }
        var pairs: [LungFieldPair] = []
        for image in images.sorted() where !image.hasPrefix(".") {
            guard let mask = maskByName[stem(image)] else {
                throw .inputFailed("\(imageFolder)/\(image): no mask \(maskFolder)/\(stem(image)).png")
            }
            pairs.append(try pair(image: imageFolder + "/" + image, mask: mask))
        }
        guard pairs.count >= 2 else {
            throw .nothingToAnalyse(input: folder, details: "fewer than two image–mask pairs")
        }
        return pairs
    }

    static func stem(_ file: String) -> String { URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent }

    /// One image and its mask, which must have the image's size.
    public static func pair(image: String, mask: String) throws(LungCTError) -> LungFieldPair {
        let picture: RadiographImage
        let truth: RadiographImage
        do {
            picture = try RadiographLoader.load(path: image)
            truth = try RadiographLoader.load(path: mask)
        } catch {
            throw .inputFailed(error.description)
        }
        let (width, height) = (picture.volume.size.x, picture.volume.size.y)
        guard truth.volume.size.x == width, truth.volume.size.y == height else {
            throw .inputFailed(
                "\(mask): \(truth.volume.size.x)×\(truth.volume.size.y), its image \(image) is \(width)×\(height)")
        }
        // An 8-bit mask: 0...255 already; a 16-bit one is brought to that scale.
        let scale = Float(255 / truth.fullScale)
        let name = stem(image)
        return LungFieldPair(
            name: name, source: LungFieldPair.source(of: name),
            normalized: RadiographNormalization.normalize(picture).volume.voxels, width: width, height: height,
            truth: truth.volume.voxels.map { $0 * scale > maskThreshold })
    }
}

/// A pair at the network's input size: the input pixels and a 0/1 label per pixel.
struct LungFieldSample {
    var pixels: [Float]
    var labels: [UInt8]

    init(_ pair: LungFieldPair, size: Int) {
        pixels = LungFieldModel.input(pair.normalized, width: pair.width, height: pair.height, size: size)
        let fraction = ModelInputPreparation.resize(
            pair.truth.map { $0 ? 1 : 0 }, width: pair.width, height: pair.height, to: size)
        labels = fraction.map { $0 >= 0.5 ? 1 : 0 }
    }
}

/// Augmentation of lung-field samples: small rotations, scaling and shifts (image and labels
/// alike), gamma and contrast, blur, noise and a trip through 64 px (the NIH films' size).
/// No flips: a mirrored chest film is not a chest film (heart and lung shapes differ by side).
struct LungFieldAugmentation {
    static let maxRotationDegrees = 10.0
    static let scaleRange = 0.88...1.12
    /// As a fraction of the side.
    static let maxShift = 0.08
    static let gammaRange = 0.6...1.6
    static let contrastRange = 0.8...1.2
    static let maxNoise = 0.04
    static let blurProbability = 0.3
    /// The fraction of samples brought down to `lowResolution` pixels and back.
    static let lowResolutionProbability = 0.3
    static let lowResolution = 64

    static func apply(_ sample: LungFieldSample, size: Int, rng: inout SplitMix64) -> LungFieldSample {
        func draw(_ range: ClosedRange<Double>) -> Double {
            range.lowerBound + (range.upperBound - range.lowerBound) * rng.nextDouble()
        }
        let angle = draw(-maxRotationDegrees...maxRotationDegrees) * .pi / 180
        let scale = draw(scaleRange)
        let shift = (draw(-maxShift...maxShift) * Double(size), draw(-maxShift...maxShift) * Double(size))
        var result = sample
        let centre = Double(size - 1) / 2
        let (c, s) = (cos(angle) / scale, sin(angle) / scale)
        for y in 0..<size {
            for x in 0..<size {
                let (dx, dy) = (Double(x) - centre - shift.0, Double(y) - centre - shift.1)
                let (sx, sy) = (c * dx + s * dy + centre, -s * dx + c * dy + centre)
                let (ix, iy) = (Int(sx.rounded()), Int(sy.rounded()))
                let inside = ix >= 0 && iy >= 0 && ix < size && iy < size
                result.labels[y * size + x] = inside ? sample.labels[iy * size + ix] : 0
                result.pixels[y * size + x] = bilinear(sample.pixels, size: size, x: sx, y: sy)
            }
        }
        let (gamma, contrast) = (Float(draw(gammaRange)), Float(draw(contrastRange)))
        let noise = Float(draw(0...maxNoise))
        if rng.nextDouble() < lowResolutionProbability {
            let small = ModelInputPreparation.resize(result.pixels, width: size, height: size, to: lowResolution)
            result.pixels = ModelInputPreparation.resize(small, width: lowResolution, height: lowResolution, to: size)
        }
        if rng.nextDouble() < blurProbability { result.pixels = boxBlur(result.pixels, size: size) }
        for index in result.pixels.indices {
            let value = pow(max(0, min(1, result.pixels[index])), gamma)
            result.pixels[index] = max(0, min(1, (value - 0.5) * contrast + 0.5 + noise * rng.normal()))
        }
        return result
    }

    /// The value at (x, y), edges clamped.
    static func bilinear(_ pixels: [Float], size: Int, x: Double, y: Double) -> Float {
        let fx = max(0, min(Double(size - 1), x))
        let fy = max(0, min(Double(size - 1), y))
        let (ix, iy) = (Int(fx), Int(fy))
        let (jx, jy) = (min(ix + 1, size - 1), min(iy + 1, size - 1))
        let (ax, ay) = (Float(fx - Double(ix)), Float(fy - Double(iy)))
        return (1 - ay) * ((1 - ax) * pixels[iy * size + ix] + ax * pixels[iy * size + jx])
            + ay * ((1 - ax) * pixels[jy * size + ix] + ax * pixels[jy * size + jx])
    }

    /// A 3×3 box blur, edges clamped.
    static func boxBlur(_ pixels: [Float], size: Int) -> [Float] {
        var output = pixels
        for y in 0..<size {
            for x in 0..<size {
                var sum: Float = 0
                for dy in -1...1 {
                    for dx in -1...1 {
                        sum += pixels[min(size - 1, max(0, y + dy)) * size + min(size - 1, max(0, x + dx))]
                    }
                }
                output[y * size + x] = sum / 9
            }
        }
        return output
    }
}
