import AppSupport
import ArgumentParser
import DICOMSeries
import Phantom

struct PhantomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Write a synthetic chest CT as a DICOM series, with its true lung and lesion masks.",
        discussion: """
            The phantom has a body with a fat layer, a table, spine and ribs, heart and aorta, trachea \
            and main bronchi, two lungs at about -850 HU with vessels, a domed diaphragm, ground-glass \
            and consolidation lesions touching the pleura, and noise. OUT gets dicom/ (the series), \
            lung_mask_truth.nii.gz (1 right lung, 2 left lung), lesion_mask_truth.nii.gz (1 ground \
            glass, 2 consolidation) and phantom.json. Example:

              lungct phantom /tmp/chest --size 512 --slices 300 --spacing 1.0
              lungct phantom /tmp/chest-rle --syntax rle --shuffle --feet-first
            """)

    @Argument(help: "Folder to write to (created if missing).")
    var output: String

    @Option(help: "Rows and columns per slice.")
    var size = 256

    @Option(help: "Number of slices.")
    var slices = 120

    @Option(help: "Slice spacing in mm.")
    var spacing = 2.5

    @Option(name: .customLong("pixel-spacing"), help: "In-plane pixel spacing in mm (default: a 380 mm field of view).")
    var pixelSpacing: Double?

    @Option(help: "Number of lesions touching the pleura (alternating ground glass and consolidation).")
    var lesions = 2

    @Option(help: "Random seed: the same seed gives the same phantom.")
    var seed: UInt64 = 1

    @Option(help: "Noise standard deviation in HU.")
    var noise = 12.0

    @Option(help: "Transfer syntax.")
    var syntax = OutputTransferSyntax.explicitLittle

    @Flag(help: "Give the files names in random order relative to their positions.")
    var shuffle = false

    @Flag(
        name: .customLong("feet-first"), help: "Write a feet-first series (FFS orientation, slices from head to feet).")
    var feetFirst = false

    /// The sizes the phantom generator is meant for: a few voxels to a large CT.
    static let sizes = 8...2048
    static let sliceCounts = 1...4096

    func validate() throws {
        guard Self.sizes.contains(size) else {
            throw ValidationError("--size must be between \(Self.sizes.lowerBound) and \(Self.sizes.upperBound)")
        }
        guard Self.sliceCounts.contains(slices) else {
            throw ValidationError(
                "--slices must be between \(Self.sliceCounts.lowerBound) and \(Self.sliceCounts.upperBound)")
        }
        guard spacing > 0, (pixelSpacing ?? 1) > 0 else { throw ValidationError("spacings must be positive") }
        guard lesions >= 0 else { throw ValidationError("--lesions cannot be negative") }
    }

    func run() throws {
        var options = PhantomOptions()
        options.size = size
        options.slices = slices
        options.sliceSpacing = spacing
        options.pixelSpacing = pixelSpacing
        options.lesions = lesions
        options.seed = seed
        options.noise = noise
        var layout = PhantomLayout()
        layout.syntax = syntax
        layout.shuffleFiles = shuffle
        layout.feetFirst = feetFirst
        let phantom = ChestPhantom.make(options)
        do {
            let files = try PhantomWriter.write(phantom, options: options, layout: layout, to: output)
            print("wrote \(output): \(files.description)")
        } catch {
            throw LungCTError.outputFailed("\(output): \(error)")
        }
    }
}
