import AppSupport
import Foundation
import ModelEvaluation
import ModelRuntime
import VolumeCore

extension LesionEvaluation {
    /// Slice-level AUC of a study against a slice-label file: one 0 or 1 per line, one line per
    /// input slice along the axis nearest the patient's S axis, the first line the most
    /// superior slice (the format of covid-ct-md's slice labels). A slice without lung scores 0.
    static func sliceAUC(_ study: String, labels path: String, model: LoadedModel) throws(LungCTError)
        -> LesionEvaluationReport.SliceAUC
    {
        let labels = try readSliceLabels(path)
        let hu = try loadCT(study)
        let (count, inputSlice) = slicesFromTheTop(hu.geometry)
        guard labels.count == count else {
            throw .usage("\(path): \(labels.count) slice labels for \(count) slices of \(study) along its S axis")
        }
        let result = try analysis(hu, study: study, model: model)
        var maxProbability = [Double](repeating: 0, count: count)
        var lesionML = [Double](repeating: 0, count: count)
        for slice in result.slices where (0..<count).contains(slice.z) {
            maxProbability[slice.z] = max(maxProbability[slice.z], slice.maxProbability)
            lesionML[slice.z] += slice.lesionML
        }
        let order = (0..<count).map(inputSlice)
        let positives = labels.map { $0 == 1 }
        return .init(
            study: study, labels: path, slices: count, positives: positives.filter { $0 }.count,
            aucMaxProbability: ROC.auc(scores: order.map { maxProbability[$0] }, positives: positives),
            aucLesionML: ROC.auc(scores: order.map { lesionML[$0] }, positives: positives),
            firstLineSlice: inputSlice(0))
    }

    /// The number of input slices along the axis nearest the patient's S axis, and the input
    /// slice index of label line `n` when line 0 is the most superior slice (the S coordinate
    /// grows with the index when that axis points superior, as LPS's +z does).
    static func slicesFromTheTop(_ geometry: Geometry) -> (count: Int, inputSlice: (Int) -> Int) {
        let axis = CovidScoring.superiorAxis(geometry)
        let count = geometry.size[axis]
        let superiorLast = geometry.direction[axis].z > 0
        return (count, { line in superiorLast ? count - 1 - line : line })
    }

    /// The 0/1 lines of a slice-label file (blank lines and '#' comments skipped).
    static func readSliceLabels(_ path: String) throws(LungCTError) -> [Int] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .inputFailed("\(path): cannot read the slice labels (not a readable UTF-8 text file)")
        }
        var labels: [Int] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line == "0" || line == "1" else {
                throw .usage("\(path): line \(number + 1) is \"\(line.prefix(20))\", not 0 or 1")
            }
            labels.append(line == "1" ? 1 : 0)
        }
        guard !labels.isEmpty else { throw .usage("\(path): holds no slice label") }
        return labels
    }
}
