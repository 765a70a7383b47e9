import AppSupport
internal import CDICOMObjects
import Foundation
import VolumeCore

/// Writes lungct's DICOM result objects through DCMTK (cdicomobjects.h): each references its
/// source series, shares its study and frame of reference, and lies on the analysed grid.
public enum DICOMObjectWriter {
    /// The root under which lungct makes UIDs: DCMTK's site root for instances
    /// (`SITE_INSTANCE_UID_ROOT`, dcmtk/dcmdata/dcuid.h), which DCMTK's own tools use. lungct
    /// has no registered root of its own; a site that has one changes this constant.
    public static let uidRoot = "1.2.276.0.7230010.3.1.4"

    /// A new UID under `uidRoot`. The corresponding DCMTK call is dcmGenerateUniqueIdentifier.
    public static func newUID() -> String {
        var buffer = [CChar](repeating: 0, count: 100)
        lct_obj_new_uid(uidRoot, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes a BINARY Segmentation of `segments` on the source grid. The corresponding DCMTK
    /// calls are DcmSegmentation::createBinarySegmentation, addSegment, addFrame.
    public static func writeSegmentation(
        _ segments: [Segment], source: SourceSeries, identity: ObjectIdentity
    ) throws(DICOMObjectError) {
        for segment in segments where segment.labels.geometry.size != source.geometry.size {
            throw DICOMObjectError(
                .mismatch, path: identity.path, message: "segment \(segment.label) is not on the source grid")
        }
        let strings = CStrings()
        var cSegments = segments.map { segment in
            var c = lct_obj_segment()
            c.label = strings(segment.label)
            c.category = code(segment.category, strings)
            c.type = code(segment.type, strings)
            c.type_modifier = code(segment.modifier ?? Code("", "", ""), strings)
            c.algorithm_family = code(segment.algorithm.family, strings)
            c.algorithm_name = strings(segment.algorithm.name)
            c.algorithm_version = strings(segment.algorithm.version)
            c.algorithm_parameters = strings(segment.algorithm.parameters)
            c.value = segment.value
            return c
        }
        try withSource(source, identity: identity, strings) { (cSource, cOutput, message) in
            withLabelPointers(segments.map(\.labels), index: 0, into: &cSegments) { filled in
                filled.withUnsafeBufferPointer { buffer in
                    lct_obj_write_segmentation(
                        &cSource, &cOutput, buffer.baseAddress, buffer.count, &message, message.count)
                }
            }
        }
    }

    /// Runs `body` with each segment's `labels` pointing at its volume's voxels.
    private static func withLabelPointers(
        _ volumes: [Volume<UInt8>], index: Int, into segments: inout [lct_obj_segment],
        _ body: ([lct_obj_segment]) -> Int32
    ) -> Int32 {
        guard index < volumes.count else { return body(segments) }
        return volumes[index].voxels.withUnsafeBufferPointer { voxels in
            segments[index].labels = voxels.baseAddress
            return withLabelPointers(volumes, index: index + 1, into: &segments, body)
        }
    }

    /// Writes a float32 Parametric Map of `values` (on the source grid) with a Real World
    /// Value Mapping of `quantity` in `unit` over `range`. The corresponding DCMTK calls are
    /// DPMParametricMapIOD::create and Frames<Float32>::addFrame.
    public static func writeParametricMap(
        _ values: Volume<Float>, quantity: Code, unit: Code, range: ClosedRange<Double>, label: String,
        algorithm: Algorithm, source: SourceSeries, identity: ObjectIdentity
    ) throws(DICOMObjectError) {
        guard values.geometry.size == source.geometry.size else {
            throw DICOMObjectError(.mismatch, path: identity.path, message: "the map is not on the source grid")
        }
        let strings = CStrings()
        try withSource(source, identity: identity, strings) { (cSource, cOutput, message) in
            values.voxels.withUnsafeBufferPointer { voxels in
                lct_obj_write_parametric_map(
                    &cSource, &cOutput, voxels.baseAddress, code(quantity, strings), code(unit, strings),
                    range.lowerBound, range.upperBound, strings(label), strings(algorithm.name),
                    strings(algorithm.version), &message, message.count)
            }
        }
    }

    /// Writes a TID 1500 measurement report: one TID 1411 group per entry of `groups`, each
    /// referencing its segment of the Segmentation `segmentation` (SOP class and instance UID),
    /// then a TID 1501 group of `studyMeasurements` when there are any.
    public static func writeMeasurementReport(
        groups: [MeasurementGroup], studyMeasurements: [Measurement],
        segmentation: (seriesUID: String, classUID: String, instanceUID: String),
        algorithm: Algorithm, source: SourceSeries, identity: ObjectIdentity
    ) throws(DICOMObjectError) {
        let strings = CStrings()
        let cMeasurements = groups.map { $0.measurements.map { measurement($0, strings) } }
        let cStudy = studyMeasurements.map { measurement($0, strings) }
        try withSource(source, identity: identity, strings) { (cSource, cOutput, message) in
            withGroups(groups, cMeasurements, strings) { cGroups in
                cStudy.withUnsafeBufferPointer { study in
                    lct_obj_write_measurement_report(
                        &cSource, &cOutput,
                        lct_obj_segmentation_reference(
                            series_instance_uid: strings(segmentation.seriesUID),
                            sop_class_uid: strings(segmentation.classUID),
                            sop_instance_uid: strings(segmentation.instanceUID)),
                        cGroups.baseAddress, cGroups.count, strings("study"), strings(newUID()), study.baseAddress,
                        study.count, strings(algorithm.name), strings(algorithm.version), &message, message.count)
                }
            }
        }
    }

    /// The C groups of `groups`, their measurements pointing into `measurements`.
    private static func withGroups(
        _ groups: [MeasurementGroup], _ measurements: [[lct_obj_measurement]], _ strings: CStrings,
        _ body: (UnsafeBufferPointer<lct_obj_measurement_group>) -> Int32
    ) -> Int32 {
        let flat = measurements.flatMap { $0 }
        return flat.withUnsafeBufferPointer { all in
            var offset = 0
            var cGroups: [lct_obj_measurement_group] = []
            for (group, list) in zip(groups, measurements) {
                var c = lct_obj_measurement_group()
                c.tracking_id = strings(group.trackingID)
                c.tracking_uid = strings(group.trackingUID)
                c.finding = code(group.finding, strings)
                c.finding_site = code(group.findingSite, strings)
                c.laterality = code(group.laterality ?? Code("", "", ""), strings)
                c.segment_number = UInt16(clamping: group.segmentNumber)
                c.measurements = all.baseAddress.map { UnsafePointer($0 + offset) }
                c.measurement_count = list.count
                offset += list.count
                cGroups.append(c)
            }
            return cGroups.withUnsafeBufferPointer(body)
        }
    }

    /// Writes a Secondary Capture of an 8-bit RGB picture (`rgb`: height × width × 3).
    public static func writeSecondaryCapture(
        rgb: [UInt8], width: Int, height: Int, source: SourceSeries, identity: ObjectIdentity
    ) throws(DICOMObjectError) {
        guard width > 0, height > 0, width <= Int(UInt16.max), height <= Int(UInt16.max),
            rgb.count == width * height * 3
        else {
            throw DICOMObjectError(.mismatch, path: identity.path, message: "a picture of \(width) × \(height) RGB")
        }
        let strings = CStrings()
        try withSource(source, identity: identity, strings) { (cSource, cOutput, message) in
            rgb.withUnsafeBufferPointer { pixels in
                lct_obj_write_secondary_capture(
                    &cSource, &cOutput, pixels.baseAddress, UInt16(height), UInt16(width), &message, message.count)
            }
        }
    }
}

// MARK: - The C side

extension DICOMObjectWriter {
    static func code(_ code: Code, _ strings: CStrings) -> lct_obj_code {
        lct_obj_code(value: strings(code.value), scheme: strings(code.scheme), meaning: strings(code.meaning))
    }

    static func measurement(_ m: Measurement, _ strings: CStrings) -> lct_obj_measurement {
        lct_obj_measurement(
            concept: code(m.concept, strings), derivation: code(m.derivation ?? Code("", "", ""), strings),
            unit: code(m.unit, strings), value: m.value)
    }

    /// Fills the C source and output structs (pointing into `strings` and local arrays) and runs
    /// `body` with them and a message buffer; the status it returns goes through `check`.
    static func withSource(
        _ source: SourceSeries, identity: ObjectIdentity, _ strings: CStrings,
        _ body: (inout lct_obj_source, inout lct_obj_output, inout [CChar]) -> Int32
    ) throws(DICOMObjectError) {
        let g = source.geometry
        guard source.sliceReferences.count == g.size.z, g.size.x <= Int(UInt16.max), g.size.y <= Int(UInt16.max)
        else {
            throw DICOMObjectError(
                .mismatch, path: identity.path,
                message: "\(source.sliceReferences.count) slice references for \(g.size.z) slices of "
                    + "\(g.size.x) × \(g.size.y)")
        }
        let references: [UnsafePointer<CChar>?] = source.sliceReferences.map { strings($0.joined(separator: "\\")) }
        let positions = (0..<g.size.z).flatMap { k -> [Double] in
            let p = g.physicalPoint(i: 0, j: 0, k: Double(k))
            return [p.x, p.y, p.z]
        }
        let row = g.direction[0]
        let column = g.direction[1]
        var message = [CChar](repeating: 0, count: 2048)
        let status = references.withUnsafeBufferPointer { refs in
            positions.withUnsafeBufferPointer { points in
                var c = lct_obj_source()
                c.study_instance_uid = strings(source.studyInstanceUID)
                c.series_instance_uid = strings(source.seriesInstanceUID)
                c.frame_of_reference_uid = strings(source.frameOfReferenceUID)
                c.sop_class_uid = strings(source.sopClassUID)
                c.slice_references = refs.baseAddress
                c.slice_count = g.size.z
                c.rows = UInt16(g.size.y)
                c.columns = UInt16(g.size.x)
                c.pixel_spacing = (g.spacing.y, g.spacing.x)
                c.slice_spacing = g.spacing.z
                c.orientation = (row.x, row.y, row.z, column.x, column.y, column.z)
                c.positions = points.baseAddress
                c.patient_name = strings(source.patient?.name ?? "")
                c.patient_id = strings(source.patient?.id ?? "")
                c.patient_birth_date = strings(source.patient?.birthDate ?? "")
                c.study_date = strings(source.patient?.studyDate ?? "")
                c.deidentified = source.patient == nil ? 1 : 0
                c.resampled = source.resampled ? 1 : 0
                var output = lct_obj_output(
                    path: strings(identity.path), series_instance_uid: strings(identity.seriesInstanceUID),
                    sop_instance_uid: strings(identity.sopInstanceUID),
                    series_number: Int32(clamping: identity.seriesNumber),
                    series_description: strings(identity.seriesDescription),
                    software_version: strings(LungCTVersion.string))
                return body(&c, &output, &message)
            }
        }
        try check(status, path: identity.path, message: message)
    }

    /// The one funnel every status of cdicomobjects.h passes through.
    static func check(_ status: Int32, path: String, message: [CChar]) throws(DICOMObjectError) {
        guard status != 0 else { return }
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let kind: DICOMObjectErrorKind =
            switch status {
            case 1: .invalid
            case 2: .writeFailed
            case 3: .readFailed
            default: .internalError
            }
        throw DICOMObjectError(kind, path: path, message: text.isEmpty ? "DCMTK status \(status)" : text)
    }
}
