import AppSupport
import Foundation
import NIfTIIO
import TestSupport
import Testing
import VolumeCore

@testable import StudyAnalysis

@Test func overlapCountsGiveTheDiceOfEachClassAndOfAnyLesion() {
    // truth: 2 ground glass, 2 consolidation; found: one ground glass right, one consolidation
    // called ground glass, one consolidation right, one false ground glass.
    let truth: [UInt8] = [1, 1, 2, 2, 0, 0]
    let found: [UInt8] = [1, 0, 1, 2, 1, 0]
    let counts = OverlapCounts(truth: truth, found: found)
    #expect(counts.dice([1, 2]) == 2.0 * 3 / (4 + 4))
    #expect(counts.dice([1]) == 2.0 * 1 / (2 + 3))
    #expect(counts.dice([2]) == 2.0 * 1 / (2 + 1))
    #expect(OverlapCounts(truth: [0, 0], found: [0, 0]).dice([2]) == nil)
    let overlap = counts.overlap(study: "s", insertion: 1, voxelML: 0.5)
    #expect(overlap.truthML == 2 && overlap.foundML == 2)
}

@Test func sliceLabelsAreReadStrictly() throws {
    let folder = try temporaryDirectory()
    try "1\n0\n\n# note\n1\n".write(toFile: folder + "/ok.txt", atomically: true, encoding: .utf8)
    #expect(try LesionEvaluation.readSliceLabels(folder + "/ok.txt") == [1, 0, 1])
    try "1\n0.5\n".write(toFile: folder + "/bad.txt", atomically: true, encoding: .utf8)
    #expect {
        try LesionEvaluation.readSliceLabels(folder + "/bad.txt")
    } throws: { error in
        "\(error)".contains("bad.txt") && "\(error)".contains("line 2")
    }
    #expect(throws: LungCTError.self) { try LesionEvaluation.readSliceLabels(folder + "/missing.txt") }
}

@Test func theFirstLabelLineIsTheMostSuperiorSliceHoweverTheVolumeIsStored() throws {
    let ct = lesionPhantom().ct
    let (count, line) = LesionEvaluation.slicesFromTheTop(ct.geometry)
    #expect(count == ct.size.z)
    // LPS: +z points superior, so the top slice is the last.
    #expect(line(0) == count - 1 && line(count - 1) == 0)
    let feetFirst = try ct.reoriented(to: "RAI")
    let (_, flipped) = LesionEvaluation.slicesFromTheTop(feetFirst.geometry)
    #expect(flipped(0) == 0)
    for n in [0, 3, count - 1] {
        let top = feetFirst.geometry.physicalPoint(i: 0, j: 0, k: Double(flipped(n))).z
        let same = ct.geometry.physicalPoint(i: 0, j: 0, k: Double(line(n))).z
        #expect(abs(top - same) < 1e-6)
    }
}

/// Slice AUC end to end on a NIfTI: a network that calls every lung voxel ground glass scores
/// each slice by whether it holds lung, so labels that say "lung" give AUC 1 stored either
/// way, and the same labels read bottom-up do not.
@Test func sliceAUCMatchesLabelsFromTheTopOnAVolumeStoredEitherWay() throws {
    var ct = lesionPhantom().ct
    // Soft tissue in the lowest slices, so that the slices with lung are not symmetric.
    let plane = ct.size.x * ct.size.y
    for index in 0..<(4 * plane) { ct.voxels[index] = 40 }
    let model = try lesionModel(everywhere: 1)
    let folder = try temporaryDirectory()
    // Slices where lungct finds lung, from the top (LPS: last first).
    let analysed = try LesionEvaluation.analysis(ct, study: "phantom", model: model)
    let withLung = Set(analysed.slices.filter { $0.maxProbability > 0.5 }.map(\.z))
    let z = ct.size.z
    let fromTop = (0..<z).map { withLung.contains(z - 1 - $0) ? 1 : 0 }
    try #require(fromTop != fromTop.reversed(), "the phantom's lung slices are symmetric; the test needs them not")
    try fromTop.map(String.init).joined(separator: "\n").write(
        toFile: folder + "/labels.txt", atomically: true, encoding: .utf8)
    try fromTop.reversed().map(String.init).joined(separator: "\n").write(
        toFile: folder + "/upside-down.txt", atomically: true, encoding: .utf8)
    try NIfTI.write(ct, to: folder + "/lps.nii.gz")
    try NIfTI.write(try ct.reoriented(to: "RAI"), to: folder + "/rai.nii.gz")
    for stored in ["lps", "rai"] {
        let auc = try LesionEvaluation.sliceAUC(
            folder + "/\(stored).nii.gz", labels: folder + "/labels.txt", model: model)
        #expect(auc.aucMaxProbability == 1, "\(stored): \(auc)")
        #expect(auc.slices == z && auc.positives == fromTop.filter { $0 == 1 }.count)
        let wrong = try LesionEvaluation.sliceAUC(
            folder + "/\(stored).nii.gz", labels: folder + "/upside-down.txt", model: model)
        #expect((wrong.aucMaxProbability ?? 1) < 1, "\(stored): \(wrong)")
    }
    try "1\n0\n".write(toFile: folder + "/short.txt", atomically: true, encoding: .utf8)
    #expect {
        try LesionEvaluation.sliceAUC(folder + "/lps.nii.gz", labels: folder + "/short.txt", model: model)
    } throws: { error in
        "\(error)".contains("2 slice labels for \(z) slices")
    }
}

