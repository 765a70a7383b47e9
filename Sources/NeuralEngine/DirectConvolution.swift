internal import CConvKernels
import Dispatch
import Foundation

/// A unit-stride 2D convolution prepared for inference on lungct's direct kernels
/// (CConvKernels): weights packed once into 16-output-channel blocks, the input packed per
/// call into zero-padded channel blocks (NCHWc), and the bias and an activation
/// max(x, slope·x) added in the kernel's output pass, which writes NCHW. The result equals
/// `Convolution.conv2d` followed by the activation, up to float rounding (the sums run in
/// another order). Work is split between the cores by image, output-channel block and band
/// of output rows, so one image uses every core too.
public struct DirectConvolution: Sendable {
    public let inputChannels, outputChannels, kernel, padding, dilation: Int
    /// The slope of the activation after the bias (0: ReLU), nil for none.
    public let activation: Float?
    private let packedWeights: [Float]
    /// The weights transformed for Winograd F(2×2, 3×3), for a 3×3 convolution with padding 1
    /// and at least 16 input channels (below that, the transforms cost more than they save).
    private let winogradWeights: [Float]?
    private let bias: [Float]?

    /// The cores work is split between, read once: Foundation reads the process's CPU limits
    /// from /proc and /sys at each `activeProcessorCount`, a cost a small network paid per layer.
    static let cores = ProcessInfo.processInfo.activeProcessorCount

    /// Whether the direct kernels compute a convolution with this stride (else im2col does).
    public static func supports(stride: Int) -> Bool { stride == 1 }

    /// The instruction set the kernels chose on this CPU: "AVX-512", "AVX2" or "portable".
    /// The corresponding C function is `lct_conv_isa`.
    public static var instructionSet: String { ["portable", "AVX2", "AVX-512"][Int(lct_conv_isa())] }

