import AppSupport
import Foundation
import ModelStore
import NeuralEngine

/// What `lungct train --task lesion` was asked to do.
public struct LesionTrainJob: Sendable {
    /// A folder of normal CT studies: each sub-folder (DICOM) or NIfTI file in it is one study.
    public var data: String
    /// The same, for the volumes early stopping and the reported Dice are measured on.
    public var validation: String?
    public var output: String
    public var options = LesionTrainingOptions()
    public var dataDescription: String?
    public var dataTerms: String?
    public var knownBiases: [String] = []

    public init(data: String, validation: String?, output: String) {
        self.data = data
        self.validation = validation
        self.output = output
    }
}

/// `NAME.report.json` beside a lesion model.
public struct LesionTrainingReport: Codable, Sendable {
    public var trainingVolumes: [String]
    public var validationVolumes: [String]
    public var history: [EpochRecord]
    public var bestEpoch: Int
    /// Dice of each lesion class on the validation volumes' synthetic lesions, at the best epoch.
    public var validationDice: [String: Double]
    public var parameters: Int
    public var multiplyAddsPerPlane: Int
    public var options: LesionTrainingOptions
    public var seconds: Double
    public var model: String
    public var sha256: String
}

extension LesionTraining {
    /// The studies of a folder: its sub-folders and NIfTI files, in name order.
    public static func studies(in folder: String) throws(LungCTError) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw .usage("\(folder): not a readable folder of CT studies")
        }
        let studies = names.sorted().filter { !$0.hasPrefix(".") }.map { folder + "/" + $0 }.filter { path in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
                && (isFolder.boolValue || path.hasSuffix(".nii") || path.hasSuffix(".nii.gz"))
        }
        guard !studies.isEmpty else { throw .usage("\(folder): holds no CT study (sub-folder or .nii/.nii.gz)") }
        return studies
    }

    /// Trains the lesion U-Net on `job.data`'s normal CTs with synthetic lesions, stops early on
    /// the validation volumes' Dice, writes the model (with its card and grid), its MANIFEST
    /// line and NAME.report.json.
    public static func train(_ job: LesionTrainJob, progress: (@Sendable (String) -> Void)? = nil)
        throws(LungCTError) -> LesionTrainingReport
    {
        let start = Date()
        try OutputFolder.prepare(URL(fileURLWithPath: job.output).deletingLastPathComponent().path)
        let options = job.options
        var volumes: [LesionTrainingVolume] = []
        for path in try studies(in: job.data) {
            volumes.append(try prepare(path, grid: options.grid))
            progress?(
                "prepared \(path): grid \(volumes.last!.hu.size), \(volumes.last!.lungPlanes.count) planes with lung")
        }
        var held: [LesionTrainingVolume] = []
        for path in try job.validation.map(studies) ?? [] { held.append(try prepare(path, grid: options.grid)) }
        let validation = validation(held, options: options)
        let layers = Architecture.unet(
            inputChannels: options.grid.channels, classes: LesionTrainingOptions.classes.count, width: options.width,
            depth: options.depth)
        let network: Sequential
        do { network = try Architecture.build(layers, seed: options.seed) } catch {
            throw .internalFailure("cannot build the lesion network: \(error)")
        }
        let material = volumes
        let result = Trainer.trainSegmentation(
            network, options: options.training,
            batches: { epoch, index in batch(material, options: options, epoch: epoch, index: index) },
            validation: validation,
            progress: { epoch, index, count, loss in
                if index == count || index % 10 == 0 {
                    progress?(String(format: "epoch %d batch %d/%d loss %.4f", epoch, index, count, loss))
                }
            },
            epochEnded: { record in
                progress?(
                    String(
                        format: "epoch %d: train loss %.4f, validation loss %.4f, Dice %@ (%.0f s)", record.epoch,
                        record.trainLoss, record.validationLoss ?? .nan,
                        (record.validationDice ?? []).map { String(format: "%.3f", $0) }.joined(separator: "/"),
                        record.seconds))
            })
        let best = result.history.first { $0.epoch == result.bestEpoch }
        let dice = Dictionary(
            uniqueKeysWithValues: zip(
                LesionTrainingOptions.classes.dropFirst(), (best?.validationDice ?? []).map(Double.init)))
        let sha = try save(network, job: job, layers: layers, volumes: volumes, held: held, dice: dice)
        try ModelTraining.updateManifest(for: job.output, sha256: sha)
        let report = LesionTrainingReport(
            trainingVolumes: volumes.map(\.name), validationVolumes: held.map(\.name), history: result.history,
            bestEpoch: result.bestEpoch, validationDice: dice,
            parameters: network.parameters.reduce(0) { $0 + $1.value.storage.count },
            multiplyAddsPerPlane: Architecture.multiplyAdds(layers, height: 224, width: 224), options: options,
            seconds: Date().timeIntervalSince(start), model: job.output, sha256: sha)
        try JSON.write(report, to: URL(fileURLWithPath: job.output).deletingPathExtension().path + ".report.json")
        return report
    }

    static func save(
        _ network: Sequential, job: LesionTrainJob, layers: [LayerSpecification], volumes: [LesionTrainingVolume],
        held: [LesionTrainingVolume], dice: [String: Double]
    ) throws(LungCTError) -> String {
        let options = job.options
        let card = ModelCard(
            name: URL(fileURLWithPath: job.output).deletingPathExtension().lastPathComponent,
            task: "COVID-19-type lesions per voxel (ground glass, consolidation), chest CT in HU",
            trainingData: (job.dataDescription.map { $0 + "; " } ?? "")
                + "\(volumes.count) normal CT volumes (\(volumes.map(\.name).joined(separator: ", "))) with synthetic "
                + "lesions inserted on the fly; no CT with real lesions",
            dataTerms: job.dataTerms ?? "see the data sets' own terms",
            metrics: dice.mapValues {
                String(
                    format: "Dice %.3f on synthetic lesions in held-out normal volumes (%@)", $0,
                    held.map(\.name).joined(separator: ", "))
            },
            knownBiases: job.knownBiases,
            createdBy:
                "lungct \(LungCTVersion.string) train --task lesion, seed \(options.seed), U-Net width \(options.width) "
                + "depth \(options.depth), crops \(options.crop)², \(options.training.epochs) epochs × "
                + "\(options.training.batchesPerEpoch) batches of \(options.batchSize)")
        var description = ModelDescription(
            layers: layers,
            input: ModelInput(
                width: options.crop, height: options.crop, channels: options.grid.channels,
                normalization: "lesion grid: lung window, 2.5D planes"),
            classes: LesionTrainingOptions.classes, card: card)
        description.grid = options.grid
        do {
            try ModelFile.save(network, description: description, to: job.output)
            return try ModelFile.sha256(job.output)
        } catch {
            throw .outputFailed(error.description)
        }
    }
}
