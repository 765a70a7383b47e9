import AppSupport
import Foundation
import ModelStore
import NeuralEngine

// The lesion network's own rule for being applied: analysis resamples a CT onto the model's grid
// (`LesionGrid`), shows it each plane with its neighbours as channels, and reads per-pixel class
// probabilities of the plane's size (`Sequential.segmentationProbabilities`).

extension AnalysisModels {
    /// The grid's steps must lie in this range (mm): finer than any CT's pixels would only
    /// multiply the work, coarser than a thick slice would lose every small lesion; a corrupt
    /// grid outside it must not become a huge allocation.
    public static let lesionGridStepRangeMM = 0.3...10.0
    /// At most this many planes on each side of the segmented one.
    public static let maximumContextSlices = 8
    /// The padding a network may ask of the input's sides (2^depth for a U-Net): beyond it a
    /// plane would be padded to many times its size.
    public static let maximumSizeMultiple = 256

    /// Refuses a lesion model `analyze` cannot apply: it needs the grid its input is prepared on
    /// (sane steps, context and window), as many input channels as the grid has planes, at
    /// least two classes (the first is background: the lesion probability is one minus its
    /// probability), a network that ends in a 2D convolution to the classes and keeps the
    /// plane's size (no global pooling or dense layer; every pooling undone by upsampling).
    public static func checkLesionModel(_ description: ModelDescription, network: Sequential, path: String)
        throws(LungCTError)
    {
        func refuse(_ problem: String) -> LungCTError {
            .modelInvalid(
                "\(path): \(problem): lungct cannot apply this lesion model (train one with lungct train --task lesion)"
            )
        }
        guard let grid = description.grid else {
            throw refuse("its description has no lesion grid (pixel size, plane step, context planes, window)")
        }
        guard lesionGridStepRangeMM.contains(grid.pixelMM), lesionGridStepRangeMM.contains(grid.sliceStepMM),
            (0...maximumContextSlices).contains(grid.contextSlices), grid.marginMM >= 0, grid.marginMM <= 100,
            grid.windowHighHU > grid.windowLowHU
        else {
            throw refuse(
                "its lesion grid is out of range (pixel \(grid.pixelMM) mm, plane step \(grid.sliceStepMM) mm, "
                    + "\(grid.contextSlices) context planes, margin \(grid.marginMM) mm, window \(grid.windowLowHU)..\(grid.windowHighHU) HU)"
            )
        }
        let classes = description.classes.count
        guard classes >= 2 else {
            throw refuse("it has \(classes) class(es); a lesion model needs background and a lesion")
        }
        let layers = description.layers
        guard description.input.channels == grid.channels,
            layers.first(where: { $0.kind == "conv2d" })?.inputChannels == grid.channels
        else {
            throw refuse(
                "the model takes \(description.input.channels) input channels, its grid gives \(grid.channels) planes")
        }
        guard let last = layers.last, last.kind == "conv2d", last.outputChannels == classes else {
            throw refuse("the model does not end in a 2D convolution to its \(classes) classes")
        }
        guard sizeFactor(layers) == 1, network.sizeMultiple <= maximumSizeMultiple else {
            throw refuse("the model does not give one output per input pixel (global pooling, dense or strided layers)")
        }
    }

    /// How many times larger than its input `layers`' output is along each side, when every
    /// layer's effect on the size is known and every skip connection's branch gives back the
    /// size it was given; nil otherwise (a global pooling or dense layer, a convolution that
    /// does not keep the size, a branch that changes it).
    static func sizeFactor(_ layers: [LayerSpecification]) -> Double? {
        var factor = 1.0
        for layer in layers {
            switch layer.kind {
            case "conv2d":
                let (kernel, dilation) = (layer.kernel ?? 1, layer.dilation ?? 1)
                guard (layer.stride ?? 1) == 1, (layer.padding ?? 0) * 2 == dilation * (kernel - 1) else { return nil }
            case "maxpool2d", "avgpool2d":
                let stride = layer.stride ?? layer.kernel ?? 1
                guard stride >= 1, (layer.kernel ?? 1) == stride else { return nil }
                factor /= Double(stride)
            case "upsample-nearest", "upsample-bilinear":
                factor *= Double(max(1, layer.stride ?? 2))
            case "skip-concatenate", "skip-add":
                guard sizeFactor(layer.branch ?? []) == 1 else { return nil }
            case "batchnorm2d", "relu", "leakyrelu", "dropout":
                break
            default:
                return nil
            }
        }
        return factor
    }
}

extension ModelTools {
    /// Writes an untrained (seeded) lesion U-Net on the default lesion grid, with the lesion
    /// classes (background, ground glass, consolidation) and a card that says so: what
    /// benchmarks and tests of the lesion stage need without a trained network.
    public static func initializeLesion(to path: String, width: Int, depth: Int, seed: UInt64) throws(LungCTError) {
        let grid = LesionGridSpec()
        let classes = ["background", "ground-glass", "consolidation"]
        do {
            let layers = Architecture.unet(
                inputChannels: grid.channels, classes: classes.count, width: width, depth: depth)
            let network = try Architecture.build(layers, seed: seed)
            var description = ModelDescription(
                layers: layers,
                input: ModelInput(
                    width: 128, height: 128, channels: grid.channels,
                    normalization: "lesion grid: lung window, 2.5D planes"
                ),
                classes: classes,
                card: ModelCard(
                    name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent,
                    task: "untrained lesion network (per voxel: ground glass, consolidation), chest CT in HU",
                    intendedUse: "benchmarks and tests only; untrained; not for clinical use", trainingData: "none",
                    dataTerms: "none", createdBy: "lungct \(LungCTVersion.string) model init --lesion, seed \(seed)"))
            description.grid = grid
            try ModelFile.save(network, description: description, to: path)
        } catch let error as ModelError {
            throw .outputFailed(error.description)
        } catch {
            throw .internalFailure("cannot build the lesion network lungct model init describes: \(error)")
        }
    }
}
