internal import CConvKernels
import Dispatch
import Foundation

/// One image's feature maps between the layers of a network at inference, in the direct
/// kernels' packed layout (blocks of channels, each a plane with a zero border and slack; see
/// "Packed maps" in CConvKernels.h): a convolution writes its output this way and the next
/// convolution, pooling, upsampling or concatenation reads it as it is, so a network packs its
/// input once instead of once per convolution. The buffer comes from `ScratchPool`; whoever
/// made the maps gives it back (`release`).
struct PackedMaps: @unchecked Sendable {
    let channels, height, width, blockChannels: Int
    let buffer: UnsafeMutableBufferPointer<Float>

    var blocks: Int { (channels + blockChannels - 1) / blockChannels }
    /// Floats in one block's plane. The corresponding C function is `lct_maps_plane_count`.
    var plane: Int { lct_maps_plane_count(Int32(height), Int32(width), Int32(blockChannels)) }
    var base: UnsafeMutablePointer<Float> { buffer.baseAddress! }

    /// Maps of this size with uninitialised values (the producer writes every one).
    init(channels: Int, height: Int, width: Int, blockChannels: Int) {
        (self.channels, self.height, self.width, self.blockChannels) = (channels, height, width, blockChannels)
        let blocks = (channels + blockChannels - 1) / blockChannels
        buffer = ScratchPool.shared.take(
            blocks * lct_maps_plane_count(Int32(height), Int32(width), Int32(blockChannels)))
    }

    /// The maps of a [1, C, H, W] tensor, in blocks of 16 channels (of C when C is below 16).
    /// The corresponding C function is `lct_maps_pack`.
    init(packing tensor: Tensor) {
        precondition(tensor.shape.count == 4 && tensor.shape[0] == 1, "PackedMaps: one image, got \(tensor.shape)")
        let (channels, height, width) = (tensor.shape[1], tensor.shape[2], tensor.shape[3])
        self.init(
            channels: channels, height: height, width: width, blockChannels: min(channels, Int(LCT_CONV_BLOCK)))
        let maps = self
        tensor.storage.withUnsafeBufferPointer { image in
            let source = SendablePointer(image.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: blocks) { block in
                lct_maps_pack(
                    source.pointer, Int32(channels), Int32(height), Int32(width), Int32(maps.blockChannels),
                    Int32(block), maps.base)
            }
        }
    }

    /// The maps as a [1, C, H, W] tensor. The corresponding C function is `lct_maps_unpack`.
    func unpacked() -> Tensor {
        let count = channels * height * width
        let storage = [Float](unsafeUninitializedCapacity: count) { image, initialised in
            lct_maps_unpack(
                base, Int32(channels), Int32(height), Int32(width), Int32(blockChannels), image.baseAddress!)
            initialised = count
        }
        return Tensor(shape: [1, channels, height, width], storage: storage)
    }

    func release() { ScratchPool.shared.give(buffer) }

    /// 2×2 max pooling with stride 2 (16-channel blocks only). The corresponding C function is
    /// `lct_maps_max_pool`.
    func maxPooled() -> PackedMaps {
        let output = PackedMaps(channels: channels, height: height / 2, width: width / 2, blockChannels: blockChannels)
        let (source, target) = (plane, output.plane)
        DispatchQueue.concurrentPerform(iterations: blocks) { block in
            lct_maps_max_pool(
                base + block * source, Int32(height), Int32(width), output.base + block * target)
        }
        return output
    }

    /// Upsampled by `layer`'s factor with its taps (16-channel blocks only). The corresponding C
    /// function is `lct_maps_upsample`.
    func upsampled(_ layer: Upsample2D) -> PackedMaps {
        let (outHeight, outWidth) = (height * layer.factor, width * layer.factor)
        let output = PackedMaps(channels: channels, height: outHeight, width: outWidth, blockChannels: blockChannels)
        let (rows, columns) = (
            (0..<outHeight).map { layer.taps($0, height) }, (0..<outWidth).map { layer.taps($0, width) }
        )
        let (y0, y1, wy) = (rows.map { Int32($0.0) }, rows.map { Int32($0.1) }, rows.map(\.2))
        let (x0, x1, wx) = (columns.map { Int32($0.0) }, columns.map { Int32($0.1) }, columns.map(\.2))
        let (source, target) = (plane, output.plane)
        for block in 0..<blocks {
            lct_maps_upsample(
                base + block * source, Int32(height), Int32(width), Int32(outHeight), Int32(outWidth), y0, y1, wy,
                x0, x1, wx, output.base + block * target)
        }
        return output
    }

    /// These maps' channels followed by `other`'s (both in whole 16-channel blocks, same size).
    func concatenated(_ other: PackedMaps) -> PackedMaps {
        let output = PackedMaps(
            channels: channels + other.channels, height: height, width: width, blockChannels: blockChannels)
        let count = blocks * plane
        output.base.update(from: base, count: count)
        (output.base + count).update(from: other.base, count: other.blocks * other.plane)
        return output
    }

    /// A copy in a buffer of its own.
    func copy() -> PackedMaps {
        let output = PackedMaps(channels: channels, height: height, width: width, blockChannels: blockChannels)
        output.base.update(from: base, count: blocks * plane)
        return output
    }

