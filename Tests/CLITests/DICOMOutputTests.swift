import Foundation
import TestSupport
import Testing

// `analyze --dicom` and `batch --dicom`: the DICOM result objects, checked by the reference IOD
// validator (dciodvfy, Debian's dicom3tools) and read back by highdicom and pydicom.

/// A phantom study analysed with an untrained lesion network and --dicom (plus `extra`): the
/// work folder, the study's DICOM folder and the output folder.
func analysedWithDICOM(_ extra: String...) throws -> (work: String, dicom: String, out: String) {
    let (work, dicom) = try phantomStudy(size: 64, slices: 16, spacing: 10)
    let out = work + "/out"
    let run = try runProcess(
        lungctBinary(), ["analyze", dicom, "-o", out, "--model", try untrainedLesionModel(in: work), "--dicom"] + extra)
    guard run.status == 0 else { throw TestFailure("lungct analyze --dicom exited with \(run.status): \(run.stderr)") }
    return (work, dicom, out)
}

/// dciodvfy's error lines for `path` (its warnings are listed in the README).
func dciodvfyErrors(_ path: String) throws -> [String] {
    let run = try runProcess(try #require(toolPath("dciodvfy")), [path])
    return (run.stdout + run.stderr).split(separator: "\n").map(String.init).filter { $0.hasPrefix("Error") }
}

let dicomObjectFiles = [
    "dicom/segmentation.dcm", "dicom/probability-map.dcm", "dicom/measurements-sr.dcm", "dicom/overview-sc.dcm",
]

@Test(.enabled(if: hasTool("dciodvfy"), "dciodvfy (Debian's dicom3tools) is not installed"))
func dicomObjectsAndThePhantomSeriesPassDciodvfy() throws {
    let (_, dicom, out) = try analysedWithDICOM()
    for name in dicomObjectFiles {
        #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name) is written")
        let errors = try dciodvfyErrors(out + "/" + name)
        #expect(errors.isEmpty, "\(name): \(errors.joined(separator: "; "))")
    }
    // The CT series `lungct phantom` writes is a valid CT Image IOD too.
    let slices = try FileManager.default.contentsOfDirectory(atPath: dicom).sorted()
    for slice in [slices.first, slices.last].compactMap({ $0 }) {
        let errors = try dciodvfyErrors(dicom + "/" + slice)
        #expect(errors.isEmpty, "\(slice): \(errors.joined(separator: "; "))")
    }
}

@Test(.enabled(if: pythonWithHighdicom != nil, "python3 with pydicom, highdicom and numpy is not installed"))
func dicomObjectsReadBackEqualTheResearchOutputs() throws {
    let (_, dicom, out) = try analysedWithDICOM()
    let script = repositoryRoot() + "/Tests/CLITests/Scripts/check_dicom_outputs.py"
    let run = try runProcess(try #require(pythonWithHighdicom), [script, out, dicom])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(run.stdout.contains("lungs equal lung_mask.nii.gz"))
    #expect(run.stdout.contains("equal probability.nii.gz"))
    #expect(run.stdout.contains("equal report.json's"))
}

@Test(.enabled(if: hasTool("dcmdump"), "dcmdump (DCMTK) is not installed"))
func dicomObjectsCarryPatientIdentityOnlyWithKeepPHI() throws {
    let (_, dicom, out) = try analysedWithDICOM()
    let plain = try runTool(
        "dcmdump", ["+P", "PatientName", "+P", "PatientIdentityRemoved", out + "/" + dicomObjectFiles[0]])
    #expect(!plain.stdout.contains("PHANTOM^LUNGCT"), "no patient name without --keep-phi")
    #expect(plain.stdout.contains("[YES]"), "Patient Identity Removed is YES")
    let keep = try runProcess(
        lungctBinary(), ["analyze", dicom, "-o", out + "-phi", "--no-model", "--dicom", "--keep-phi"])
    #expect(keep.status == 0, "\(keep.stderr)")
    let kept = try runTool("dcmdump", ["+P", "PatientName", out + "-phi/" + dicomObjectFiles[0]])
    #expect(kept.stdout.contains("PHANTOM^LUNGCT"))
    // Without a model there is no map, and the report lists what was written.
    #expect(!FileManager.default.fileExists(atPath: out + "-phi/dicom/probability-map.dcm"))
    let report = try String(contentsOfFile: out + "-phi/report.json", encoding: .utf8)
    #expect(report.contains("dicom/segmentation.dcm"))
    // --dicom-patient (what `listen` uses): the objects carry the patient, report.json does not.
    let forPACS = try runProcess(
        lungctBinary(), ["analyze", dicom, "-o", out + "-pacs", "--no-model", "--dicom", "--dicom-patient"])
    #expect(forPACS.status == 0, "\(forPACS.stderr)")
    let filed = try runTool("dcmdump", ["+P", "PatientName", out + "-pacs/" + dicomObjectFiles[0]])
    #expect(filed.stdout.contains("PHANTOM^LUNGCT"))
    let pacsReport = try String(contentsOfFile: out + "-pacs/report.json", encoding: .utf8)
    #expect(!pacsReport.contains("PHANTOM"), "report.json stays de-identified")
}

@Test func dicomOnANIfTIInputWritesNoObjectAndSaysWhy() throws {
    let (work, dicom) = try phantomStudy(size: 48, slices: 12, spacing: 12)
    #expect(try lungct("convert", dicom, work + "/ct.nii.gz").status == 0)
    let run = try lungct("analyze", work + "/ct.nii.gz", "-o", work + "/out", "--no-model", "--dicom", "--json")
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("--dicom: no DICOM objects written"))
    #expect(!FileManager.default.fileExists(atPath: work + "/out/dicom"))
}

@Test func batchWithDICOMWritesEachCasesObjects() throws {
    let (work, dicom) = try phantomStudy(size: 48, slices: 12, spacing: 12)
    let run = try lungct("batch", dicom, "-o", work + "/results", "--no-model", "--dicom")
    #expect(run.status == 0, "\(run.stderr)")
    let cases = try FileManager.default.contentsOfDirectory(atPath: work + "/results").filter { !$0.hasPrefix(".") }
        .filter { !$0.hasSuffix(".csv") && !$0.hasSuffix(".json") && !$0.hasSuffix(".lock") }
    #expect(cases.count == 1, "\(cases)")
    let folder = work + "/results/" + (cases.first ?? "")
    for name in ["dicom/segmentation.dcm", "dicom/measurements-sr.dcm", "dicom/overview-sc.dcm"] {
        #expect(FileManager.default.fileExists(atPath: folder + "/" + name), "\(name) in the case folder")
    }
    let report = try String(contentsOfFile: folder + "/report.json", encoding: .utf8)
    #expect(report.contains(folder + "/dicom/segmentation.dcm"), "the report names the published path")
}
