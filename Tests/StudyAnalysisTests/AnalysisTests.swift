import AppSupport
import DICOMSeries
import Foundation
import HDF5Store
import NIfTIIO
import Phantom
import StudyAnalysis
import StudyInput
import TestSupport
import Testing
import VolumeCore

/// A phantom study written as DICOM, with its truth, analysed once for several tests.
struct AnalysedPhantom {
    let phantom: Phantom
    let dicom: String
    let output: String
    let report: AnalysisReport

    static let shared: Result<AnalysedPhantom, Error> = Result {
        let (phantom, options) = testPhantom(size: 96, slices: 48, spacing: 6, lesions: 2, seed: 11)
        let folder = try temporaryDirectory()
        var layout = PhantomLayout()
        layout.feetFirst = true
        let dicom = try PhantomWriter.write(phantom, options: options, layout: layout, to: folder + "/study")
            .dicomFolder
        let output = folder + "/out"
        let report = try Analyzer.analyze(AnalysisOptions(input: dicom, output: output))
        return AnalysedPhantom(phantom: phantom, dicom: dicom, output: output, report: report)
    }
}

@Test func analyzeWritesEveryOutput() throws {
    let a = try AnalysedPhantom.shared.get()
    for name in [OutputFile.lungMask, OutputFile.study, OutputFile.report, OutputFile.overview] {
        #expect(FileManager.default.fileExists(atPath: a.output + "/" + name), "\(name)")
    }
    // No probability map is faked while no model exists.
    #expect(!FileManager.default.fileExists(atPath: a.output + "/" + OutputFile.probability))
    #expect(a.report.model.ran == false)
    // Nothing half-written is left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: a.output).allSatisfy { !$0.hasPrefix(".") })
    let png = try Data(contentsOf: URL(fileURLWithPath: a.output + "/" + OutputFile.overview))
    #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
}