    /// Packs OIHW `weights` (square kernel). The corresponding C function is `lct_conv_pack_weights`.
    public init(weights: Tensor, bias: [Float]?, padding: Int, dilation: Int = 1, activation: Float? = nil) {
        precondition(weights.shape.count == 4 && weights.shape[2] == weights.shape[3], "direct conv: OIHW, square")
        precondition(padding >= 0 && dilation >= 1, "direct conv: padding \(padding), dilation \(dilation)")
        (outputChannels, inputChannels, kernel) = (weights.shape[0], weights.shape[1], weights.shape[2])
        precondition(bias == nil || bias!.count == outputChannels, "direct conv: \(bias!.count) biases")
        (self.padding, self.dilation, self.activation, self.bias) = (padding, dilation, activation, bias)
        let (outputs, inputs, side) = (Int32(outputChannels), Int32(inputChannels), Int32(kernel))
        let count = lct_conv_packed_weights_count(outputs, inputs, side)
        packedWeights = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            weights.storage.withUnsafeBufferPointer { oihw in
                lct_conv_pack_weights(oihw.baseAddress!, outputs, inputs, side, buffer.baseAddress!)
            }
            initialised = count
        }
        winogradWeights =
            kernel == 3 && padding == 1 && dilation == 1 && inputChannels >= Int(LCT_CONV_BLOCK)
            ? [Float](unsafeUninitializedCapacity: lct_wino_weights_count(outputs, inputs)) { buffer, initialised in
                weights.storage.withUnsafeBufferPointer { oihw in
                    lct_wino_pack_weights(oihw.baseAddress!, outputs, inputs, buffer.baseAddress!)
                }
                initialised = buffer.count
            } : nil
    }

    /// The kernel's view of one call's sizes.
    private func shape(height: Int, width: Int) -> lct_conv_shape {
        let blockChannels = min(inputChannels, Int(LCT_CONV_BLOCK))
        let (paddedHeight, paddedWidth) = (height + 2 * padding, width + 2 * padding)
        let reach = (kernel - 1) * dilation
        precondition(paddedHeight > reach && paddedWidth > reach, "direct conv: \(height)×\(width) input too small")
        var shape = lct_conv_shape(
            in_blocks: Int32((inputChannels + blockChannels - 1) / blockChannels),
            block_channels: Int32(blockChannels), kernel: Int32(kernel), dilation: Int32(dilation),
            padded_height: Int32(paddedHeight), padded_width: Int32(paddedWidth), origin: 0,
            out_height: Int32(paddedHeight - reach), out_width: Int32(paddedWidth - reach),
            out_channels: Int32(outputChannels), in_plane: 0, out_plane: 0, out_packed: 0,
            slope: activation ?? 1, activate: activation == nil ? 0 : 1, pooled: 0, out_row_origin: 0)
        shape.in_plane = lct_conv_packed_input_count(&shape) / Int(shape.in_blocks)
        return shape
    }

    /// The convolution (and activation) of an NCHW batch. The corresponding C functions are
    /// `lct_conv_pack_input` and `lct_conv_run`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.shape.count == 4 && input.shape[1] == inputChannels, "direct conv: input \(input.shape)")
        let (batch, height, width) = (input.shape[0], input.shape[2], input.shape[3])
        var shape = self.shape(height: height, width: width)
        let (outHeight, outWidth) = (Int(shape.out_height), Int(shape.out_width))
        let (inBlocks, outBlocks) = (Int(shape.in_blocks), (outputChannels + 15) / 16)
        let packedPerImage = lct_conv_packed_input_count(&shape)
        let (inputPerImage, outputPerImage) = (inputChannels * height * width, outputChannels * outHeight * outWidth)
        let cores = DirectConvolution.cores
        // Enough bands for four work items per core, so that uneven items still balance.
        let wanted = min(outHeight, max(1, (4 * cores + batch * outBlocks - 1) / (batch * outBlocks)))
        let rowsPerBand = (outHeight + wanted - 1) / wanted
        let bands = (outHeight + rowsPerBand - 1) / rowsPerBand  // none empty
        let packed = ScratchPool.shared.take(batch * packedPerImage)
        defer { ScratchPool.shared.give(packed) }
        let storage = [Float](unsafeUninitializedCapacity: batch * outputPerImage) { output, initialised in
            input.storage.withUnsafeBufferPointer { source in
                packedWeights.withUnsafeBufferPointer { weights in
                    let buffers = DirectBuffers(
                        source: source, packed: packed, weights: weights, output: output, shape: shape)
                    let bias = self.bias
                    DispatchQueue.concurrentPerform(iterations: batch * inBlocks) { item in
                        let image = item / inBlocks
                        withUnsafePointer(to: buffers.shape) { shape in
                            lct_conv_pack_input(
                                shape, buffers.source.baseAddress! + image * inputPerImage, Int32(inputChannels),
                                Int32(height), Int32(width), Int32(padding), Int32(item % inBlocks),
                                buffers.packed.baseAddress! + image * packedPerImage)
                        }
                    }
                    DispatchQueue.concurrentPerform(iterations: batch * outBlocks * bands) { item in
                        let (image, block, band) = (item / (outBlocks * bands), item / bands % outBlocks, item % bands)
                        let rows = (band * rowsPerBand)..<min(outHeight, (band + 1) * rowsPerBand)
                        withUnsafePointer(to: buffers.shape) { shape in
                            bias.withUnsafeBufferPointer { bias in
                                lct_conv_run(
                                    shape, buffers.packed.baseAddress! + image * packedPerImage,
                                    buffers.weights.baseAddress!, bias.baseAddress, Int32(block),
                                    Int32(rows.lowerBound), Int32(rows.upperBound),
                                    buffers.output.baseAddress! + image * outputPerImage)
                            }
                        }
                    }
                }
            }
            initialised = batch * outputPerImage
        }
        return Tensor(shape: [batch, outputChannels, outHeight, outWidth], storage: storage)
    }
}

extension Optional where Wrapped == [Float] {
    /// The array's buffer, or an empty one (NULL base address) for nil.
    fileprivate func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) -> R) -> R {
        switch self {
        case .some(let array): array.withUnsafeBufferPointer(body)
        case .none: body(UnsafeBufferPointer(start: nil, count: 0))
        }
    }
}

