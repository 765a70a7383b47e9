import ArgumentParser
import Foundation
import ModelRuntime
import StudyAnalysis
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Score a model: a classifier on a folder of labelled images, or the CT lesion network on volumes.",
        discussion: """
            Classifiers (--task classifier): DATA holds one subfolder per class, named as the model's \
            classes; the report has the confusion matrix, AUC and calibration. A class folder may hold \
            one sub-folder per source (DATA/covid/hannover/, DATA/normal/nih/): the figures are then \
            also given per source. An absent class folder is reported, not refused: positives only \
            give a sensitivity, negatives only a specificity. --predictions writes \
            path,label,prob_<class>... per image (README, "Predictions CSV"); --maps writes each image \
            with the class-activation map of its predicted class.

            The lesion network (--task lesion), end to end as analyze runs it: --synthetic DIR inserts \
            synthetic lesions into each normal CT of DIR (--insertions times, --seed) and gives the Dice; \
            --truth STUDY=MASK the Dice against a lesion mask (1 ground glass, 2 consolidation); \
            --slice-labels STUDY=FILE the slice-level AUC against one 0/1 line per slice, first line the \
            most superior slice; --studies DIR each CT's study score, opacity and severity.

            The model must be listed with its SHA-256 in the MANIFEST beside it (or --manifest). Examples:

              lungct evaluate --model Weights/ct-slices.h5 --data held-out/ --predictions p.csv --json
              lungct evaluate --task lesion --model Weights/ct-lesions.h5 --synthetic held-out-normal/ \
                --slice-labels P001=P001-slice-labels.txt --studies volumes/
            """)

    enum Task: String, ExpressibleByArgument, CaseIterable {
        case classifier, lesion
    }

    @Option(help: "classifier (2D images) or lesion (the CT lesion network).")
    var task = Task.classifier

    @Option(help: "The model file.")
    var model: String

    @Option(help: "classifier: folder with one subfolder per class.")
    var data: String?

    @Option(help: "lesion: folder of normal CT studies (sub-folders or NIfTI files) to insert synthetic lesions into.")
    var synthetic: String?

    @Option(help: "lesion: synthetic insertions per volume.")
    var insertions = 3

    @Option(help: "lesion: seed of the synthetic lesions.")
    var seed: UInt64 = 1

    @Option(
        name: .customLong("truth"), parsing: .singleValue,
        help: "lesion: STUDY=MASK, a CT and its true lesion mask (repeatable).")
    var truths: [String] = []

    @Option(
        name: .customLong("slice-labels"), parsing: .singleValue,
        help: "lesion: STUDY=FILE, a CT and its slice labels (repeatable).")
    var sliceLabels: [String] = []

    @Option(help: "lesion: folder of CT studies to score.")
    var studies: String?

    @Option(help: "MANIFEST to check the model against (default: MANIFEST beside the model).")
    var manifest: String?

    @Option(help: "Write per-image predictions as CSV here.")
    var predictions: String?

    @Option(help: "Write class-activation overlays (PNG) into this folder.")
    var maps: String?

    @OptionGroup var json: JSONOption

    func validate() throws {
        switch task {
        case .classifier:
            guard data != nil else { throw ValidationError("--task classifier needs --data") }
            guard synthetic == nil, truths.isEmpty, sliceLabels.isEmpty, studies == nil else {
                throw ValidationError("--synthetic, --truth, --slice-labels and --studies belong to --task lesion")
            }
        case .lesion:
            guard data == nil, predictions == nil, maps == nil, manifest == nil else {
                throw ValidationError(
                    "--data, --predictions, --maps and --manifest belong to --task classifier (a lesion model is "
                        + "checked against the MANIFEST beside it)")
            }
            guard synthetic != nil || !truths.isEmpty || !sliceLabels.isEmpty || studies != nil else {
                throw ValidationError("--task lesion needs --synthetic, --truth, --slice-labels or --studies")
            }
            guard insertions >= 1 else { throw ValidationError("--insertions must be at least 1") }
            for pair in truths + sliceLabels where Self.pair(pair) == nil {
                throw ValidationError("\"\(pair)\" is not STUDY=FILE")
            }
        }
    }

    func run() throws {
        let manifestPath = manifest ?? URL(fileURLWithPath: model).deletingLastPathComponent().path + "/MANIFEST"
        guard task == .lesion else {
            let report = try ModelEvaluationRun.evaluate(
                model: model, manifest: manifestPath, data: data ?? "", predictions: predictions, maps: maps)
            try json.print(report, text: TextRenderer.evaluation)
            return
        }
        let loaded = try AnalysisModels.load(model, requireManifest: true)
        var job = LesionEvaluationJob(model: loaded)
        job.synthetic = try synthetic.map(Self.studies) ?? []
        job.insertions = insertions
        job.seed = seed
        job.truths = truths.compactMap(Self.pair).map { (study: $0.0, mask: $0.1) }
        job.sliceLabels = sliceLabels.compactMap(Self.pair).map { (study: $0.0, labels: $0.1) }
        job.studies = try studies.map(Self.studies) ?? []
        let report = try LesionEvaluation.run(job) { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        try json.print(report, text: TextRenderer.lesionEvaluation)
    }

    /// "STUDY=FILE" split at its last "=" (a study path may hold one).
    static func pair(_ text: String) -> (String, String)? {
        guard let split = text.lastIndex(of: "="), split != text.startIndex, text.index(after: split) != text.endIndex
        else { return nil }
        return (String(text[..<split]), String(text[text.index(after: split)...]))
    }

    /// The CT studies of a folder (sub-folders and NIfTI files, in name order).
    static func studies(_ folder: String) throws -> [String] {
        try LesionTraining.studies(in: folder)
    }
}
