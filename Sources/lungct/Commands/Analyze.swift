import ArgumentParser
import StudyAnalysis
import VolumeCore

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment the lungs of the chosen series, measure them and write every output.",
        discussion: """
            Writes into OUT: lung_mask.nii.gz (0 background, 1 right lung, 2 left lung, on the input \
            grid); for a CT, from the HU lesion network: probability.nii.gz (per-voxel probability \
            of a COVID-19-type lesion, 0 outside the lungs) and lesion_mask.nii.gz (1 ground glass, \
            2 consolidation); study.h5 (HU volume, masks, maps, geometry, lung and lesion panel, \
            provenance), report.json (series chosen and rejected, geometry, warnings, lung panel, \
            lesions: volumes, opacity, distribution, CT severity score and the uncalibrated \
            COVID-19 pattern score, timings) and overview.png. The models come from Weights/ \
            (checked against Weights/MANIFEST); --model replaces one, --no-model runs none. \
            Research use only, not for clinical use. Patient name, ID and birth date appear only \
            with --keep-phi. --dicom also writes OUT/dicom/: segmentation.dcm (right lung, left \
            lung, lesions), probability-map.dcm, measurements-sr.dcm and overview-sc.dcm, in the \
            source study and frame of reference, de-identified unless --keep-phi. Example:

              lungct analyze ../shared/data/ct/popi-00 -o out/popi
              lungct analyze Volumes/phantom-chest/dicom -o out/phantom --dicom
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

    @Flag(
        help: """
            Also write DICOM result objects into OUT/dicom/ (Segmentation, Parametric Map, TID 1500 \
            SR, Secondary Capture) in the source study; DICOM CT inputs only.
            """)
    var dicom = false

    @Flag(
        name: .customLong("dicom-patient"),
        help: """
            With --dicom: copy the source's patient name, ID, birth date and study date into the \
            DICOM objects only (report.json stays de-identified), so that a PACS files them with the \
            source study; `lungct listen` sets it.
            """)
    var dicomPatient = false

    @OptionGroup var models: ModelOptions

    @OptionGroup var json: JSONOption

    func run() throws {
        var options = AnalysisOptions(input: input, output: output)
        options.series = series.series
        options.keepPHI = keepPHI
        options.window = window
        options.dicom = dicom
        options.dicomPatient = dicomPatient
        options.models = try models.load()
        try json.print(try Analyzer.analyze(options), text: TextRenderer.analysis)
    }
}
