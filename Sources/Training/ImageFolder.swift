import AppSupport
import Dispatch
import Foundation
import ModelEvaluation
import ModelRuntime
import NeuralEngine
import Radiograph
import StudyInput

/// A folder with one subfolder per class of images (PNG, JPEG, DICOM), loaded and prepared
/// for a network: gray, normalised to 0...1 between the image's 0.5th and 99.5th percentiles
/// (`RadiographNormalization`), resized to size×size by area averaging (bilinear when
/// enlarging), aspect ratio not kept (the images are already cropped to the thorax).
///
/// Sources: a class folder may hold one sub-folder per source (DATA/covid/hannover/x.png,
/// DATA/normal/nih/y.png); an image's source is the name of that sub-folder, "" for an image
/// directly in its class folder. `lungct evaluate` breaks its numbers down by source.
public struct ImageFolder: Sendable {
    public var classes: [String]
    public var paths: [String]
    public var groups: [String]
    /// Each image's source (its sub-folder under the class folder; "" when none).
    public var sources: [String] = []
    /// Classes asked for (`wanted`) whose folder is absent (`allowMissingClasses`).
    public var missingClasses: [String] = []
    public var images: LabeledImages
    /// Files that could not be used, with the reason.
    public var skipped: [FileNote]

    /// With `allowMissingClasses` (evaluation: a folder of positives only still gives a
    /// sensitivity) a class of `wanted` without a folder is listed in `missingClasses` rather
    /// than refused; at least one class folder must be there.
    public static func load(
        _ root: String, size: Int, classes wanted: [String]? = nil, allowMissingClasses: Bool = false,
        input: RadiographInput = .whole
    ) throws(LungCTError) -> ImageFolder {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: root) else {
            throw .inputFailed("\(root): not a readable folder (expected one subfolder per class)")
        }
        let classes =
            wanted
            ?? entries.filter { name in
                var isDirectory: ObjCBool = false
                return !name.hasPrefix(".") && fm.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory)
                    && isDirectory.boolValue
            }.sorted()
        guard classes.count >= 2 else {
            throw .nothingToAnalyse(input: root, details: "need at least two class subfolders, found \(classes)")
        }
        var files: [(path: String, label: Int, source: String)] = []
        var missing: [String] = []
        for (label, name) in classes.enumerated() {
            var isDirectory: ObjCBool = false
            if allowMissingClasses && !fm.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory) {
                missing.append(name)
                continue
            }
            guard let found = classFiles(root + "/" + name) else {
                throw .inputFailed("\(root)/\(name): class folder missing or unreadable")
            }
            files += found.map { ($0.path, label, $0.source) }
        }
        guard missing.count < classes.count else {
            throw .nothingToAnalyse(
                input: root, details: "none of the class folders \(classes.joined(separator: ", ")) is there")
        }
        let results = Slots<PreparedImage>(count: files.count, initial: .failure("not loaded"))
        let toLoad = files.map(\.path)
        DispatchQueue.concurrentPerform(iterations: toLoad.count) { index in
            do {
                let picture = try RadiographLoader.load(path: toLoad[index])
                let normalized = RadiographNormalization.normalize(picture).volume
                let (width, height) = (normalized.size.x, normalized.size.y)
                let plane = Array(normalized.voxels[0..<(width * height)])
                results.set(index, .success(try input.prepare(plane, width: width, height: height, size: size).pixels))
            } catch {
                results.set(index, .failure("\(error)"))
            }
        }
        var pixels: [Float] = []
        var labels: [Int] = []
        var paths: [String] = []
        var groups: [String] = []
        var sources: [String] = []
        var skipped: [FileNote] = []
        for (index, file) in files.enumerated() {
            switch results.get(index) {
            case .success(let image):
                pixels += image
                labels.append(file.label)
                paths.append(file.path)
                sources.append(file.source)
                groups.append(Self.group(of: file.path, className: classes[file.label]))
            case .failure(let reason):
                skipped.append(FileNote(path: file.path, reason: reason))
            }
        }
        return ImageFolder(
            classes: classes, paths: paths, groups: groups, sources: sources, missingClasses: missing,
            images: LabeledImages(channels: 1, height: size, width: size, pixels: pixels, labels: labels),
            skipped: skipped)
    }

    /// An image's group for grouped cross-validation. An NIH ChestX-ray14 image (`NNNNNNNN_NNN`,
    /// the patient before the underscore) is grouped by patient across classes: one patient's
    /// normal and finding films stay in one fold. Other images: figures are split across files
    /// in several ways (NAME%k, NAME-1..8), and grouping by source article within the class
    /// keeps every figure's parts in one fold.
    static func group(of path: String, className: String) -> String {
        if let patient = GroupedKFold.nihPatient(forFileName: path) { return "NIH patient " + patient }
        return className + "/" + GroupedKFold.groupName(forFileName: path, rule: .article)
    }

    /// A class folder's files, with a source sub-folder's files under that source's name; nil
    /// when the folder cannot be read.
    static func classFiles(_ folder: String) -> [(path: String, source: String)]? {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: folder) else { return nil }
        var files: [(path: String, source: String)] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = folder + "/" + name
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let inner = (try? fm.contentsOfDirectory(atPath: path)) ?? []
                files += inner.sorted().filter { !$0.hasPrefix(".") }.map { (path + "/" + $0, name) }
            } else {
                files.append((path, ""))
            }
        }
        return files
    }
}

/// A file's outcome while a folder is loaded.
enum PreparedImage {
    case success([Float])
    case failure(String)
}

