import Foundation
import SeededRandom
import TestSupport
import Testing

@testable import ModelEvaluation

/// 400 groups of 1–6 samples, classes 0/1/2 in proportion 5:3:2, group names in random order.
func syntheticGroups(seed: UInt64 = 1) -> (groups: [String], labels: [Int]) {
    var generator = SplitMix64(seed: seed)
    var groups: [String] = []
    var labels: [Int] = []
    for g in 0..<400 {
        let size = 1 + Int(generator.next() % 6)
        let u = generator.nextDouble()
        let label = u < 0.5 ? 0 : u < 0.8 ? 1 : 2
        for _ in 0..<size {
            groups.append("case-\(g)")
            labels.append(label)
        }
    }
    var order = Array(groups.indices)
    generator.shuffle(&order)
    return (order.map { groups[$0] }, order.map { labels[$0] })
}

/// Checks the promises of `GroupedKFold.split` and returns the fold of each group.
func checkSplit(_ assignment: [Int], groups: [String], labels: [Int], folds: Int) throws -> [String: Int] {
    #expect(assignment.count == groups.count)
    #expect(assignment.allSatisfy { (0..<folds).contains($0) })
    var foldOfGroup: [String: Int] = [:]
    for (group, fold) in zip(groups, assignment) {
        if let seen = foldOfGroup[group], seen != fold {
            throw TestFailure("group \(group) is in folds \(seen) and \(fold)")
        }
        foldOfGroup[group] = fold
    }
    #expect(Set(assignment).count == folds, "every fold has samples")
    for c in Set(labels) {
        var sizeOfGroup: [String: Int] = [:]
        for (group, label) in zip(groups, labels) where label == c { sizeOfGroup[group, default: 0] += 1 }
        let largest = Double(sizeOfGroup.values.max()!)
        let even = Double(labels.filter { $0 == c }.count) / Double(folds)
        for f in 0..<folds {
            let count = Double(zip(labels, assignment).filter { $0 == c && $1 == f }.count)
            #expect(abs(count - even) <= largest, "class \(c) has \(count) samples in fold \(f), even is \(even)")
        }
    }
    return foldOfGroup
}

@Test func groupedSplitKeepsGroupsTogetherAndBalancesClasses() throws {
    let (groups, labels) = syntheticGroups()
    let assignment = try GroupedKFold.split(groups: groups, labels: labels, folds: 5, seed: 11)
    _ = try checkSplit(assignment, groups: groups, labels: labels, folds: 5)
    let sizes = (0..<5).map { f in assignment.filter { $0 == f }.count }
    #expect(sizes.max()! - sizes.min()! <= 3 * 6, "fold sizes \(sizes)")
}

@Test func groupedSplitIsDeterministicPerSeedAndIndependentOfOrder() throws {
    let (groups, labels) = syntheticGroups()
    let first = try GroupedKFold.split(groups: groups, labels: labels, folds: 5, seed: 11)
    #expect(try GroupedKFold.split(groups: groups, labels: labels, folds: 5, seed: 11) == first)
    #expect(try GroupedKFold.split(groups: groups, labels: labels, folds: 5, seed: 12) != first)

    // The same samples in reverse order get the same group-to-fold mapping.
    let reversed = try GroupedKFold.split(groups: groups.reversed(), labels: labels.reversed(), folds: 5, seed: 11)
    #expect(Array(reversed.reversed()) == first)
}

@Test func groupedSplitFillsEveryFoldAndHandlesMixedGroups() throws {
    // Exactly as many groups as folds; one group mixes both classes.
    let groups = ["a", "a", "a", "b", "c", "c", "d"]
    let labels = [0, 0, 1, 1, 0, 0, 1]
    let assignment = try GroupedKFold.split(groups: groups, labels: labels, folds: 4, seed: 3)
    _ = try checkSplit(assignment, groups: groups, labels: labels, folds: 4)
    let partition = GroupedKFold.partition(assignment, fold: assignment[3])
    #expect(partition.validation == [3])
    #expect(partition.training.count == 6)
}

@Test func groupedSplitRefusesImpossibleRequests() {
    let tooFew = #expect(throws: EvaluationError.self) {
        try GroupedKFold.split(groups: ["a", "a", "b"], labels: [0, 0, 1], folds: 3, seed: 0)
    }
    #expect(tooFew?.kind == .tooFewGroups)
    #expect(tooFew?.description == "2 group(s) cannot fill 3 folds; use at most 2 folds or add data")
    let oneFold = #expect(throws: EvaluationError.self) {
        try GroupedKFold.split(groups: ["a", "b"], labels: [0, 1], folds: 1, seed: 0)
    }
    #expect(oneFold?.kind == .invalidFoldCount)
}

@Test func groupNamesFollowTheDatasetRule() {
    let figure: [(String, String)] = [
        ("2020.03.10.20032136-p34-118%1.png", "2020.03.10.20032136-p34-118"),
        ("2020.02.10.20021584-p6-52%10.png", "2020.02.10.20021584-p6-52"),
        ("2020.01.24.919183-p27-132.png", "2020.01.24.919183-p27-132"),
        ("21%0.jpg", "21"),
        ("102.png", "102"),
        ("noncovid/39%8.jpg", "39"),
        ("/abs/path/covid/2020.03.22.20040782-p24-1533-3.png", "2020.03.22.20040782-p24-1533-3"),
        ("50%.png", "50%"),  // no index after the %
        ("%3.png", "%3"),  // nothing before it
        ("a%b%2.png", "a%b"),
        ("2020.03.10.20032136-p34", "2020.03.10.20032136-p34"),  // no extension: the dot stays
        ("scan.nii.gz", "scan.nii"),
    ]
    for (name, group) in figure {
        #expect(GroupedKFold.groupName(forFileName: name) == group, "\(name)")
    }
    let article: [(String, String)] = [
        ("2020.03.22.20040782-p24-1533-3.png", "2020.03.22.20040782"),
        ("2020.03.01.20029769-p21-73_4.png", "2020.03.01.20029769"),
        ("2020.02.10.20021584-p6-52%10.png", "2020.02.10.20021584"),
        (
            "Talaromyces-marneffei-infection_2020_International-p1-12%3.png",
            "Talaromyces-marneffei-infection_2020_International"
        ),
        ("21%0.jpg", "21"),  // not an article name: the figure rule
        ("deep-p2x-1.png", "deep-p2x-1"),
    ]
    for (name, group) in article {
        #expect(GroupedKFold.groupName(forFileName: name, rule: .article) == group, "\(name)")
    }
}

@Test(
    .enabled(if: hasSharedData("ct-slices/covid", "ct-slices/noncovid"), "needs ../shared/data"),
    arguments: GroupedKFold.GroupingRule.allCases)
func groupedSplitOfRealCTSliceNames(rule: GroupedKFold.GroupingRule) throws {
    let covid = try #require(sharedData("ct-slices/covid"))
    let noncovid = try #require(sharedData("ct-slices/noncovid"))
    var groups: [String] = []
    var labels: [Int] = []
    for (label, (folder, path)) in [("noncovid", noncovid), ("covid", covid)].enumerated() {
        for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
            // Qualified by folder: group names are unique only within one folder.
            groups.append(folder + "/" + GroupedKFold.groupName(forFileName: name, rule: rule))
            labels.append(label)
        }
    }
    #expect(!groups.contains { $0.contains("%") })
    #expect(Set(groups).count < groups.count, "some images share a figure")
    let assignment = try GroupedKFold.split(groups: groups, labels: labels, folds: 5, seed: 2020)
    _ = try checkSplit(assignment, groups: groups, labels: labels, folds: 5)
}
