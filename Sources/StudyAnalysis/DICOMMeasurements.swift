import DICOMObjects
import LungSegmentation

/// The codes of lungct's DICOM objects, as PS3.16 gives them (each checked against pydicom's
/// tables generated from PS3.16; CID numbers in the comments). Concepts PS3.16 has no code
/// for are lungct's own, in the private coding scheme `lungctScheme` (PS3.3 8.2: a
/// designator beginning "99" is private).
public enum DICOMCodes {
    public static let lungctScheme = "99LUNGCT"
    /// CID 7150 Segmentation Property Category.
    public static let anatomicalStructure = Code("91723000", "SCT", "Anatomical Structure")
    public static let morphologicallyAbnormalStructure = Code("49755003", "SCT", "Morphologically Abnormal Structure")
    /// CID 7151 Segmentation Property Type. PS3.16 has no pre-coordinated right or left lung
    /// in CID 7151; a side is Lung with a CID 244 laterality modifier.
    public static let lung = Code("39607008", "SCT", "Lung")
    public static let lesion = Code("52988006", "SCT", "Lesion")
    /// CID 244 Laterality.
    public static let right = Code("24028007", "SCT", "Right")
    public static let left = Code("7771000", "SCT", "Left")
    /// CID 7162 Surface Processing Algorithm Family.
    public static let morphologicalOperations = Code("123104", "DCM", "Morphological Operations")
    public static let artificialIntelligence = Code("123110", "DCM", "Artificial Intelligence")
    /// The Parametric Map's quantity and unit (UCUM "1": no units).
    public static let probability = Code("122157", "DCM", "Probability")
    public static let noUnits = Code("1", "UCUM", "no units")
    /// CID 7469 measurements and CID 7464 derivations.
    public static let volume = Code("118565006", "SCT", "Volume")
    public static let attenuation = Code("112031", "DCM", "Attenuation Coefficient")
    public static let mean = Code("373098007", "SCT", "Mean")
    /// UCUM units.
    public static let cubicCentimetre = Code("cm3", "UCUM", "cubic centimeter")
    public static let hounsfield = Code("[hnsf'U]", "UCUM", "Hounsfield unit")
    /// lungct's own concepts: the 15th percentile (a derivation CID 7464 lacks), a band's
    /// fraction of the lung's voxels, and the study's COVID-19 figure.
    public static let percentile15 = Code("P15", lungctScheme, "15th percentile")
    public static func bandFraction(_ band: String) -> Code {
        Code("BAND-" + band.uppercased(), lungctScheme, "Fraction of lung voxels in the \(band) band")
    }
    public static let covidScore = Code("COVID19-SCORE", lungctScheme, "COVID-19 pattern score")
}

/// The report's numbers, taken from the same values report.json holds.
enum DICOMMeasurements {
    /// One TID 1411 group per lung (segments 1 right, 2 left of the Segmentation).
    static func groups(_ panel: LungPanel) -> [MeasurementGroup] {
        [
            group("right lung", panel.right, laterality: DICOMCodes.right, segment: 1),
            group("left lung", panel.left, laterality: DICOMCodes.left, segment: 2),
        ]
    }

    static func group(_ name: String, _ m: LungMeasures, laterality: Code, segment: Int) -> MeasurementGroup {
        var measurements = [
            Measurement(concept: DICOMCodes.volume, unit: DICOMCodes.cubicCentimetre, value: m.volumeML),
            Measurement(
                concept: DICOMCodes.attenuation, derivation: DICOMCodes.mean, unit: DICOMCodes.hounsfield,
                value: m.meanHU),
            Measurement(
                concept: DICOMCodes.attenuation, derivation: DICOMCodes.percentile15, unit: DICOMCodes.hounsfield,
                value: m.percentile15HU),
        ]
        for band in AttenuationBand.allCases {
            guard let fraction = m.bandFractions[band.rawValue] else { continue }
            measurements.append(
                Measurement(concept: DICOMCodes.bandFraction(band.rawValue), unit: DICOMCodes.noUnits, value: fraction))
        }
        return MeasurementGroup(
            trackingID: name, finding: DICOMCodes.lung, findingSite: DICOMCodes.lung, laterality: laterality,
            segmentNumber: segment, measurements: measurements)
    }

    /// The study's figure (report.json's model.probability), when a model gave one.
    static func study(_ report: AnalysisReport) -> [Measurement] {
        guard let probability = report.model.probability else { return [] }
        return [Measurement(concept: DICOMCodes.covidScore, unit: DICOMCodes.noUnits, value: probability)]
    }
}
