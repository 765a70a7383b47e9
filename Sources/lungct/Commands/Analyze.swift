import ArgumentParser
import StudyAnalysis
import VolumeCore

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment the lungs of the chosen series, measure them and write every output.",
        discussion: """
            Writes into OUT: lung_mask.nii.gz (0 background, 1 right lung, 2 left lung, on the input \
            grid), probability.nii.gz (the COVID-19 model's per-voxel probability, 0 outside the \
            lungs), study.h5 (HU volume, mask, map, geometry, lung panel, model answer, provenance), \
            report.json (series chosen and rejected, geometry, warnings, lung panel, study \
            probability and top slices, timings) and overview.png. The models come from Weights/ \
            (checked against Weights/MANIFEST); --model replaces one, --no-model runs none. \
            Research use only, not for clinical use. Patient name, ID and birth date appear only \
            with --keep-phi. Example:

              lungct analyze ../shared/data/ct/popi-00 -o out/popi
              lungct analyze chest.png -o out/cxr --json
            """)

    @Argument(help: "A folder of DICOM files, a DICOM file, a .nii/.nii.gz, or a PNG/JPEG radiograph.")
    var input: String

    @Option(name: .shortAndLong, help: "Output folder (created if missing).")
    var output: String

    @OptionGroup var series: SeriesOption

    @Option(help: "Window for the overview: lung, mediastinum, or L,W in HU (e.g. -600,1500).")
    var window = HUWindow.lung

    @Flag(name: .customLong("keep-phi"), help: "Write patient name, ID and birth date into report.json.")
    var keepPHI = false

    @OptionGroup var models: ModelOptions

    @OptionGroup var json: JSONOption

    func run() throws {
        var options = AnalysisOptions(input: input, output: output)
        options.series = series.series
        options.keepPHI = keepPHI
        options.window = window
        options.models = try models.load()
        try json.print(try Analyzer.analyze(options), text: TextRenderer.analysis)
    }
}
