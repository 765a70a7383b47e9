import Foundation
import TestSupport
import Testing

@Test func helpShowsEveryCommandWithExamples() throws {
    let help = try lungct("--help")
    #expect(help.status == 0)
    for command in ["analyze", "info", "convert", "phantom"] { #expect(help.stdout.contains(command)) }
    #expect(help.stdout.contains("Exit codes"))
    for command in ["analyze", "info", "convert", "phantom"] {
        let sub = try lungct(command, "--help")
        #expect(sub.status == 0)
        #expect(sub.stdout.contains("Example"), "\(command) --help has a worked example")
    }
}

/// The exit codes are one table in the CLI: `--help` and `lungct exit-codes` print it, and the
/// README's table is the one it prints in Markdown, so the three cannot drift apart.
@Test func theExitCodeTableIsOneTable() throws {
    let markdown = try lungct("exit-codes", "--markdown")
    #expect(markdown.status == 0)
    let table = markdown.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(table.hasPrefix("| code | meaning |"))
    let readme = try String(contentsOfFile: repositoryRoot() + "/README.md", encoding: .utf8)
    #expect(readme.contains(table), "README.md's exit-code table differs from `lungct exit-codes --markdown`")
    let help = try lungct("--help").stdout
    for code in [0, 1, 2, 3, 4, 5, 6, 7, 8, 130] {
        #expect(table.contains("| \(code) |"), "code \(code) is in the table")
        #expect(help.contains(" \(code)  "), "code \(code) is in --help")
    }
}

@Test func batchMergeIsASubcommandAndBatchRunTheDefault() throws {
    let work = try temporaryDirectory()
    try FileManager.default.createDirectory(atPath: work + "/empty", withIntermediateDirectories: true)
    // `batch ARCHIVE -o OUT` and `batch run ARCHIVE -o OUT` are the same command.
    #expect(try lungct("batch", work + "/empty", "-o", work + "/a").status == 2)
    #expect(try lungct("batch", "run", work + "/empty", "-o", work + "/b").status == 2)
    let merge = try lungct("batch", "merge", work + "/a")
    #expect(merge.status == 2, "a merge of an output folder with no finished case has nothing: \(merge.stderr)")
    #expect(try lungct("batch", "merge", "--help").stdout.contains("Example"))
}

@Test func usageErrorsExitWithOne() throws {
    #expect(try lungct("info").status == 1)
    #expect(try lungct("convert", "a", "b.txt").status == 1)
    #expect(try lungct("phantom", "/tmp/x", "--syntax", "jpeg2000").status == 1)
    #expect(try lungct("frobnicate").status == 1)
}

@Test func phantomInfoConvertEndToEnd() throws {
    let work = try temporaryDirectory()
    let made = try lungct(
        "phantom", work + "/p", "--size", "48", "--slices", "12", "--spacing", "10", "--syntax", "rle", "--shuffle")
    #expect(made.status == 0, "\(made.stderr)")
    let info = try lungct("info", work + "/p", "--json")
    #expect(info.status == 0)
    let report = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
    let series = report?["series"] as? [[String: Any]]
    #expect(series?.count == 1)
    #expect(series?.first?["size"] as? [Int] == [48, 48, 12])
    #expect((series?.first?["transferSyntaxes"] as? [String])?.first?.contains("RLE") == true)

    let text = try lungct("info", work + "/p", "--stats")
    #expect(text.stdout.contains("chosen:") && text.stdout.contains("loaded"))

    let converted = try lungct("convert", work + "/p", work + "/ct.nii.gz")
    #expect(converted.status == 0)
    #expect(FileManager.default.fileExists(atPath: work + "/ct.nii.gz"))
}

@Test func nothingToAnalyseExitsWithTwoAndNamesTheInput() throws {
    let work = try temporaryDirectory()
    try "x".write(toFile: work + "/notes.txt", atomically: true, encoding: .utf8)
    let info = try lungct("info", work)
    #expect(info.status == 2)
    #expect(info.stderr.contains(work))
    let convert = try lungct("convert", work, work + "/out.nii.gz")
    #expect(convert.status == 2)
}

@Test func unreadableInputExitsWithThree() throws {
    let missing = try lungct("info", "/nonexistent/study")
    #expect(missing.status == 3)
    #expect(missing.stderr.contains("/nonexistent/study"))
}

@Test func unwritableOutputExitsWithFive() throws {
    let work = try temporaryDirectory()
    #expect(try lungct("phantom", work + "/p", "--size", "32", "--slices", "4").status == 0)
    let result = try lungct("convert", work + "/p", "/nonexistent-dir/ct.nii.gz")
    #expect(result.status == 5)
    #expect(result.stderr.contains("/nonexistent-dir"))
}

/// A small phantom study written by `lungct phantom` into a new folder: that folder (for
/// outputs beside it) and the study's DICOM folder.
func phantomStudy(size: Int = 48, slices: Int = 12, spacing: Int = 12) throws -> (work: String, dicom: String) {
    let work = try temporaryDirectory()
    let made = try lungct(
        "phantom", work + "/p", "--size", String(size), "--slices", String(slices), "--spacing", String(spacing))
    guard made.status == 0 else { throw TestFailure("lungct phantom exited with \(made.status): \(made.stderr)") }
    return (work, work + "/p/dicom")
}

/// An untrained lesion network from `lungct model init --lesion`, narrow so that the debug build
/// runs it quickly, written into `work` (no MANIFEST beside it: accepted as given with --model).
func untrainedLesionModel(in work: String) throws -> String {
    let path = work + "/models/lesion.h5"
    try FileManager.default.createDirectory(atPath: work + "/models", withIntermediateDirectories: true)
    let made = try lungct("model", "init", path, "--lesion", "--width", "4")
    guard made.status == 0 else {
        throw TestFailure("lungct model init --lesion exited with \(made.status): \(made.stderr)")
    }
    return path
}

@Test func analyzeWritesOutputs() throws {
    let (work, dicom) = try phantomStudy(size: 64, slices: 24, spacing: 10)
    let lesion = try untrainedLesionModel(in: work)
    let run = try lungct("analyze", dicom, "-o", work + "/out", "--model", lesion, "--json")
    #expect(run.status == 0, "\(run.stderr)")
    let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
    #expect(report?["lungPanel"] != nil)
    // The lesion network ran: its pattern score is the model's figure, its panel is in `lesions`.
    let model = report?["model"] as? [String: Any]
    #expect(model?["ran"] as? Bool == true)
    #expect((model?["probability"] as? Double).map { (0...1).contains($0) } == true)
    let lesions = report?["lesions"] as? [String: Any]
    #expect((lesions?["severity"] as? [String: Any])?["maximum"] as? Int == 30)
    #expect((lesions?["score"] as? [String: Any])?["calibrated"] as? Bool == false)
    for file in ["probability.nii.gz", "lesion_mask.nii.gz"] {
        #expect(FileManager.default.fileExists(atPath: work + "/out/" + file))
    }

    // The same folder again without a model: the first run's maps must not stay beside outputs
    // that have none (a reader would take them for this run's).
    let again = try lungct("analyze", dicom, "-o", work + "/out", "--no-model")
    #expect(again.status == 0, "\(again.stderr)")
    for file in ["probability.nii.gz", "lesion_mask.nii.gz"] {
        #expect(!FileManager.default.fileExists(atPath: work + "/out/" + file))
    }
    #expect(FileManager.default.fileExists(atPath: work + "/out/report.json"))
}

@Test(.enabled(if: hasTool("h5dump"), "needs h5dump (hdf5-tools)"))
func h5dumpSeesTheStudyFileSchema() throws {
    let (work, dicom) = try phantomStudy(size: 64, slices: 24, spacing: 10)
    let run = try lungct("analyze", dicom, "-o", work + "/out", "--model", try untrainedLesionModel(in: work))
    try #require(run.status == 0, "\(run.stderr)")
    let header = try runTool("h5dump", ["-H", work + "/out/study.h5"]).stdout
    for name in [
        "GROUP \"image\"", "DATASET \"hu\"", "H5T_STD_I16LE", "GROUP \"segmentation\"", "DATASET \"lungs\"",
        "H5T_STD_U8LE", "GROUP \"features\"", "GROUP \"provenance\"", "ATTRIBUTE \"spacing_mm\"",
        "ATTRIBUTE \"direction\"",
        "GROUP \"maps\"", "DATASET \"lesion_probability\"", "H5T_IEEE_F32LE", "DATASET \"lesions\"",
        "GROUP \"lesions\"", "DATASET \"slice_lesion_ml\"", "ATTRIBUTE \"opacity_percent\"", "GROUP \"model\"",
    ] {
        #expect(header.contains(name), "h5dump -H lacks \(name)")
    }
}

@Test func analyzeExitCodes() throws {
    let work = try temporaryDirectory()
    try "x".write(toFile: work + "/notes.txt", atomically: true, encoding: .utf8)
    #expect(try lungct("analyze", work, "-o", work + "/out").status == 2)
    #expect(try lungct("analyze", work + "/missing", "-o", work + "/out").status == 3)
    #expect(try lungct("phantom", work + "/p", "--size", "32", "--slices", "4").status == 0)
    let unwritable = try lungct("analyze", work + "/p/dicom", "-o", "/proc/lungct-out")
    #expect(unwritable.status == 5)
    #expect(unwritable.stderr.contains("/proc/lungct-out"))
    #expect(try lungct("analyze", work + "/p/dicom", "-o", work + "/o", "--window", "abc").status == 1)
}

@Test func modelOptionsAndTheirExitCodes() throws {
    let (work, _) = try phantomStudy()
    // --no-model: no probability, and the report says why.
    let plain = try lungct("analyze", work + "/p/dicom", "-o", work + "/plain", "--no-model", "--json")
    #expect(plain.status == 0, "\(plain.stderr)")
    #expect(!FileManager.default.fileExists(atPath: work + "/plain/probability.nii.gz"))
    #expect(plain.stdout.contains("\"ran\" : false"))
    // It says no model was asked for, not that none was found.
    #expect(plain.stdout.contains("no model run (--no-model)") && !plain.stdout.contains("model found"))
    #expect(try lungct("analyze", work + "/p/dicom", "-o", work + "/x", "--no-model", "--model", "m.h5").status == 1)
    // A missing model is refused with 4 (a changed one: `aModelThatDoesNotMatchItsManifestExitsWithFour`).
    let weights = repositoryRoot() + "/Weights"
    #expect(try lungct("analyze", work + "/p/dicom", "-o", work + "/m", "--model", work + "/missing.h5").status == 4)
    // A model given explicitly, with no MANIFEST beside it, is used.
    let explicit = try lungct(
        "analyze", work + "/p/dicom", "-o", work + "/e", "--model", try untrainedLesionModel(in: work), "--json")
    #expect(explicit.status == 0, "\(explicit.stderr)")
    #expect(FileManager.default.fileExists(atPath: work + "/e/probability.nii.gz"))
    // The CT slice-image model is refused with 4: no CT volume goes through it.
    let slices = try lungct("analyze", work + "/p/dicom", "-o", work + "/s", "--model", weights + "/ct-covid.h5")
    #expect(slices.status == 4 && slices.stderr.contains("2D CT slice images"), "\(slices.stderr)")
    // A model lungct cannot feed (three input channels) is refused with 4, not run into a crash.
    #expect(try lungct("model", "init", work + "/rgb.h5", "--channels", "3", "--size", "32").status == 0)
    let rgb = try lungct("analyze", work + "/p/dicom", "-o", work + "/rgb", "--model", work + "/rgb.h5")
    #expect(rgb.status == 4)
    #expect(rgb.stderr.contains("rgb.h5") && rgb.stderr.contains("3 input channels"), "\(rgb.stderr)")
    // --model replaces the shipped model of its own kind only: a radiograph model given for a CT
    // leaves the CT to the shipped lesion network (or, while none is shipped, to none).
    let radiographModel = try lungct(
        "analyze", work + "/p/dicom", "-o", work + "/r", "--model", weights + "/cxr-3class.h5", "--json")
    #expect(radiographModel.status == 0, "\(radiographModel.stderr)")
    if FileManager.default.fileExists(atPath: weights + "/ct-lesions.h5") {
        #expect(radiographModel.stdout.contains("\"name\" : \"ct-lesions.h5\""), "\(radiographModel.stdout)")
    } else {
        #expect(radiographModel.stdout.contains("no CT lesion model found"), "\(radiographModel.stdout)")
    }
    #expect(!radiographModel.stdout.contains("cxr-3class.h5"))
}

/// `--model` checks the MANIFEST beside the file when there is one: a copy of the shipped CT
/// model changed by one bit, or listed with another hash, is refused with exit code 4 and a
/// message naming the file, and no report is written.
@Test func aModelThatDoesNotMatchItsManifestExitsWithFour() throws {
    let (work, dicom) = try phantomStudy()
    let weights = repositoryRoot() + "/Weights"
    let original = try Data(contentsOf: URL(fileURLWithPath: weights + "/ct-covid.h5"))

    // One bit changed, beside the shipped MANIFEST (which lists the original's hash).
    let changed = work + "/changed/ct-covid.h5"
    try FileManager.default.createDirectory(atPath: work + "/changed", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: weights + "/MANIFEST", toPath: work + "/changed/MANIFEST")
    var bytes = original
    bytes[bytes.count / 2] ^= 0x01
    try bytes.write(to: URL(fileURLWithPath: changed))
    let tampered = try lungct("analyze", dicom, "-o", work + "/out-changed", "--model", changed)
    #expect(tampered.status == 4, "\(tampered.stderr)")
    #expect(tampered.stderr.contains(changed) && tampered.stderr.contains("does not match"), "\(tampered.stderr)")
    #expect(!FileManager.default.fileExists(atPath: work + "/out-changed/report.json"))

    // The original bytes, beside a MANIFEST that lists another hash for them.
    let listed = work + "/listed/ct-covid.h5"
    try FileManager.default.createDirectory(atPath: work + "/listed", withIntermediateDirectories: true)
    try original.write(to: URL(fileURLWithPath: listed))
    try "\(String(repeating: "0", count: 64))  ct-covid.h5\n".write(
        toFile: work + "/listed/MANIFEST", atomically: true, encoding: .utf8)
    let wrongHash = try lungct("analyze", dicom, "-o", work + "/out-listed", "--model", listed)
    #expect(wrongHash.status == 4, "\(wrongHash.stderr)")
    #expect(wrongHash.stderr.contains(listed) && wrongHash.stderr.contains("does not match"), "\(wrongHash.stderr)")
}

/// A FIFO named like a DICOM file used to hang `info` forever (the first read blocks until a
/// writer comes); it is refused by its type, at once, naming the file. The hang guard is
/// timeout(1) around the command (exit 124), not a time limit on the test, which a busy
/// 2-core CI machine exceeded while the test waited its turn.
@Test func aFIFOIsRefusedNotWaitedOn() throws {
    let work = try temporaryDirectory()
    let fifo = work + "/slice.dcm"
    #expect(mkfifo(fifo, 0o600) == 0)
    for command in ["info", "convert"] {
        let arguments = command == "convert" ? [command, fifo, work + "/x.nii"] : [command, fifo]
        let result = try runProcess("/usr/bin/timeout", ["120", lungctBinary()] + arguments)
        #expect(result.status != 124, "\(command) waited on the FIFO")
        #expect(result.status == 3, "\(command): \(result.stderr)")
        #expect(result.stderr.contains(fifo) && result.stderr.contains("not a regular file"))
    }
}

/// A GIF, BMP or TIFF named `.png`, or an empty file, used to get "not a DICOM file" and exit
/// 2; it is an input lungct cannot read (exit 3), named with what it is.
@Test func picturesOfOtherFormatsAreNamedForWhatTheyAre() throws {
    let work = try temporaryDirectory()
    let files: [(name: String, bytes: [UInt8], says: String)] = [
        ("gif.png", Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0, 0x3B], "a GIF picture"),
        ("bmp.png", Array("BM".utf8) + [UInt8](repeating: 0, count: 30), "a BMP picture"),
        ("tif.png", [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0], "a TIFF picture"),
        ("empty.png", [], "the file is empty"),
    ]
    for file in files {
        let path = work + "/" + file.name
        try Data(file.bytes).write(to: URL(fileURLWithPath: path))
        let result = try lungct("info", path)
        #expect(result.status == 3, "\(file.name): \(result.stderr)")
        #expect(result.stderr.contains(path) && result.stderr.contains(file.says), "\(result.stderr)")
    }
}

