import DICOMObjects
import DICOMSeries
import Foundation
import NIfTIIO
import SeededRandom
import VolumeCore

/// How the phantom's DICOM files are laid out on disk.
public struct PhantomLayout: Sendable {
    public var syntax: OutputTransferSyntax = .explicitLittle
    /// File names in random order relative to slice position.
    public var shuffleFiles = false
    /// Feet-first: (0018,5100) FFS with rows running from the patient's left to right and
    /// slices stacked from head to feet, as scanners write feet-first series.
    public var feetFirst = false
    public var identity = SeriesIdentity()

    public init() {}
}

/// What `PhantomWriter.write` produced.
public struct PhantomFiles: Sendable {
    public var dicomFolder: String
    public var dicomFiles: [String]
    public var lungMask: String
    public var lesionMask: String
    public var description: String
}

public enum PhantomWriter {
    /// The attributes of the CT Image IOD (PS3.3 A.3) that DICOMWriter's images lack and
    /// dciodvfy asks for: Type 2 ones (present, may be empty) of the Patient, General Study,
    /// Frame of Reference, General Equipment and CT Image modules, and (0018,0015) Body Part
    /// Examined, which settles the Type 2C Laterality (a chest is no paired body part). The
    /// phantom is no patient and no acquisition: identities and KVP stay empty.
    static let completingAttributes: [(keyword: String, value: String)] = [
        ("PatientBirthDate", ""), ("PatientSex", ""), ("StudyTime", "120000"), ("ReferringPhysicianName", ""),
        ("StudyID", "1"), ("AccessionNumber", ""), ("BodyPartExamined", "CHEST"), ("PositionReferenceIndicator", ""),
        ("Manufacturer", "lungct phantom"), ("KVP", ""), ("AcquisitionNumber", "1"),
    ]

    /// Writes the phantom's CT as a DICOM series in `folder/dicom/`, its true lung labels as
    /// `folder/lung_mask_truth.nii.gz`, its lesion labels as `folder/lesion_mask_truth.nii.gz`
    /// and a description as `folder/phantom.json`.
    public static func write(_ phantom: Phantom, options: PhantomOptions, layout: PhantomLayout, to folder: String)
        throws -> PhantomFiles
    {
        let dicomFolder = folder + "/dicom"
        try FileManager.default.createDirectory(atPath: dicomFolder, withIntermediateDirectories: true)
        // Head-first scanners acquire from the top down, so instance 1 is the highest slice.
        var volume = phantom.ct
        var instanceForSlice = (0..<volume.size.z).map { volume.size.z - $0 }
        var identity = layout.identity
        if layout.feetFirst {
            volume = try volume.reoriented(to: "RPI")
            identity.patientPosition = "FFS"
            // After reorientation slice 0 is the highest; feet-first scans start at the feet.
            instanceForSlice = (0..<volume.size.z).map { volume.size.z - $0 }
        }
        var names = (0..<volume.size.z).map { String(format: "IM%05d.dcm", instanceForSlice[$0]) }
        if layout.shuffleFiles {
            var rng = SplitMix64(seed: options.seed &+ 17)
            names.shuffle(using: &rng)
        }
        let files = try DICOMWriter.writeCTSeries(
            volume, to: dicomFolder, identity: identity, syntax: layout.syntax, fileNames: names,
            instanceNumbers: instanceForSlice)
        // DICOMWriter (CDCMTK's lct_dcm_write_image) omits these; until it writes them itself
        // the phantom completes its files, so that they pass dciodvfy.
        try DICOMObjectWriter.addMissingAttributes(completingAttributes, to: files)
        let lungPath = folder + "/lung_mask_truth.nii.gz"
        let lesionPath = folder + "/lesion_mask_truth.nii.gz"
        try NIfTI.write(phantom.lungs, to: lungPath, description: "lungct phantom lungs: 1 right, 2 left")
        try NIfTI.write(
            phantom.lesionMask, to: lesionPath, description: "lungct phantom lesions: 1 GGO, 2 consolidation")

        let voxelML = phantom.ct.geometry.voxelVolume / 1000
        let right = phantom.lungs.voxels.reduce(0) { $0 + ($1 == 1 ? 1 : 0) }
        let left = phantom.lungs.voxels.reduce(0) { $0 + ($1 == 2 ? 1 : 0) }
        let summary = PhantomSummary(
            options: options, transferSyntax: layout.syntax.rawValue, shuffled: layout.shuffleFiles,
            feetFirst: layout.feetFirst, rightLungML: Double(right) * voxelML, leftLungML: Double(left) * voxelML,
            lesions: phantom.lesions)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: folder + "/phantom.json"))
        return PhantomFiles(
            dicomFolder: dicomFolder, dicomFiles: files, lungMask: lungPath, lesionMask: lesionPath,
            description: String(
                format:
                    "%@ phantom, %d slices, %.3f mm pixels, %.2f mm spacing, %@; lungs %.0f mL right, %.0f mL left; %d lesion(s)",
                phantom.ct.size.description, phantom.ct.size.z, phantom.ct.geometry.spacing.x,
                phantom.ct.geometry.spacing.z, layout.syntax.rawValue, summary.rightLungML, summary.leftLungML,
                phantom.lesions.count))
    }
}

/// The contents of phantom.json.
struct PhantomSummary: Codable {
    var options: PhantomOptions
    var transferSyntax: String
    var shuffled: Bool
    var feetFirst: Bool
    var rightLungML: Double
    var leftLungML: Double
    var lesions: [PhantomLesion]
}