@Test func lungMaskOverlaysTheCTAndMatchesTheTruth() throws {
    let a = try AnalysedPhantom.shared.get()
    let (mask, maskHeader) = try NIfTI.read(a.output + "/" + OutputFile.lungMask)
    let converted = try temporaryDirectory() + "/ct.nii.gz"
    _ = try Converter.convert(input: a.dicom, output: converted)
    let ctHeader = try NIfTI.readHeader(converted)
    // Same grid and affine as `lungct convert` of the same series: the mask overlays the CT.
    for (rowA, rowB) in zip(maskHeader.geometry.affineRAS, ctHeader.geometry.affineRAS) {
        for (x, y) in zip(rowA, rowB) { #expect(abs(x - y) < 1e-4) }
    }
    #expect(maskHeader.datatype == 2)
    // The series was written feet-first; in LPS it must match the phantom's truth labels.
    let labels = try mask.asInt16.reoriented(to: "LPS").voxels.map { UInt8($0) }
    var agree = 0
    var total = 0
    for index in labels.indices where labels[index] != 0 || a.phantom.lungs.voxels[index] != 0 {
        total += 1
        if labels[index] == a.phantom.lungs.voxels[index] { agree += 1 }
    }
    #expect(Double(agree) / Double(total) > 0.97, "label agreement \(Double(agree) / Double(total))")
}

@Test func reportHasThePanelAndNoPatientIdentifiers() throws {
    let a = try AnalysedPhantom.shared.get()
    let text = try String(contentsOfFile: a.output + "/" + OutputFile.report, encoding: .utf8)
    #expect(!text.contains("PHANTOM^LUNGCT") && !text.contains("\"PHANTOM\""))
    let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    let panel = json["lungPanel"] as! [String: Any]
    let right = panel["right"] as! [String: Any]
    let left = panel["left"] as! [String: Any]
    #expect((right["volumeML"] as! Double) > (left["volumeML"] as! Double))
    let study = json["study"] as! [String: Any]
    #expect((study["studyHash"] as! String).count == 64)
    #expect(study["patientName"] == nil)
    #expect((json["geometry"] as! [String: Any])["orientation"] as? String == "RPI")
}

@Test func keepPHIPutsTheIdentifiersBack() throws {
    let a = try AnalysedPhantom.shared.get()
    var options = AnalysisOptions(input: a.dicom, output: try temporaryDirectory())
    options.keepPHI = true
    let report = try Analyzer.analyze(options)
    #expect(report.study.patientName == "PHANTOM^LUNGCT")
    #expect(report.study.patientID == "PHANTOM")
}

@Test func studyFileFollowsTheSchema() throws {
    let a = try AnalysedPhantom.shared.get()
    let file = try HDF5File(openingForReading: a.output + "/" + OutputFile.study)
    let size = a.phantom.ct.size
    let hu = try file.datasetInfo("/image/hu")
    #expect(hu.shape == [size.z, size.y, size.x])
    #expect(hu.elementType == .int16)
    #expect(hu.chunk == [1, size.y, size.x])
    #expect(hu.filters.contains(.shuffle) && hu.filters.contains { if case .deflate = $0 { true } else { false } })
    let lungs = try file.datasetInfo("/segmentation/lungs")
    #expect(lungs.shape == hu.shape && lungs.elementType == .uint8 && lungs.chunk == hu.chunk)
    guard case .doubles(let spacing) = try file.attribute("spacing_mm", at: "/image/hu"),
        case .doubles(let direction) = try file.attribute("direction", at: "/image/hu"),
        case .doubles(let origin) = try file.attribute("origin_mm", at: "/image/hu"),
        case .string(let modality) = try file.attribute("modality", at: "/image/hu"),
        case .string(let labels) = try file.attribute("labels", at: "/segmentation/lungs"),
        case .double(let rightML) = try file.attribute("volume_ml", at: "/features/right"),
        case .string(let version) = try file.attribute("lungct_version", at: "/provenance")
    else {
        Issue.record("an attribute has the wrong type")
        return
    }
    #expect(spacing.count == 3 && direction.count == 9 && origin.count == 3)
    #expect(modality == "CT" && labels.contains("1 right lung"))
    #expect(abs(rightML - a.report.lungPanel!.right.volumeML) < 1e-9)
    #expect(version == LungCTVersion.string)
    // The stored HU are the series' HU (feet-first storage order kept).
    let stored = try file.readDataset("/image/hu", as: Int16.self)
    let lps = try Volume(geometry: a.report.geometryValue, voxels: stored.values).reoriented(to: "LPS")
    #expect(lps.voxels == a.phantom.ct.voxels)
    try file.close()
}

@Test(.enabled(if: pythonWithH5py != nil, "needs a Python with h5py (make test provides one)"))
func h5pyReadsTheStudyFileWithNoCustomCode() throws {
    let a = try AnalysedPhantom.shared.get()
    let script = """
        import h5py, numpy, sys
        f = h5py.File(sys.argv[1], "r")
        hu = f["image/hu"]; lungs = f["segmentation/lungs"]
        assert hu.dtype == numpy.int16 and lungs.dtype == numpy.uint8 and hu.shape == lungs.shape
        assert hu.chunks == (1,) + hu.shape[1:] and hu.compression == "gzip" and hu.shuffle
        assert len(hu.attrs["spacing_mm"]) == 3 and len(hu.attrs["direction"]) == 9
        assert isinstance(f["segmentation/lungs"].attrs["labels"], str)
        right = f["features/right"].attrs["volume_ml"]; total = f["features/total"].attrs["volume_ml"]
        assert 0 < right < total
        assert set(numpy.unique(lungs[()])) <= {0, 1, 2}
        print(hu.shape, round(float(right), 1), f["provenance"].attrs["lungct_version"])
        """
    let run = try runProcess(try #require(pythonWithH5py), ["-c", script, a.output + "/" + OutputFile.study])
    #expect(run.status == 0, "h5py could not read study.h5 as documented: \(run.stdout) \(run.stderr)")
    #expect(run.stdout.contains(LungCTVersion.string))
}

@Test func radiographsGoThroughAnalyzeToo() throws {
    let folder = try temporaryDirectory()
    // A gray 8-bit chest-like picture, 300×300, written as a DX DICOM with pixel spacing.
    var pixels = [UInt16](repeating: 0, count: 300 * 300)
    for y in 0..<300 { for x in 0..<300 { pixels[y * 300 + x] = UInt16((x * 7 + y * 3) % 4096) } }
    var identity = SeriesIdentity()
    identity.seriesDescription = "chest PA"
    try DICOMWriter.writeImage(
        path: folder + "/cxr.dcm", pixels: pixels,
        description: .init(
            sopClassUID: SOPClass.digitalXRayPresentation, sopInstanceUID: DICOMWriter.newUID(), identity: identity,
            modality: "DX", instanceNumber: 1, rows: 300, columns: 300, bitsStored: 12, signed: false,
            photometric: "MONOCHROME2", pixelSpacing: (0.2, 0.2)),
        syntax: .explicitLittle)
    let report = try Analyzer.analyze(AnalysisOptions(input: folder + "/cxr.dcm", output: folder + "/out"))
    #expect(report.kind == "radiograph")
    #expect(report.geometry.size == [300, 300, 1])
    // No lung-field model given (AnalysisModels.none): the report says that none were drawn.
    #expect(report.segmentation.method == "none")
    #expect(report.warnings.contains { $0.contains("no lung fields were drawn") })
    let file = try HDF5File(openingForReading: folder + "/out/" + OutputFile.study)
    #expect(try file.datasetInfo("/image/intensity").shape == [1, 300, 300])
    try file.close()
    #expect(FileManager.default.fileExists(atPath: folder + "/out/" + OutputFile.overview))
}

@Test func analyzeErrorsHaveTheirExitCodes() throws {
    let empty = try temporaryDirectory()
    try "notes".write(toFile: empty + "/a.txt", atomically: true, encoding: .utf8)
    #expect { try Analyzer.analyze(AnalysisOptions(input: empty, output: empty + "/out")) } throws: {
        ($0 as? LungCTError)?.category == .nothingToAnalyse
    }
    #expect { try Analyzer.analyze(AnalysisOptions(input: empty + "/none", output: empty + "/out")) } throws: {
        ($0 as? LungCTError)?.category == .inputFailed
    }
    let a = try AnalysedPhantom.shared.get()
    #expect { try Analyzer.analyze(AnalysisOptions(input: a.dicom, output: "/proc/lungct-cannot-write")) } throws: {
        ($0 as? LungCTError)?.category == .outputFailed && String(describing: $0).contains("/proc/lungct-cannot-write")
    }
}

/// HU beyond int16 (legal rescale values can give them) are clipped for segmentation and
/// study.h5; that used to happen under a warning about fractional rescale only, or none.
@Test func huOutsideInt16AreClippedWithAWarningThatSaysSo() throws {
    let folder = try temporaryDirectory()
    let g = Geometry(size: Size3(32, 32, 6), spacing: Vector3(1, 1, 3), origin: .zero, direction: .identity)
    var voxels = [Float](repeating: -1000, count: g.size.count)
    voxels[100] = 40000
    voxels[101] = -40000
    try NIfTI.write(Volume(geometry: g, voxels: voxels), to: folder + "/ct.nii.gz")
    var options = AnalysisOptions(input: folder + "/ct.nii.gz", output: folder + "/out")
    options.models = .none
    let report = try Analyzer.analyze(options)
    #expect(report.warnings.contains { $0.contains("2 voxel(s) lie outside the int16 range") })
    #expect(!report.warnings.contains { $0.contains("not whole numbers") })
}