/// The buffers of one direct convolution, shared by its work items: each packs its own
/// channel block of its own image, then writes only its own block and rows of the output,
/// which is what makes the unchecked Sendable sound.
private struct DirectBuffers: @unchecked Sendable {
    let source: UnsafeBufferPointer<Float>
    let packed: UnsafeMutableBufferPointer<Float>
    let weights: UnsafeBufferPointer<Float>
    let output: UnsafeMutableBufferPointer<Float>
    let shape: lct_conv_shape
}

/// Scratch buffers kept between layers and calls (the packed inputs of `DirectConvolution`), so
/// a network's steady state allocates none: a buffer taken is the smallest free one that is
/// large enough, or a new one; a buffer given back stays for the next call.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private var free: [UnsafeMutableBufferPointer<Float>] = []
    private let lock = NSLock()

    func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        lock.withLock {
            let fitting = free.indices.filter { free[$0].count >= count }
            if let best = fitting.min(by: { free[$0].count < free[$1].count }) { return free.remove(at: best) }
            if let smallest = free.indices.min(by: { free[$0].count < free[$1].count }) {
                free.remove(at: smallest).deallocate()
            }
            return .allocate(capacity: max(count, 1))
        }
    }

    func give(_ buffer: UnsafeMutableBufferPointer<Float>) {
        lock.withLock { free.append(buffer) }
    }
}

extension DirectConvolution {
    /// Whether the convolution reads packed maps as they are: it keeps the size
    /// (2·padding = (kernel − 1)·dilation), its padding fits in the maps' border, and the maps'
    /// channel blocks are the ones its weights were packed for.
    func reads(_ maps: PackedMaps) -> Bool {
        maps.channels == inputChannels && maps.blockChannels == min(inputChannels, Int(LCT_CONV_BLOCK))
            && keepsSize && maps.height > (kernel - 1) * dilation && maps.width > (kernel - 1) * dilation
    }

    /// Whether `reads` holds for the maps that `PackedMaps(packing: tensor)` would make.
    func readsPacked(_ tensor: Tensor) -> Bool {
        tensor.shape[1] == inputChannels && keepsSize && tensor.shape[2] > (kernel - 1) * dilation
            && tensor.shape[3] > (kernel - 1) * dilation
    }

    private var keepsSize: Bool { 2 * padding == (kernel - 1) * dilation && padding <= Int(LCT_MAPS_BORDER) }

    /// Whether the convolution of `maps` runs Winograd F(2×2, 3×3).
    func runsWinograd(_ maps: PackedMaps) -> Bool {
        winogradWeights != nil && maps.blockChannels == Int(LCT_CONV_BLOCK) && poolsWhileConvolving(maps)
    }

    /// Whether `callAsFunction(_:pooling:)` can max-pool the convolution of `maps` as it goes: the
    /// maps are read as they are and have an even height and width.
    func poolsWhileConvolving(_ maps: PackedMaps) -> Bool {
        reads(maps) && maps.height % 2 == 0 && maps.width % 2 == 0
    }