/// Files whose names are not UTF-8 (Latin-1 from old PACS exports) were passed over without a
/// word (a series that lost most of its slices to them was analysed as a short one with exit 0),
/// then listed as unreadable. They are now read through aliases, which are gone when the
/// command ends, and the series says how many of its names were not UTF-8.
@Test(.enabled(if: fileSystemTakesLatin1Names, "the file system refuses names that are not UTF-8"))
func filesWithNamesThatAreNotUTF8AreRead() throws {
    let (work, dicom) = try phantomStudy(size: 32, slices: 6, spacing: 10)
    for name in try FileManager.default.contentsOfDirectory(atPath: dicom).sorted().dropFirst() {
        // "café_<name>" in Latin-1: the é is the single byte 0xE9.
        try renameRaw(dicom + "/" + name, into: Array(dicom.utf8), name: latin1("café_") + Array(name.utf8))
    }
    let info = try startLungct(["info", dicom, "--json"], log: work + "/info")
    info.waitUntilExit()
    #expect(info.terminationStatus == 0)
    let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work + "/info.out")))
    let series = (report as? [String: Any])?["series"] as? [[String: Any]]
    #expect(series?.first?["images"] as? Int == 6, "\(report)")
    let warnings = series?.first?["warnings"] as? [String] ?? []
    #expect(warnings.contains { $0.hasPrefix("5 of the 6 files' paths are not valid UTF-8") }, "\(warnings)")
    #expect(((report as? [String: Any])?["skippedFiles"] as? [Any])?.isEmpty == true, "\(report)")
    let left = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter {
        $0.hasPrefix(".lungct-names-\(info.processIdentifier)-")
    }
    #expect(left.isEmpty, "the command's aliases are gone: \(left)")

    let convert = try lungct("convert", dicom, work + "/ct.nii.gz")
    #expect(convert.status == 0 && convert.stdout.contains("32×32×6"), "\(convert.stdout) \(convert.stderr)")
    let batch = try lungct("batch", work + "/p", "-o", work + "/out", "--no-model")
    #expect(batch.status == 0, "\(batch.stderr)")
    let summary = try String(contentsOfFile: work + "/out/summary.csv", encoding: .utf8)
    #expect(summary.contains(",dicom,CT,") && summary.contains(",ok,"), "\(summary)")
}