/// The Dice against a truth mask: a network that calls every lung voxel ground glass, against
/// a truth of the phantom's whole lungs as ground glass, finds them (lungs segmented by
/// lungct, so not exactly); against the phantom's lesions only, it overcalls.
@Test func truthDiceComparesTheLesionMaskWithTheGivenMask() throws {
    let phantom = lesionPhantom()
    let model = try lesionModel(everywhere: 1)
    let folder = try temporaryDirectory()
    try NIfTI.write(phantom.ct, to: folder + "/ct.nii.gz")
    try NIfTI.write(phantom.lungs.map { $0 == 0 ? Int16(0) : 1 }, to: folder + "/lungs.nii.gz")
    try NIfTI.write(phantom.lesionMask.map { Int16($0) }, to: folder + "/lesions.nii.gz")
    let lungs = try LesionEvaluation.truthOverlap(folder + "/ct.nii.gz", mask: folder + "/lungs.nii.gz", model: model)
    #expect((lungs.lesion ?? 0) > 0.9 && lungs.groundGlass == lungs.lesion && lungs.consolidation == nil, "\(lungs)")
    let lesions = try LesionEvaluation.truthOverlap(
        folder + "/ct.nii.gz", mask: folder + "/lesions.nii.gz", model: model)
    #expect((lesions.lesion ?? 1) < 0.5 && lesions.consolidation == 0, "\(lesions)")
}

/// Synthetic insertions: each gives its truth volume and Dice, the pooled Dice lies between the
/// insertions' worst and best, and a second run with the same seed gives the same numbers.
@Test func syntheticDiceIsMeasuredPerInsertionAndRepeats() throws {
    let folder = try temporaryDirectory()
    try FileManager.default.createDirectory(atPath: folder + "/normal", withIntermediateDirectories: true)
    try NIfTI.write(
        testPhantom(size: 64, slices: 24, spacing: 8, lesions: 0, seed: 3).phantom.ct, to: folder + "/normal/ct.nii.gz")
    var job = LesionEvaluationJob(model: try lesionModel(everywhere: 1))
    job.synthetic = [folder + "/normal/ct.nii.gz"]
    job.insertions = 2
    let report = try LesionEvaluation.run(job)
    #expect(report.synthetic.count == 2 && report.synthetic.map(\.insertion) == [1, 2])
    for o in report.synthetic {
        #expect(o.truthML > 0 && o.foundML > o.truthML, "everything is called lesion: \(o)")
        #expect((o.truthOutsideLungsML ?? -1) >= 0 && (o.truthOutsideLungsML ?? 0) <= o.truthML)
    }
    let dice = report.synthetic.compactMap(\.lesion)
    let pooled = try #require(report.syntheticPooled?.lesion)
    #expect(dice.count == 2 && pooled >= dice.min()! - 1e-9 && pooled <= dice.max()! + 1e-9)
    #expect(try LesionEvaluation.run(job).synthetic.map(\.lesion) == report.synthetic.map(\.lesion))
}