/// Training-time augmentation of one image (size×size, 0...1): one inverse-mapped affine
/// transform (shift, zoom with a small aspect change, rotation; bilinear, edges clamped), a
/// brightness/contrast jitter and a gamma change, and a left–right flip with probability ½ (the
/// lesions this data shows appear in either lung). `Augmentation.Strength` sets the ranges.
public enum Augmentation {
    public struct Strength: Sendable, Codable, Equatable {
        /// Largest shift, as a fraction of the size.
        public var shift: Float
        /// Zoom factors drawn uniformly from this range (> 1 enlarges: a crop).
        public var zoomMin: Float
        public var zoomMax: Float
        /// Largest change of the aspect ratio (x zoom / y zoom = 1 ± aspect).
        public var aspect: Float
        public var rotationDegrees: Float
        public var contrast: Float
        public var brightness: Float
        /// Largest |log γ|: intensities become v^γ.
        public var logGamma: Float
        /// Probability of re-windowing the image: v → (v − low)/(high − low), clipped, with low
        /// in 0...0.45 and high in 0.7...1. A high low end blacks out aerated lung, as a
        /// mediastinal window does, so the display window of a training image stops telling its
        /// class (in figure collections the classes often differ in window).
        public var rewindow: Float = 0

        /// ±8 % shift, ±10 % zoom, ±10°, ±10 % contrast and brightness.
        public static let standard = Strength(
            shift: 0.08, zoomMin: 0.9, zoomMax: 1.1, aspect: 0, rotationDegrees: 10, contrast: 0.1, brightness: 0.1,
            logGamma: 0)
        /// For small, varied sets of figure images: ±12 % shift, zoom 0.85–1.35 (crops of down to
        /// 55 % of the area, as random-resized-crop training does), ±10 % aspect, ±15°, ±20 %
        /// contrast and brightness, γ in 0.74–1.35.
        public static let strong = Strength(
            shift: 0.12, zoomMin: 0.85, zoomMax: 1.35, aspect: 0.1, rotationDegrees: 15, contrast: 0.2, brightness: 0.2,
            logGamma: 0.3)

        /// `standard` plus re-windowing half of the images.
        public static let window: Strength = {
            var strength = Strength.standard
            strength.rewindow = 0.5
            return strength
        }()

        public var name: String {
            self == .standard ? "standard" : self == .strong ? "strong" : self == .window ? "window" : "custom"
        }

        public static func named(_ name: String) -> Strength? {
            switch name {
            case "standard": .standard
            case "strong": .strong
            case "window": .window
            default: nil
            }
        }
    }

    /// A uniform draw in -1..<1, for the ± ranges of `Strength`.
    static func signedDraw(_ rng: inout SeededGenerator) -> Float { (rng.uniform() - 0.5) * 2 }

    public static func apply(
        _ image: inout [Float], size: Int, strength: Strength = .standard, rng: inout SeededGenerator
    ) {
        // Draws happen in a fixed order; the aspect and gamma draws only when they are used, so
        // the standard strength repeats the sequence of earlier versions.
        let zoom = strength.zoomMin + rng.uniform() * (strength.zoomMax - strength.zoomMin)
        let aspect = strength.aspect > 0 ? 1 + signedDraw(&rng) * strength.aspect : 1
        let (zoomX, zoomY) = (zoom * aspect.squareRoot(), zoom / aspect.squareRoot())
        let shiftX = signedDraw(&rng) * strength.shift * Float(size)
        let shiftY = signedDraw(&rng) * strength.shift * Float(size)
        let flip = rng.uniform() < 0.5
        let angle = signedDraw(&rng) * strength.rotationDegrees * .pi / 180
        let (cosine, sine) = (cos(angle), sin(angle))
        let contrast = 1 + signedDraw(&rng) * strength.contrast
        let brightness = signedDraw(&rng) * strength.brightness
        let gamma = strength.logGamma > 0 ? exp(signedDraw(&rng) * strength.logGamma) : 1
        var window: (low: Float, high: Float)?
        if strength.rewindow > 0 {
            let (draw, low, high) = (rng.uniform(), rng.uniform() * 0.45, 0.7 + rng.uniform() * 0.3)
            if draw < strength.rewindow { window = (low, high) }
        }
        let source = image
        let centre = Float(size - 1) / 2
        for y in 0..<size {
            for x in 0..<size {
                // Inverse map: output pixel → rotated, zoomed, shifted source position.
                let (ux, uy) = ((Float(x) - centre) / zoomX, (Float(y) - centre) / zoomY)
                var fx = cosine * ux + sine * uy + centre - shiftX
                let fy = -sine * ux + cosine * uy + centre - shiftY
                if flip { fx = Float(size - 1) - fx }
                let cx = max(0, min(Float(size - 1), fx))
                let cy = max(0, min(Float(size - 1), fy))
                let (ix, iy) = (Int(cx), Int(cy))
                let (ax, ay) = (cx - Float(ix), cy - Float(iy))
                let (jx, jy) = (min(ix + 1, size - 1), min(iy + 1, size - 1))
                var value =
                    (1 - ay) * ((1 - ax) * source[iy * size + ix] + ax * source[iy * size + jx])
                    + ay * ((1 - ax) * source[jy * size + ix] + ax * source[jy * size + jx])
                if gamma != 1 { value = pow(max(0, value), gamma) }
                if let window { value = max(0, min(1, (value - window.low) / (window.high - window.low))) }
                image[y * size + x] = max(0, min(1, (value - 0.5) * contrast + 0.5 + brightness))
            }
        }
    }
}
