import AppSupport
import DICOMObjects
import Foundation
import ImageCodecs
import LungSegmentation
import StudyInput
import VolumeCore

/// The DICOM result objects of `analyze --dicom`, written into OUT/dicom/: a Segmentation of
/// the lungs (and the lesions when the lesion network ran), a Parametric Map of the lesion
/// probability (when it ran), a TID 1500 measurement report with the lung panel and the study
/// figure, and a Secondary Capture of overview.png. Each joins the source study and frame of
/// reference and references the source slices.
enum DICOMResults {
    /// Series numbers of the objects: high, so that a viewer lists them after the scanner's.
    static let firstSeriesNumber = 9001
    /// The Segmentation's SOP Class (PS3.4 B.5), for the report's reference to it.
    static let segmentationClassUID = "1.2.840.10008.5.1.4.1.1.66.4"

    /// Why no object is written for an input that is not a DICOM CT series.
    static let notDICOMWarning =
        "--dicom: no DICOM objects written: the input is not a DICOM CT series, so there is no study, series or "
        + "frame of reference for them to reference (NIfTI volumes, PNG/JPEG pictures and radiographs get none)"

    /// What the CT pipeline hands over.
    struct Inputs {
        var labels: Volume<UInt8>
        var panel: LungPanel
        var lesions: LesionAnalysis?
        var report: AnalysisReport
    }

    /// The source series for the objects, or nil when the input is not a DICOM CT series.
    static func source(_ study: LoadedStudy, geometry: Geometry) -> SourceSeries? {
        guard let slices = study.sourceSlices, slices.sopInstanceUIDs.count == geometry.size.z else { return nil }
        let h = slices.header
        let patient =
            study.options.keepPHI || study.options.dicomPatient
            ? PatientIdentity(
                name: h.patientName, id: h.patientID, birthDate: h.patientBirthDate, studyDate: h.studyDate)
            : nil
        var source = SourceSeries(
            studyInstanceUID: h.studyInstanceUID, seriesInstanceUID: h.seriesInstanceUID,
            frameOfReferenceUID: h.frameOfReferenceUID, sopClassUID: h.sopClassUID,
            sliceReferences: slices.sopInstanceUIDs, geometry: geometry, patient: patient)
        source.resampled = slices.resampled
        return source
    }

    /// Writes the objects into `folder`/dicom/ and returns the paths written and how long each
    /// took (report.json's "dicom.<object>" timings).
    static func write(_ inputs: Inputs, source: SourceSeries, folder: String) throws(LungCTError)
        -> [(path: String, step: String, seconds: Double)]
    {
        do {
            try FileManager.default.createDirectory(atPath: folder + "/dicom", withIntermediateDirectories: true)
        } catch {
            throw .outputFailed("\(folder)/dicom: cannot create the folder: \(error.localizedDescription)")
        }
        var written: [(path: String, step: String, seconds: Double)] = []
        var started = Date()
        func done(_ path: String, _ step: String) {
            written.append((path, step, Date().timeIntervalSince(started)))
            started = Date()
        }
        var seriesNumber = firstSeriesNumber
        func identity(_ name: String, _ description: String) -> ObjectIdentity {
            defer { seriesNumber += 1 }
            return ObjectIdentity(path: folder + "/" + name, seriesNumber: seriesNumber, seriesDescription: description)
        }
        let segIdentity = identity(OutputFile.dicomSegmentation, "lungct segmentation")
        try atomically(segIdentity.path) { (partial) throws(DICOMObjectError) in
            var target = segIdentity
            target.path = partial
            try DICOMObjectWriter.writeSegmentation(segments(inputs), source: source, identity: target)
        }
        done(segIdentity.path, "segmentation")
        let mapIdentity = identity(OutputFile.dicomParametricMap, "lungct lesion probability")
        if let lesions = inputs.lesions {
            var (map, mapSource) = (lesions.probability, source)
            if let box = MapCrop.box(map, lungs: inputs.labels) {
                (map, mapSource) = MapCrop.cut(map, source: source, to: box)
            }
            try atomically(mapIdentity.path) { (partial) throws(DICOMObjectError) in
                var target = mapIdentity
                target.path = partial
                try DICOMObjectWriter.writeParametricMap(
                    map, quantity: DICOMCodes.probability, unit: DICOMCodes.noUnits, range: 0...1,
                    label: "P(lesion)", algorithm: lesionAlgorithm(inputs.report), source: mapSource, identity: target)
            }
            done(mapIdentity.path, "parametric map")
        }
        let reportIdentity = identity(OutputFile.dicomReport, "lungct measurements")
        try atomically(reportIdentity.path) { (partial) throws(DICOMObjectError) in
            var target = reportIdentity
            target.path = partial
            try DICOMObjectWriter.writeMeasurementReport(
                groups: DICOMMeasurements.groups(inputs.panel),
                studyMeasurements: DICOMMeasurements.study(inputs.report),
                segmentation: (segIdentity.seriesInstanceUID, segmentationClassUID, segIdentity.sopInstanceUID),
                algorithm: lungAlgorithm,
                source: source, identity: target)
        }
        done(reportIdentity.path, "report")
        try writeCapture(folder: folder, source: source, identity: identity(OutputFile.dicomCapture, "lungct overview"))
        done(folder + "/" + OutputFile.dicomCapture, "capture")
        return written
    }

