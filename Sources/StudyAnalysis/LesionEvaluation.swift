import AppSupport
import Foundation
import LesionSynthesis
import LungSegmentation
import ModelEvaluation
import ModelRuntime
import NIfTIIO
import SeededRandom
import StudyInput
import VolumeCore

/// What `lungct evaluate --task lesion` measures, always end to end as analyze runs it (the
/// input's own grid, lungs segmented on the CT the network sees, the 0.5 mask threshold):
/// - Dice on synthetic lesions inserted into normal volumes held out of training;
/// - Dice against a truth mask (the phantom's lesion_mask_truth.nii.gz);
/// - slice-level AUC against a slice-label file (one 0/1 per slice, first line = most superior);
/// - the study score, opacity and severity of each volume of a folder.
public struct LesionEvaluationJob: Sendable {
    public var model: LoadedModel
    public var synthetic: [String] = []
    /// Independent insertions per synthetic volume.
    public var insertions = 3
    public var seed: UInt64 = 1
    public var sliceLabels: [(study: String, labels: String)] = []
    public var truths: [(study: String, mask: String)] = []
    public var studies: [String] = []

    public init(model: LoadedModel) { self.model = model }
}

public struct LesionEvaluationReport: Codable, Sendable {
    /// Overlap of the network's lesion mask with a truth mask on the input grid. A Dice is nil
    /// when neither mask holds that class.
    public struct Overlap: Codable, Sendable {
        public var study: String
        public var insertion: Int?
        public var lesion: Double?
        public var groundGlass: Double?
        public var consolidation: Double?
        public var truthML: Double
        public var foundML: Double
        /// Synthetic truth that lungct's lung segmentation of the lesioned CT left out of the
        /// lungs (dense lesions at the pleura): the network never sees it as lung.
        public var truthOutsideLungsML: Double?
    }

    public struct SliceAUC: Codable, Sendable {
        public var study: String
        public var labels: String
        public var slices: Int
        public var positives: Int
        /// Slice score = the highest lesion probability in the slice's lungs.
        public var aucMaxProbability: Double?
        /// Slice score = the lesion volume in the slice.
        public var aucLesionML: Double?
        /// Which input slice the first label line was matched to.
        public var firstLineSlice: Int
    }

    public struct StudyScore: Codable, Sendable {
        public var study: String
        public var score: Double?
        public var opacityPercent: Double?
        public var severity: Int?
        public var bilateral: Bool?
        public var lesionML: Double?
        public var seconds: Double
    }

    public var model: String
    public var sha256: String
    public var synthetic: [Overlap] = []
    /// Dice over all synthetic insertions pooled (voxel counts summed), per class.
    public var syntheticPooled: Overlap?
    public var truth: [Overlap] = []
    public var sliceAUC: [SliceAUC] = []
    public var studies: [StudyScore] = []
    public var notes: [String] = []
}

public enum LesionEvaluation {
    public static func run(_ job: LesionEvaluationJob, progress: (@Sendable (String) -> Void)? = nil)
        throws(LungCTError) -> LesionEvaluationReport
    {
        var report = LesionEvaluationReport(
            model: URL(fileURLWithPath: job.model.path).lastPathComponent, sha256: job.model.sha256)
        var pooled = OverlapCounts()
        for (index, study) in job.synthetic.enumerated() {
            let hu = try loadCT(study)
            let lungs = LungSegmenter.segment(hu).labels
            for insertion in 0..<job.insertions {
                var rng = SplitMix64(seed: job.seed &* 1_000_003 &+ UInt64(index) &* 1_009 &+ UInt64(insertion))
                var lesioned = hu
                let truth = SyntheticLesions.insert(
                    into: &lesioned, lungs: lungs, options: SyntheticLesionOptions(), using: &rng)
                let seen = LungSegmenter.segment(lesioned).labels
                guard let found = try LesionScoring.analyze(hu: lesioned, labels: seen, model: job.model)?.mask else {
                    throw .nothingToAnalyse(input: study, details: "no lung was found in it")
                }
                let counts = OverlapCounts(truth: truth.voxels, found: found.voxels)
                pooled.add(counts)
                let voxelML = hu.geometry.voxelVolume / 1000
                var overlap = counts.overlap(study: name(study), insertion: insertion + 1, voxelML: voxelML)
                let outside = zip(truth.voxels, seen.voxels).reduce(0) { $0 + ($1.0 != 0 && $1.1 == 0 ? 1 : 0) }
                overlap.truthOutsideLungsML = Double(outside) * voxelML
                report.synthetic.append(overlap)
                progress?("synthetic \(name(study)) #\(insertion + 1): \(describe(report.synthetic.last!))")
            }
        }
        if !job.synthetic.isEmpty {
            report.syntheticPooled = pooled.overlap(study: "all", insertion: nil, voxelML: 0)
            report.notes.append(
                "synthetic: \(job.insertions) insertion(s) per volume with the default SyntheticLesionOptions, seed "
                    + "\(job.seed); lungs segmented on the lesioned CT, as analyze would; pooled Dice sums voxels "
                    + "over all insertions (its mL figures are 0)")
        }
        for (study, maskPath) in job.truths {
            report.truth.append(try truthOverlap(study, mask: maskPath, model: job.model))
            progress?("truth \(study): \(describe(report.truth.last!))")
        }
        for (study, labels) in job.sliceLabels {
            report.sliceAUC.append(try sliceAUC(study, labels: labels, model: job.model))
            let auc = report.sliceAUC.last!
            progress?(
                "slices \(study): AUC \(format(auc.aucMaxProbability)) (max probability), "
                    + "\(format(auc.aucLesionML)) (lesion mL), \(auc.positives)/\(auc.slices) positive")
        }
        for study in job.studies {
            report.studies.append(try studyScore(study, model: job.model))
            let s = report.studies.last!
            progress?("study \(s.study): score \(format(s.score)), opacity \(format(s.opacityPercent)) %")
        }
        return report
    }

