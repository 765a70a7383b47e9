import DICOMSeries

/// The DICOM series a CT volume was loaded from, as objects that reference it need it: the
/// first header (study, series, frame of reference, patient) and, per slice of the loaded
/// grid, the SOP Instance UIDs it was made from.
public struct SourceSlices: Sendable {
    public var header: DICOMHeader
    /// Per slice of the loaded volume: the (0008,0018) SOP Instance UID of the slice it copies,
    /// or of both neighbours of a slice interpolated into a gap.
    public var sopInstanceUIDs: [[String]]
    /// Whether loading resampled the slices in-plane (a gantry tilt corrected).
    public var resampled: Bool
}

extension Inspection {
    /// The chosen (or named) DICOM CT series' slices in the order `load` stacks them; nil for
    /// NIfTI, pictures and radiographs.
    public func sourceSlices(series: String? = nil) -> SourceSlices? {
        guard case .dicom(let candidates) = source else { return nil }
        let candidate: SeriesCandidate?
        if let series {
            candidate = candidates.first { $0.rejection == nil && $0.isNamed(series) }
        } else {
            candidate = candidates.first(where: \.isChosen)
        }
        guard let candidate, candidate.kind == .ctVolume, let plan = candidate.plan else { return nil }
        let uids = plan.sources.map { source -> [String] in
            switch source {
            case .slice(let index): [plan.slices[index].sopInstanceUID]
            case .interpolated(let lower, let upper, _):
                [plan.slices[lower].sopInstanceUID, plan.slices[upper].sopInstanceUID]
            }
        }
        return SourceSlices(header: plan.slices[0], sopInstanceUIDs: uids, resampled: !plan.tiltShifts.isEmpty)
    }
}
