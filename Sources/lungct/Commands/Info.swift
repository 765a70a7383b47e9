import AppSupport
import ArgumentParser
import Foundation
import StudyInput

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every series in a DICOM folder, NIfTI file or radiograph, and which one would be analysed.",
        discussion: """
            Reads headers only (add --stats to load the chosen image). Shows each series with its \
            modality, description, slice count, size, spacing and transfer syntax; the one that would \
            be chosen; every rejection with its reason; geometry corrections and warnings; quality \
            findings for radiographs. Example:

              lungct info ../shared/data/ct/popi-00
              lungct info study/ --json > study-info.json
            """)

    @Argument(help: "A folder of DICOM files (searched recursively), a DICOM file, a .nii/.nii.gz, or a PNG/JPEG.")
    var input: String

    @OptionGroup var json: JSONOption

    @Flag(help: "Also load the chosen image and report its value range and load time.")
    var stats = false

    func run() throws {
        var inspection = try Inspection.inspect(input)
        if stats {
            let start = Date()
            let image = try inspection.load()
            inspection.report.statistics = VolumeStatistics(image, loadSeconds: Date().timeIntervalSince(start))
        }
        try json.print(inspection.report, text: TextRenderer.info)
        if inspection.report.chosen == nil {
            throw LungCTError.nothingToAnalyse(input: input, details: "No series can be analysed (see the list above).")
        }
    }
}