/// `evaluate --task lesion` end to end: a lesion model with its MANIFEST, scored against the
/// phantom's lesion truth and slice labels; options of the other task, a model without a
/// MANIFEST and labels that do not fit the volume are refused with their exit codes.
@Test func evaluateScoresTheLesionNetworkAgainstTruthAndSliceLabels() throws {
    let (work, dicom) = try phantomStudy(size: 64, slices: 16, spacing: 10)
    let model = try untrainedLesionModel(in: work)
    let truth = work + "/p/lesion_mask_truth.nii.gz"
    let labels = work + "/labels.txt"
    try (0..<16).map { $0 % 3 == 0 ? "1" : "0" }.joined(separator: "\n").write(
        toFile: labels, atomically: true, encoding: .utf8)

    let unlisted = try lungct("evaluate", "--task", "lesion", "--model", model, "--truth", "\(dicom)=\(truth)")
    #expect(unlisted.status == 4 && unlisted.stderr.contains("MANIFEST"), "\(unlisted.stderr)")
    let hash = try runProcess("/usr/bin/sha256sum", [model])
    try (String(hash.stdout.prefix(64)) + "  lesion.h5\n").write(
        toFile: work + "/models/MANIFEST", atomically: true, encoding: .utf8)

    let run = try lungct(
        "evaluate", "--task", "lesion", "--model", model, "--truth", "\(dicom)=\(truth)", "--slice-labels",
        "\(dicom)=\(labels)", "--json")
    #expect(run.status == 0, "\(run.stderr)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    let overlap = try #require((report["truth"] as? [[String: Any]])?.first)
    #expect((overlap["truthML"] as? Double ?? 0) > 0)
    let slices = try #require((report["sliceAUC"] as? [[String: Any]])?.first)
    #expect(slices["slices"] as? Int == 16 && slices["positives"] as? Int == 6)
    #expect((slices["aucMaxProbability"] as? Double).map { (0...1).contains($0) } == true, "\(slices)")

    let mixed = try lungct("evaluate", "--task", "lesion", "--model", model, "--data", work)
    #expect(mixed.status == 1 && mixed.stderr.contains("--data"), "\(mixed.stderr)")
    try "1\n0\n".write(toFile: labels, atomically: true, encoding: .utf8)
    let short = try lungct("evaluate", "--task", "lesion", "--model", model, "--slice-labels", "\(dicom)=\(labels)")
    #expect(short.status == 1 && short.stderr.contains("2 slice labels for 16 slices"), "\(short.stderr)")
}

