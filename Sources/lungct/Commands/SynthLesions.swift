import AppSupport
import ArgumentParser
import Foundation
import ImageCodecs
import LesionSynthesis
import LungSegmentation
import NIfTIIO
import SeededRandom
import StudyInput
import VolumeCore

struct SynthLesions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-lesions",
        abstract: "Insert synthetic COVID-19-type lesions into a normal CT and write them with their exact mask.",
        discussion: """
            What the label-free lesion network trains on, to look at: ground glass (vessels and \
            airways visible through it), consolidation with air bronchograms and crazy paving, \
            multifocal, mostly bilateral, peripheral, basal and posterior, some central and \
            unilateral, inside the lungs (lungct's segmentation, or --lung-mask). OUT gets \
            ct_with_lesions.nii.gz (int16 HU on the input grid), lesion_truth.nii.gz (1 ground \
            glass, 2 consolidation) and overview.png (axial slices: before | after | after with \
            the truth outlined, yellow ground glass, red consolidation). The same seed gives the \
            same lesions. Example:

              lungct synth-lesions ../shared/data/ct-hu/covid-ct-md/normal001 -o /tmp/synth --seed 3
              lungct synth-lesions ct.nii.gz -o /tmp/synth --lung-mask out/lung_mask.nii.gz --count 4
            """)

    @Argument(help: "A normal CT: a folder of DICOM files, a DICOM file, or a .nii/.nii.gz in HU.")
    var input: String

    @Option(name: .shortAndLong, help: "Output folder (created if missing).")
    var output: String

    @Option(help: "Random seed: the same seed gives the same lesions.")
    var seed: UInt64 = 1

    @Option(help: "Number of lesions (default: 1 to 6, drawn from the seed).")
    var count: Int?

    @Option(
        name: .customLong("lung-mask"),
        help:
            "A lung mask on the CT's grid (nonzero = lung; 1 right, 2 left as in lung_mask.nii.gz) instead of segmenting."
    )
    var lungMask: String?

    @OptionGroup var series: SeriesOption

    @OptionGroup var json: JSONOption

    /// More lesions than this would cover the lungs; the network learns nothing from that.
    static let counts = 0...50

    func validate() throws {
        if let count, !Self.counts.contains(count) {
            throw ValidationError("--count must be between \(Self.counts.lowerBound) and \(Self.counts.upperBound)")
        }
    }

    func run() throws {
        var options = SyntheticLesionOptions()
        if let count { options.lesionCount = count...count }
        let request = SynthLesionsRequest(
            input: input, output: output, series: series.series, lungMask: lungMask, seed: seed, options: options)
        try json.print(try request.run(), text: SynthLesionsResult.text)
    }
}

/// What `lungct synth-lesions` wrote.
struct SynthLesionsResult: Codable {
    var input: String
    var seed: UInt64
    /// "segmented" or the lung mask's path.
    var lungs: String
    var groundGlassML: Double
    var consolidationML: Double
    var outputs: [String]
    var seconds: Double

    static func text(_ result: SynthLesionsResult) -> String {
        """
        \(result.input): synthetic lesions, seed \(result.seed), lungs \(result.lungs)
          ground glass \(result.groundGlassML.rounded(places: 1)) mL, consolidation \
        \(result.consolidationML.rounded(places: 1)) mL
          wrote \(result.outputs.joined(separator: ", ")) (\(result.seconds.rounded(places: 2)) s)
        """
    }
}

/// The steps of `lungct synth-lesions`: load, find the lungs, insert, write.
struct SynthLesionsRequest {
    static let ctFile = "ct_with_lesions.nii.gz"
    static let truthFile = "lesion_truth.nii.gz"
    static let overviewFile = "overview.png"

    var input: String
    var output: String
    var series: String?
    var lungMask: String?
    var seed: UInt64
    var options: SyntheticLesionOptions

    func run() throws(LungCTError) -> SynthLesionsResult {
        let start = Date()
        try OutputFolder.prepare(output)
        let before = try loadCT()
        let lungs: Volume<UInt8>
        if let lungMask {
            lungs = try Self.loadLungs(lungMask, grid: before.geometry)
        } else {
            FileHandle.standardError.write(Data("segmenting the lungs...\n".utf8))
            lungs = LungSegmenter.segment(before).labels
        }
        var after = before
        var rng = SplitMix64(seed: seed)
        let truth = SyntheticLesions.insert(into: &after, lungs: lungs, options: options, using: &rng)
        let paths = [Self.ctFile, Self.truthFile, Self.overviewFile].map { output + "/" + $0 }
        do {
            try NIfTI.write(after, to: paths[0], description: "lungct HU with synthetic lesions")
            try NIfTI.write(
                truth, to: paths[1], description: "lungct synthetic lesions: 1 ground glass, 2 consolidation")
        } catch {
            throw .outputFailed(error.description)
        }
        let picture = LesionPreview.render(before: before, after: after, truth: truth, lungs: lungs)
        do {
            try PNGWriter.write(
                path: paths[2], width: picture.width, height: picture.height, channels: 3, pixels: picture.rgb)
        } catch {
            throw .outputFailed("\(error)")
        }
        let millilitres = { (label: UInt8) in
            Double(truth.voxels.count { $0 == label }) * truth.geometry.voxelVolume / 1000
        }
        return SynthLesionsResult(
            input: input, seed: seed, lungs: lungMask ?? "segmented",
            groundGlassML: millilitres(LesionLabel.groundGlass),
            consolidationML: millilitres(LesionLabel.consolidation),
            outputs: paths, seconds: Date().timeIntervalSince(start))
    }

    /// The chosen (or named) series in HU, int16.
    func loadCT() throws(LungCTError) -> Volume<Int16> {
        guard let hu = try Inspection.loadCT(input, series: series) else {
            throw .nothingToAnalyse(input: input, details: "a radiograph: synthetic lesions are drawn in CT's HU")
        }
        return hu
    }

    /// A label volume on the CT's grid, as UInt8 (values outside 0...255 are clamped).
    static func loadLungs(_ path: String, grid: Geometry) throws(LungCTError) -> Volume<UInt8> {
        let volume: HUVolume
        do {
            volume = try NIfTI.read(path).0
        } catch {
            throw .inputFailed(error.description)
        }
        guard volume.geometry.size == grid.size else {
            throw .usage(
                "\(path): the lung mask is \(volume.geometry.size), the CT \(grid.size); they must share a grid")
        }
        let labels = volume.asInt16.map { UInt8(clamping: $0) }
        return Volume(geometry: grid, voxels: labels.voxels)
    }
}
