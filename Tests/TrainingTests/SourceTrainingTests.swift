import AppSupport
import Foundation
import ModelEvaluation
import NeuralEngine
import TestSupport
import Testing

@testable import Training

/// A class's smaller sources are repeated towards its largest, at most `maximumRepeat` times;
/// each class is balanced on its own.
@Test func sourceBalanceRepeatsTheSmallerSourcesOfEachClass() {
    // Class 0: source a 10 images, b 5, c 1; class 1: source a 3.
    let labels = [Int](repeating: 0, count: 16) + [1, 1, 1]
    let sources = [String](repeating: "a", count: 10) + [String](repeating: "b", count: 5) + ["c", "a", "a", "a"]
    let result = SourceBalance.repeated(Array(0..<19), labels: labels, sources: sources)
    func count(_ index: Int) -> Int { result.filter { $0 == index }.count }
    #expect(count(0) == 1 && count(9) == 1, "the largest source once")
    #expect(count(10) == 2 && count(14) == 2, "half the largest: twice")
    #expect(count(15) == SourceBalance.maximumRepeat, "one image: capped")
    #expect(count(16) == 1 && count(18) == 1, "class 1 has one source")
    #expect(result.count == 10 + 10 + 4 + 3)
    // Indices left out of the call stay out.
    #expect(SourceBalance.repeated([0, 15], labels: labels, sources: sources).sorted() == [0, 15])
}

/// NIH ChestX-ray14 names group by patient, across classes: one patient's normal and finding
/// films must not sit on both sides of a split.
@Test func nihFilmsGroupByPatientAcrossClasses() {
    #expect(GroupedKFold.nihPatient(forFileName: "x/normal/00000005_001.png") == "00000005")
    #expect(GroupedKFold.nihPatient(forFileName: "00012345_000") == "00012345")
    for other in ["CHNCXR_0001_0.png", "0000005_001.png", "00000005_01.png", "0000000a_001.png", "COVID-00001.jpg"] {
        #expect(GroupedKFold.nihPatient(forFileName: other) == nil, "\(other)")
    }
    #expect(
        ImageFolder.group(of: "d/normal/nih/00000005_001.png", className: "normal")
            == ImageFolder.group(of: "d/other/nih/00000005_007.png", className: "other"))
    #expect(
        ImageFolder.group(of: "d/normal/019.jpg", className: "normal")
            != ImageFolder.group(of: "d/other/019.jpg", className: "other"))
}

/// Leave-one-source-out on a folder with two sources per class: one model per source, each
/// tested on exactly that source's images, and the out-of-fold figures broken down by source.
@Test func leaveOneSourceOutTestsEachSourceOnAModelThatNeverSawIt() throws {
    let data = try syntheticFolder(perClass: 24, seed: 8)
    // Move every class's images into two source sub-folders, "one" and "two".
    let fm = FileManager.default
    var perSource: [String: Int] = [:]
    for name in ["covid", "noncovid"] {
        let files = try fm.contentsOfDirectory(atPath: data + "/" + name).sorted()
        for source in ["one", "two"] {
            try fm.createDirectory(atPath: "\(data)/\(name)/\(source)", withIntermediateDirectories: true)
        }
        for (index, file) in files.enumerated() {
            let source = index % 3 == 0 ? "two" : "one"
            try fm.moveItem(atPath: "\(data)/\(name)/\(file)", toPath: "\(data)/\(name)/\(source)/\(file)")
            perSource[source, default: 0] += 1
        }
    }
    let weights = try temporaryDirectory()
    var job = TrainJob(task: .ct, data: data, output: weights + "/sources.h5")
    job.folds = 3
    job.size = 32
    job.width = 4
    job.options.epochs = 6
    job.options.learningRate = 5e-3
    job.balanceSources = true
    job.leaveSourceOut = true
    let report = try ModelTraining.train(job)
    let holdouts = try #require(report.leaveOneSourceOut)
    #expect(holdouts.map(\.test.source) == ["one", "two"])
    for holdout in holdouts {
        #expect(holdout.test.images == perSource[holdout.test.source])
        #expect(holdout.trainImages + holdout.validationImages == 48 - holdout.test.images)
        #expect(holdout.classesWithoutTraining.isEmpty)
        #expect(holdout.test.imagesPerClass.values.reduce(0, +) == holdout.test.images)
    }
    let bySource = try #require(report.outOfFoldBySource)
    #expect(bySource.map(\.images) == [perSource["one"], perSource["two"]])
    // The card carries both tables.
    let card = try String(contentsOfFile: weights + "/sources.report.json", encoding: .utf8)
    #expect(card.contains("leaveOneSourceOut"))
}