    /// The convolution (and activation) of packed maps, written as packed maps of 16-channel
    /// blocks (which `reads` must accept); with `pooling` (which needs `poolsWhileConvolving`),
    /// followed by 2×2 max pooling with stride 2 in the same pass, so that the full-size maps are
    /// never written out: the half-size maps that `maxPooled()` would make of the full-size ones,
    /// value for value. The corresponding C functions are `lct_conv_run`, `lct_wino_run`,
    /// `lct_maps_max_pool_pair` and `lct_maps_clear_edges`.
    func callAsFunction(_ maps: PackedMaps, pooling: Bool = false) -> PackedMaps {
        precondition(!pooling || poolsWhileConvolving(maps), "direct conv: cannot pool \(maps.height)×\(maps.width)")
        let (height, width, border) = (maps.height, maps.width, Int(LCT_MAPS_BORDER))
        let block = Int(LCT_CONV_BLOCK)
        let (outHeight, outWidth) = pooling ? (height / 2, width / 2) : (height, width)
        let output = PackedMaps(channels: outputChannels, height: outHeight, width: outWidth, blockChannels: block)
        let outBlocks = output.blocks
        let shape = lct_conv_shape(
            in_blocks: Int32(maps.blocks), block_channels: Int32(maps.blockChannels), kernel: Int32(kernel),
            dilation: Int32(dilation), padded_height: Int32(height + 2 * border),
            padded_width: Int32(width + 2 * border), origin: Int32(border - padding), out_height: Int32(height),
            out_width: Int32(width), out_channels: Int32(outputChannels), in_plane: maps.plane,
            out_plane: output.plane, out_packed: 1, slope: activation ?? 1, activate: activation == nil ? 0 : 1,
            pooled: pooling ? 1 : 0, out_row_origin: 0)
        lct_maps_clear_edges(Int32(outHeight), Int32(outWidth), Int32(outBlocks), output.base)
        if runsWinograd(maps) {
            runWinograd(maps, shape: shape, into: output)
            return output
        }
        if pooling {
            runPooled(maps, shape: shape, into: output)
            return output
        }
        let cores = DirectConvolution.cores
        // Enough bands for four work items per core, so that uneven items still balance.
        let wanted = min(height, max(1, (4 * cores + outBlocks - 1) / outBlocks))
        let rowsPerBand = (height + wanted - 1) / wanted
        let bands = (height + rowsPerBand - 1) / rowsPerBand
        packedWeights.withUnsafeBufferPointer { weights in
            let buffers = MapsBuffers(input: maps, output: output, weights: weights.baseAddress!, shape: shape)
            DispatchQueue.concurrentPerform(iterations: outBlocks * bands) { item in
                let (block, band) = (item / bands, item % bands)
                let rows = (band * rowsPerBand)..<min(height, (band + 1) * rowsPerBand)
                withUnsafePointer(to: buffers.shape) { shape in
                    bias.withUnsafeBufferPointer { bias in
                        lct_conv_run(
                            shape, buffers.input.base, buffers.weights, bias.baseAddress, Int32(block),
                            Int32(rows.lowerBound), Int32(rows.upperBound), buffers.output.base)
                    }
                }
            }
        }
        return output
    }
}

extension DirectConvolution {
    /// The direct convolution with 2×2 max pooling: each pair of output rows into a scratch of
    /// its own work item (two rows with their borders, which stay in a core's cache), then pooled
    /// into one row of `output`; the pairs split between the cores. The corresponding C functions
    /// are `lct_conv_run` (with `out_row_origin`) and `lct_maps_max_pool_pair`.
    private func runPooled(_ maps: PackedMaps, shape: lct_conv_shape, into output: PackedMaps) {
        let pairs = maps.height / 2
        let cores = DirectConvolution.cores
        let pairsPerItem = max(1, (pairs + 4 * cores - 1) / (4 * cores))
        let items = (pairs + pairsPerItem - 1) / pairsPerItem
        let border = Int(LCT_MAPS_BORDER)
        let wp = maps.width + 2 * border
        let channels = Int(LCT_CONV_BLOCK)
        // Per output block: the border row above, the two rows, and the left border pixel of
        // the row below, which a row's last tile zeros.
        let scratchPlane = (3 * wp + 1) * channels
        packedWeights.withUnsafeBufferPointer { weights in
            let buffers = MapsBuffers(input: maps, output: output, weights: weights.baseAddress!, shape: shape)
            DispatchQueue.concurrentPerform(iterations: items) { item in
                let scratch = ScratchPool.shared.take(output.blocks * scratchPlane)
                defer { ScratchPool.shared.give(scratch) }
                var shape = buffers.shape
                shape.out_plane = scratchPlane
                for pair in (item * pairsPerItem)..<min(pairs, (item + 1) * pairsPerItem) {
                    shape.out_row_origin = Int32(2 * pair)
                    for block in 0..<buffers.output.blocks {
                        bias.withUnsafeBufferPointer { bias in
                            lct_conv_run(
                                &shape, buffers.input.base, buffers.weights, bias.baseAddress, Int32(block),
                                Int32(2 * pair), Int32(2 * pair + 2), scratch.baseAddress!)
                        }
                        // The pooled row `pair` of the output maps, from its first interior pixel.
                        let row =
                            buffers.output.base + block * buffers.output.plane
                            + ((pair + border) * (buffers.output.width + 2 * border) + border) * channels
                        lct_maps_max_pool_pair(
                            scratch.baseAddress! + block * scratchPlane + (wp + 1) * channels, wp, Int32(maps.width),
                            row)
                    }
                }
            }
        }
    }

