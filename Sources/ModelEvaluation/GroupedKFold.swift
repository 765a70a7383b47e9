import SeededRandom

/// k-fold cross-validation that keeps every group (all images cut from one figure or one
/// patient) in a single fold, so near-duplicates never sit on both sides of a split, while
/// balancing fold sizes and class mix.
public enum GroupedKFold {
    /// Which file names belong together.
    public enum GroupingRule: String, Codable, Sendable, CaseIterable {
        /// The dataset's documented rule: `NAME%k.ext` (one figure split into panels) belongs to
        /// group `NAME`; any other name is its own group, without its extension.
        case figure
        /// Stricter: names of the form `ARTICLE-p<page>-…` (the COVID-CT figure names, e.g.
        /// `2020.03.22.20040782-p24-1533-3.png`) belong to group `ARTICLE`, so all figures of one
        /// paper share a fold; other names fall back to `figure`. Use it when panels of one
        /// figure are numbered `-1`, `-2` or `_3` instead of `%k`, which the figure rule misses.
        case article
    }

    /// The group of an image file. Only the last path component is used, so names are unique
    /// only within one folder: qualify the result with the folder (class) when different
    /// folders can repeat a name, as the radiograph set does (`normal/019.jpg`,
    /// `viral-pneumonia/019.jpg`).
    public static func groupName(forFileName path: String, rule: GroupingRule = .figure) -> String {
        let stem = stripExtension(
            path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path)
        if rule == .article, let article = articlePrefix(stem) { return article }
        if let percent = stem.lastIndex(of: "%"), percent != stem.startIndex {
            let suffix = stem[stem.index(after: percent)...]
            if !suffix.isEmpty && suffix.allSatisfy(\.isASCIIDigit) { return String(stem[..<percent]) }
        }
        return stem
    }

    /// A fold index in `0..<folds` for each sample.
    ///
    /// Groups are ordered by size, largest first, with ties in a seeded shuffle; each is then
    /// placed in the fold where it adds least to Σ_fold Σ_class count², that is the fold with
    /// the fewest samples of the group's classes (fewest samples overall on ties, then the lowest
    /// index). For groups of one class this is longest-processing-time scheduling per class, so
    /// each class's count per fold is within one largest-group-size of even, and while a fold is
    /// empty the next group goes there, so no fold is empty. The same seed gives the same split
    /// on any platform and toolchain (SplitMix64 and our own Fisher–Yates shuffle).
    ///
    /// - Parameters:
    ///   - groups: the group of each sample (see `groupName(forFileName:rule:)`).
    ///   - labels: the class index (≥ 0) of each sample; groups may mix classes.
    /// - Throws: `EvaluationError` when `folds < 2` or there are fewer groups than folds.
    public static func split(groups: [String], labels: [Int], folds: Int, seed: UInt64) throws(EvaluationError) -> [Int]
    {
        precondition(groups.count == labels.count, "\(groups.count) groups for \(labels.count) labels")
        precondition(labels.allSatisfy { $0 >= 0 }, "class labels must be non-negative indices")
        guard folds >= 2 else {
            throw EvaluationError(.invalidFoldCount, message: "cross-validation needs at least 2 folds, not \(folds)")
        }
        let classCount = (labels.max() ?? -1) + 1
        var memberIndices: [String: [Int]] = [:]
        for (i, group) in groups.enumerated() { memberIndices[group, default: []].append(i) }
        guard memberIndices.count >= folds else {
            throw EvaluationError(
                .tooFewGroups,
                message:
                    "\(memberIndices.count) group(s) cannot fill \(folds) folds; use at most \(memberIndices.count) folds or add data"
            )
        }

        // Sorting the names first makes the split independent of the input order.
        var names = memberIndices.keys.sorted()
        var generator = SplitMix64(seed: seed)
        generator.shuffle(&names)
        let shuffledPosition = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        names.sort {
            let (a, b) = (memberIndices[$0]!.count, memberIndices[$1]!.count)
            return a != b ? a > b : shuffledPosition[$0]! < shuffledPosition[$1]!
        }

        var classCounts = Array(repeating: Array(repeating: 0, count: classCount), count: folds)
        var sizes = Array(repeating: 0, count: folds)
        var assignment = Array(repeating: 0, count: groups.count)
        for name in names {
            let members = memberIndices[name]!
            var groupClassCounts = Array(repeating: 0, count: classCount)
            for i in members { groupClassCounts[labels[i]] += 1 }
            let fold = (0..<folds).min { f, g in
                let costF = zip(groupClassCounts, classCounts[f]).reduce(0) { $0 + $1.0 * $1.1 }
                let costG = zip(groupClassCounts, classCounts[g]).reduce(0) { $0 + $1.0 * $1.1 }
                return costF != costG ? costF < costG : sizes[f] != sizes[g] ? sizes[f] < sizes[g] : f < g
            }!
            for i in members { assignment[i] = fold }
            sizes[fold] += members.count
            for c in 0..<classCount { classCounts[fold][c] += groupClassCounts[c] }
        }
        return assignment
    }

    /// The sample indices outside and inside `fold`, for training and validation.
    public static func partition(_ assignment: [Int], fold: Int) -> (training: [Int], validation: [Int]) {
        var training: [Int] = []
        var validation: [Int] = []
        for (i, f) in assignment.enumerated() {
            if f == fold { validation.append(i) } else { training.append(i) }
        }
        return (training, validation)
    }

    /// `name.ext` → `name` when `ext` looks like a file extension (1–5 ASCII letters or digits,
    /// at least one letter); a dot inside a name such as `2020.03.10.20032136-p34` is kept.
    static func stripExtension(_ name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        let ext = name[name.index(after: dot)...]
        guard (1...5).contains(ext.count), ext.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }),
            ext.contains(where: \.isLetter)
        else { return name }
        return String(name[..<dot])
    }

    /// The patient of an NIH ChestX-ray14 file name (`00000005_001.png`: Image Index = eight
    /// digits, the patient, an underscore and three digits, the follow-up); nil for other names.
    public static func nihPatient(forFileName path: String) -> String? {
        let stem = stripExtension(
            path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path)
        let parts = stem.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 8, parts[1].count == 3,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) })
        else { return nil }
        return String(parts[0])
    }

    /// `ARTICLE` of `ARTICLE-p<digits>` followed by `-`, `%` or the end; nil for other names.
    static func articlePrefix(_ stem: String) -> String? {
        var search = stem.startIndex
        while let range = stem[search...].firstRange(of: "-p") {
            let digits = stem[range.upperBound...].prefix(while: \.isASCIIDigit)
            let after = digits.endIndex
            if range.lowerBound != stem.startIndex, !digits.isEmpty,
                after == stem.endIndex || stem[after] == "-" || stem[after] == "%"
            {
                return String(stem[..<range.lowerBound])
            }
            search = range.upperBound
        }
        return nil
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