    /// The Secondary Capture of overview.png, read back through ImageCodecs.
    static func writeCapture(folder: String, source: SourceSeries, identity: ObjectIdentity) throws(LungCTError) {
        let picture: DecodedImage
        do {
            picture = try ImageDecoder.decode(folder + "/" + OutputFile.overview, format: .png)
        } catch {
            throw .outputFailed(error.description)
        }
        guard picture.channels == 3, picture.bitDepth == 8,
            let rgb = picture.withSamples(of: UInt8.self, { $0.map(Array.init) })
        else {
            throw .outputFailed("\(folder)/\(OutputFile.overview): not the 8-bit RGB picture lungct writes")
        }
        try atomically(identity.path) { (partial) throws(DICOMObjectError) in
            var target = identity
            target.path = partial
            try DICOMObjectWriter.writeSecondaryCapture(
                rgb: rgb, width: picture.width, height: picture.height, source: source, identity: target)
        }
    }

    /// Runs `body` on the partial name of `path`, then moves the file into place.
    static func atomically(_ path: String, _ body: (String) throws(DICOMObjectError) -> Void) throws(LungCTError) {
        try AtomicFile.write(to: path) { partial in try body(partial) }
    }

    /// The segments: right lung, left lung (lung_mask's labels 1 and 2), and the lesions (the
    /// lesion network's mask: probability ≥ `LesionScoring.maskThreshold`) when it ran.
    static func segments(_ inputs: Inputs) -> [Segment] {
        var segments = [
            Segment(
                label: "Right lung", category: DICOMCodes.anatomicalStructure, type: DICOMCodes.lung,
                modifier: DICOMCodes.right, algorithm: lungAlgorithm, labels: inputs.labels, value: 1),
            Segment(
                label: "Left lung", category: DICOMCodes.anatomicalStructure, type: DICOMCodes.lung,
                modifier: DICOMCodes.left, algorithm: lungAlgorithm, labels: inputs.labels, value: 2),
        ]
        if let lesions = inputs.lesions {
            segments.append(
                Segment(
                    label: "COVID-19 lesion", category: DICOMCodes.morphologicallyAbnormalStructure,
                    type: DICOMCodes.lesion, modifier: nil, algorithm: lesionAlgorithm(inputs.report),
                    labels: binary(lesions.mask), value: 1))
        }
        return segments
    }

    /// 1 where `mask` is not 0. Array's own map, specialised here: `Volume.map` is generic
    /// across modules, and took seconds over a 512×512×300 mask.
    static func binary(_ mask: Volume<UInt8>) -> Volume<UInt8> {
        Volume(geometry: mask.geometry, voxels: mask.voxels.map { $0 == 0 ? 0 : 1 })
    }

    /// lungct's classical HU lung segmentation: thresholds and morphology.
    static let lungAlgorithm = Algorithm(
        family: DICOMCodes.morphologicalOperations, name: "lungct lung segmentation", version: LungCTVersion.string)

    /// The lesion network that ran, named by its model file and SHA-256.
    static func lesionAlgorithm(_ report: AnalysisReport) -> Algorithm {
        Algorithm(
            family: DICOMCodes.artificialIntelligence, name: "lungct lesion network " + (report.model.name ?? ""),
            version: LungCTVersion.string,
            parameters: "model sha256 " + (report.model.sha256 ?? "unknown") + "; lesion where probability >= "
                + String(LesionScoring.maskThreshold))
    }
}