    /// The Winograd F(2×2, 3×3) form of `callAsFunction(_: PackedMaps)`, split into bands of
    /// tile rows, each with its own scratch. The corresponding C function is `lct_wino_run`.
    private func runWinograd(_ maps: PackedMaps, shape: lct_conv_shape, into output: PackedMaps) {
        let tileRows = maps.height / 2
        let (rowsPerBand, bands) = Self.winogradBands(
            tileRows: tileRows, tilesPerRow: maps.width / 2, inBlocks: maps.blocks, cores: DirectConvolution.cores)
        var shape = shape
        let scratch = lct_wino_scratch_count(&shape, Int32(rowsPerBand))
        winogradWeights!.withUnsafeBufferPointer { weights in
            let buffers = MapsBuffers(input: maps, output: output, weights: weights.baseAddress!, shape: shape)
            DispatchQueue.concurrentPerform(iterations: bands) { band in
                let rows = (band * rowsPerBand)..<min(tileRows, (band + 1) * rowsPerBand)
                let space = ScratchPool.shared.take(scratch)
                defer { ScratchPool.shared.give(space) }
                withUnsafePointer(to: buffers.shape) { shape in
                    bias.withUnsafeBufferPointer { bias in
                        lct_wino_run(
                            shape, buffers.input.base, buffers.weights, bias.baseAddress, Int32(rows.lowerBound),
                            Int32(rows.upperBound), space.baseAddress!, buffers.output.base)
                    }
                }
            }
        }
    }

    /// How `runWinograd` splits the tile rows: bands small enough that a band's transformed
    /// input stays in a core's cache, and large enough that the last run of tiles, partly
    /// empty, is a small part of one; as many bands as that allows up to four a core, in a
    /// multiple of the cores so that they finish together, and at least one a core whenever
    /// there are as many tile rows (small maps of one image would otherwise leave a core idle).
    static func winogradBands(tileRows: Int, tilesPerRow: Int, inBlocks: Int, cores: Int) -> (
        rowsPerBand: Int, bands: Int
    ) {
        let cached = max(1, bandFloats / max(1, 256 * inBlocks * tilesPerRow))
        let fewest = max(1, (bandTiles + tilesPerRow - 1) / tilesPerRow)
        var bands = min(max(1, tileRows / fewest), 4 * cores)
        bands = bands < cores ? min(cores, tileRows) : bands / cores * cores
        var rowsPerBand = max(1, min((tileRows + bands - 1) / bands, cached))
        let least = min(cores, tileRows)
        if (tileRows + rowsPerBand - 1) / rowsPerBand < least { rowsPerBand = max(1, tileRows / least) }
        return (rowsPerBand, (tileRows + rowsPerBand - 1) / rowsPerBand)
    }

    /// Floats of transformed input a band aims at: 256 KiB, half a core's L2 cache on the EPYC
    /// and Xeon machines lungct is measured on.
    private static let bandFloats = 65536
    /// Tiles a band aims at: four runs of the widest tile run (24 tiles on AVX-512).
    private static let bandTiles = 96
}

/// The buffers of one convolution of packed maps, shared by its work items, each of which
/// writes only its own block and rows of the output: what makes the unchecked Sendable sound.
private struct MapsBuffers: @unchecked Sendable {
    let input: PackedMaps
    let output: PackedMaps
    let weights: UnsafePointer<Float>
    let shape: lct_conv_shape
}
