import ArgumentParser
import Foundation
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a folder of labelled images with a model: confusion matrix, AUC, calibration.",
        discussion: """
            DATA holds one subfolder per class, named as the model's classes. --predictions writes \
            path,label,prob_<class>... per image (README, "Predictions CSV"); --maps writes each image \
            with the class-activation map of its predicted class. The model must be listed with its \
            SHA-256 in the MANIFEST beside it (or --manifest). Example:

              lungct evaluate --model Weights/ct-slices.h5 --data held-out/ --predictions p.csv --json
            """)

    @Option(help: "The model file.")
    var model: String

    @Option(help: "Folder with one subfolder per class.")
    var data: String

    @Option(help: "MANIFEST to check the model against (default: MANIFEST beside the model).")
    var manifest: String?

    @Option(help: "Write per-image predictions as CSV here.")
    var predictions: String?

    @Option(help: "Write class-activation overlays (PNG) into this folder.")
    var maps: String?

    @OptionGroup var json: JSONOption

    func run() throws {
        let manifestPath = manifest ?? URL(fileURLWithPath: model).deletingLastPathComponent().path + "/MANIFEST"
        let report = try ModelEvaluationRun.evaluate(
            model: model, manifest: manifestPath, data: data, predictions: predictions, maps: maps)
        try json.print(report, text: TextRenderer.evaluation)
    }
}