    /// Whether the maps are whole 16-channel blocks, as pooling, upsampling and concatenation need.
    var inWholeBlocks: Bool { blockChannels == Int(LCT_CONV_BLOCK) && channels % blockChannels == 0 }
}

/// A pointer handed to concurrent workers that each touch their own part of what it points to.
private struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafePointer<Float>
    init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}

/// What flows between layers at inference: packed maps while the layers can read them, else a
/// tensor (a layer without a packed form, or a result that is not one image's maps).
enum InferenceActivations {
    case maps(PackedMaps)
    case tensor(Tensor)

    var tensor: Tensor {
        switch self {
        case .maps(let maps): maps.unpacked()
        case .tensor(let tensor): tensor
        }
    }
}

extension Sequential {
    /// Whether `infer` runs this network on packed maps: it was folded for inference, so its
    /// convolutions run on the direct kernels.
    public var runsOnPackedMaps: Bool { layers.contains { $0 is InferenceConvolution } }

    /// Inference of one image ([1, C, H, W]) on packed maps; equals `forward(input, training: false)`
    /// up to float rounding.
    func inferOnPackedMaps(_ input: Tensor) -> Tensor {
        let output = run(.tensor(input))
        defer { if case .maps(let maps) = output { maps.release() } }
        return output.tensor
    }

    /// The layers on `input`, whose maps stay the caller's; the result is the caller's to release.
    func run(_ input: InferenceActivations) -> InferenceActivations {
        var (current, owned) = (input, false)
        var index = layers.startIndex
        while index < layers.endIndex {
            let next: InferenceActivations
            if let (conv, maps, packed) = Self.poolableConvolution(layers[index...], on: current) {
                // A convolution and the 2×2 max pooling after it, in one pass.
                next = .maps(conv.convolution(maps, pooling: true))
                if packed { maps.release() }
                index += 2
            } else {
                next = Self.apply(layers[index], to: current)
                index += 1
            }
            if owned, case .maps(let maps) = current { maps.release() }
            (current, owned) = (next, true)
        }
        if !owned, case .maps(let maps) = current { return .maps(maps.copy()) }
        return current
    }

    /// The convolution and the maps to convolve and pool in one pass when `layers` begins with a
    /// convolution that can pool `input`'s maps as it goes (`poolsWhileConvolving`), followed by
    /// 2×2 max pooling with stride 2; else nil. A tensor is packed first (`packed`: the maps are
    /// the caller's to release).
    private static func poolableConvolution(_ layers: ArraySlice<Layer>, on input: InferenceActivations)
        -> (InferenceConvolution, PackedMaps, packed: Bool)?
    {
        guard layers.count >= 2, let conv = layers[layers.startIndex] as? InferenceConvolution,
            let pool = layers[layers.startIndex + 1] as? Pool2D,
            pool.mode == .max && pool.kernel == 2 && pool.stride == 2
        else { return nil }
        switch input {
        case .maps(let maps):
            return conv.convolution.poolsWhileConvolving(maps) ? (conv, maps, false) : nil
        case .tensor(let tensor):
            guard tensor.shape.count == 4, tensor.shape[0] == 1, tensor.shape[2] % 2 == 0, tensor.shape[3] % 2 == 0,
                conv.convolution.readsPacked(tensor)
            else { return nil }
            return (conv, PackedMaps(packing: tensor), true)
        }
    }

    /// One layer at inference: on packed maps when it has a packed form for them, else its
    /// forward pass on a tensor. Never releases `input`.
    private static func apply(_ layer: Layer, to input: InferenceActivations) -> InferenceActivations {
        switch (layer, input) {
        case (let conv as InferenceConvolution, .maps(let maps)) where conv.convolution.reads(maps):
            return .maps(conv.convolution(maps))
        case (let conv as InferenceConvolution, .tensor(let tensor))
        where tensor.shape.count == 4 && tensor.shape[0] == 1 && conv.convolution.readsPacked(tensor):
            let maps = PackedMaps(packing: tensor)
            defer { maps.release() }
            return .maps(conv.convolution(maps))
        case (let pool as Pool2D, .maps(let maps))
        where pool.mode == .max && pool.kernel == 2 && pool.stride == 2 && maps.inWholeBlocks
            && maps.height >= 2 && maps.width >= 2:
            return .maps(maps.maxPooled())
        case (let upsample as Upsample2D, .maps(let maps)) where maps.inWholeBlocks:
            return .maps(maps.upsampled(upsample))
        case (let skip as SkipConnection, .maps(let maps)) where skip.merge == .concatenate && maps.inWholeBlocks:
            let inner = skip.branch.run(input)
            defer { if case .maps(let innerMaps) = inner { innerMaps.release() } }
            if case .maps(let innerMaps) = inner, innerMaps.inWholeBlocks, innerMaps.height == maps.height,
                innerMaps.width == maps.width
            {
                return .maps(maps.concatenated(innerMaps))
            }
            let (direct, through) = (maps.unpacked(), inner.tensor)
            precondition(
                through.shape[0] == 1 && through.shape[2...] == direct.shape[2...],
                "SkipConnection: the branch changed the spatial size \(direct.shape) → \(through.shape)")
            let channels = direct.shape[1] + through.shape[1]
            return .tensor(
                Tensor(
                    shape: [1, channels, maps.height, maps.width], storage: direct.storage + through.storage))
        default:
            return .tensor(layer.forward(input.tensor, training: false))
        }
    }
}
