import ArgumentParser
import StudyInput

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the chosen series as a NIfTI volume in Hounsfield units.",
        discussion: """
            Like dcm2niix, but the voxels are HU (int16 when exact, float32 otherwise) and the series \
            goes through lungct's checks (ordering by position, gaps, tilt). The affine maps DICOM's \
            LPS to NIfTI's RAS, so the file overlays the series in 3D Slicer or ITK-SNAP. Example:

              lungct convert ../shared/data/ct/popi-00 popi.nii.gz
              lungct convert study/ ct.nii.gz --series 1.2.840.113619.2.55.3...
            """)

    @Argument(help: "A folder of DICOM files, a DICOM file, a NIfTI file, or a PNG/JPEG.")
    var input: String

    @Argument(help: "The NIfTI file to write (.nii or .nii.gz).")
    var output: String

    @OptionGroup var series: SeriesOption

    @OptionGroup var json: JSONOption

    func validate() throws {
        guard output.hasSuffix(".nii") || output.hasSuffix(".nii.gz") else {
            throw ValidationError("the output must end in .nii or .nii.gz")
        }
    }

    func run() throws {
        let result = try Converter.convert(input: input, output: output, series: series.series)
        try json.print(result, text: TextRenderer.conversion)
    }
}