/// `model run --warmup-seconds`: untimed passes before the timed ones (what benchmarks/onnx.sh
/// gives lungct and ONNX Runtime alike); the timed passes are still `--repeat`'s, the logits the
/// same as without warm-up, and a negative or absurd value is a usage error.
@Test func modelRunWarmsUpBeforeItsTimedPasses() throws {
    let work = try temporaryDirectory()
    #expect(try lungct("model", "init", work + "/m.h5", "--size", "32").status == 0)
    let values = (0..<(2 * 32 * 32)).map { Float($0 % 97) / 97 }
    try values.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: work + "/x.f32"))
    let plain = try lungct(
        "model", "run", work + "/m.h5", "--input", work + "/x.f32", "--batch", "2", "--output", work + "/a.f32",
        "--json")
    let warm = try lungct(
        "model", "run", work + "/m.h5", "--input", work + "/x.f32", "--batch", "2", "--output", work + "/b.f32",
        "--repeat", "3", "--warmup-seconds", "0.2", "--json")
    #expect(plain.status == 0 && warm.status == 0, "\(plain.stderr) \(warm.stderr)")
    #expect(warm.stdout.contains("\"repeats\" : 3"))
    #expect(
        FileManager.default.contents(atPath: work + "/a.f32") == FileManager.default.contents(atPath: work + "/b.f32"))
    for bad in ["-1", "nan", "1e9"] {
        let run = try lungct(
            "model", "run", work + "/m.h5", "--input", work + "/x.f32", "--batch", "2", "--warmup-seconds", bad)
        #expect(run.status == 1, "--warmup-seconds \(bad): \(run.stderr)")
    }
}
