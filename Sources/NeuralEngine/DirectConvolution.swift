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
    private let bias: [Float]?

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
    }

    /// The kernel's view of one call's sizes.
    private func shape(height: Int, width: Int) -> lct_conv_shape {
        let blockChannels = min(inputChannels, Int(LCT_CONV_BLOCK))
        let (paddedHeight, paddedWidth) = (height + 2 * padding, width + 2 * padding)
        let reach = (kernel - 1) * dilation
        precondition(paddedHeight > reach && paddedWidth > reach, "direct conv: \(height)×\(width) input too small")
        return lct_conv_shape(
            in_blocks: Int32((inputChannels + blockChannels - 1) / blockChannels),
            block_channels: Int32(blockChannels), kernel: Int32(kernel), dilation: Int32(dilation),
            padded_height: Int32(paddedHeight), padded_width: Int32(paddedWidth),
            out_height: Int32(paddedHeight - reach), out_width: Int32(paddedWidth - reach),
            out_channels: Int32(outputChannels), slope: activation ?? 1, activate: activation == nil ? 0 : 1)
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
        let cores = ProcessInfo.processInfo.activeProcessorCount
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