    static func name(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }

    static func format(_ value: Double?) -> String { value.map { String(format: "%.3f", $0) } ?? "n/a" }

    static func describe(_ o: LesionEvaluationReport.Overlap) -> String {
        "Dice lesion \(format(o.lesion)), ground glass \(format(o.groundGlass)), consolidation "
            + "\(format(o.consolidation)); truth \(String(format: "%.1f", o.truthML)) mL, found "
            + "\(String(format: "%.1f", o.foundML)) mL"
            + (o.truthOutsideLungsML.map { String(format: ", %.1f mL of it outside the lungs found", $0) } ?? "")
    }

    /// A study's CT in HU, as analyze loads it (its automatically chosen series).
    static func loadCT(_ path: String) throws(LungCTError) -> Volume<Int16> {
        guard let hu = try Inspection.loadCT(path) else {
            throw .usage("\(path): not a CT volume; the lesion evaluation takes CT studies")
        }
        return hu
    }

    /// The lesion stage as analyze runs it: lungs segmented on this CT, then the network.
    static func analysis(_ hu: Volume<Int16>, study: String, model: LoadedModel) throws(LungCTError)
        -> LesionAnalysis
    {
        let lungs = LungSegmenter.segment(hu).labels
        guard let analysis = try LesionScoring.analyze(hu: hu, labels: lungs, model: model) else {
            throw .nothingToAnalyse(input: study, details: "no lung was found in it")
        }
        return analysis
    }

    static func truthOverlap(_ study: String, mask path: String, model: LoadedModel) throws(LungCTError)
        -> LesionEvaluationReport.Overlap
    {
        let hu = try loadCT(study)
        let truth: Volume<UInt8>
        do {
            let (volume, _) = try NIfTI.read(path)
            truth = volume.asInt16.map { UInt8(clamping: $0) }
        } catch {
            throw .inputFailed("\(path): cannot read the truth mask: \(error)")
        }
        guard truth.size == hu.size else {
            throw .usage("\(path): the truth mask is \(truth.size), the CT \(hu.size): not on the CT's grid")
        }
        let found = try analysis(hu, study: study, model: model).mask
        return OverlapCounts(truth: truth.voxels, found: found.voxels)
            .overlap(study: study, insertion: nil, voxelML: hu.geometry.voxelVolume / 1000)
    }

    static func studyScore(_ study: String, model: LoadedModel) throws(LungCTError)
        -> LesionEvaluationReport.StudyScore
    {
        let start = Date()
        let hu = try loadCT(study)
        let lungs = LungSegmenter.segment(hu).labels
        let result = try LesionScoring.analyze(hu: hu, labels: lungs, model: model)
        let panel = result?.report.panel
        return .init(
            study: name(study), score: result?.report.score.value, opacityPercent: panel?.total.opacityPercent,
            severity: result?.report.severity.total, bilateral: panel?.bilateral, lesionML: panel?.total.lesionML,
            seconds: Date().timeIntervalSince(start))
    }
}

/// Voxel counts of a truth and a found label volume (0 none, 1 ground glass, 2 consolidation).
struct OverlapCounts {
    /// [truth][found] counts over labels 0...2 (other labels count as lesion of class 1).
    var table = [[Int]](repeating: [Int](repeating: 0, count: 3), count: 3)

    init() {}

    init(truth: [UInt8], found: [UInt8]) {
        precondition(truth.count == found.count)
        for i in truth.indices { table[Int(min(truth[i], 2))][Int(min(found[i], 2))] += 1 }
    }

    mutating func add(_ other: OverlapCounts) {
        for t in 0..<3 { for f in 0..<3 { table[t][f] += other.table[t][f] } }
    }

    /// Dice of the voxels whose truth is in `truth` against those whose found label is in it.
    func dice(_ labels: Set<Int>) -> Double? {
        var both = 0
        var truthCount = 0
        var foundCount = 0
        for t in 0..<3 {
            for f in 0..<3 {
                let n = table[t][f]
                if labels.contains(t) && labels.contains(f) { both += n }
                if labels.contains(t) { truthCount += n }
                if labels.contains(f) { foundCount += n }
            }
        }
        guard truthCount + foundCount > 0 else { return nil }
        return 2 * Double(both) / Double(truthCount + foundCount)
    }

    func overlap(study: String, insertion: Int?, voxelML: Double) -> LesionEvaluationReport.Overlap {
        let truthVoxels = table[1].reduce(0, +) + table[2].reduce(0, +)
        let foundVoxels = (0..<3).reduce(0) { $0 + table[$1][1] + table[$1][2] }
        return .init(
            study: study, insertion: insertion, lesion: dice([1, 2]), groundGlass: dice([1]),
            consolidation: dice([2]), truthML: Double(truthVoxels) * voxelML, foundML: Double(foundVoxels) * voxelML)
    }
}
