import Dispatch
import Foundation

/// 2D convolution as im2col followed by one matrix multiplication per image.
public enum Convolution {
    /// The output height and width of a convolution, as in PyTorch's `Conv2d`:
    /// ⌊(H + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1 on each axis.
    public static func outputSize(
        input: Pair2D, kernel: Pair2D, stride: Pair2D = 1, padding: Pair2D = 0, dilation: Pair2D = 1
    ) -> Pair2D {
        func extent(_ size: Int, _ kernel: Int, _ stride: Int, _ padding: Int, _ dilation: Int) -> Int {
            let span = size + 2 * padding - dilation * (kernel - 1) - 1
            return span < 0 ? 0 : span / stride + 1
        }
        return Pair2D(
            height: extent(input.height, kernel.height, stride.height, padding.height, dilation.height),
            width: extent(input.width, kernel.width, stride.width, padding.width, dilation.width))
    }

    /// Unfolds each image of an NCHW batch into a matrix with one column per output
    /// location: shape [N, C·kh·kw, Ho·Wo], row (c·kh + i)·kw + j holding input channel c at
    /// kernel tap (i, j), column oy·Wo + ox, zero where the tap falls in the padding. With
    /// OIHW weights viewed as an O×(C·kh·kw) matrix, weights × columns is the convolution.
    public static func im2col(
        _ input: Tensor, kernel: Pair2D, stride: Pair2D = 1, padding: Pair2D = 0, dilation: Pair2D = 1
    ) -> Tensor {
        let layout = Layout(input: input.shape, kernel: kernel, stride: stride, padding: padding, dilation: dilation)
        var columns = [Float](repeating: 0, count: layout.batch * layout.columnsPerImage)
        input.storage.withUnsafeBufferPointer { source in
            columns.withUnsafeMutableBufferPointer { destination in
                for image in 0..<layout.batch {
                    layout.unfold(
                        image: source.baseAddress! + image * layout.inputPerImage,
                        into: destination.baseAddress! + image * layout.columnsPerImage)
                }
            }
        }
        return Tensor(shape: [layout.batch, layout.rows, layout.locations], storage: columns)
    }

    /// A 2D convolution (cross-correlation, as in every deep-learning framework) of an NCHW
    /// input with OIHW weights and an optional per-output-channel bias; output NCHW with
    /// the size from `outputSize`. Shapes that do not fit are programmer errors and trap:
    /// the model loader checks a network's shapes before inference.
    public static func conv2d(
        input: Tensor, weights: Tensor, bias: [Float]? = nil, stride: Pair2D = 1, padding: Pair2D = 0,
        dilation: Pair2D = 1
    ) -> Tensor {
        precondition(weights.shape.count == 4, "conv2d: weights must be OIHW, got shape \(weights.shape)")
        let kernel = Pair2D(height: weights.shape[2], width: weights.shape[3])
        let layout = Layout(input: input.shape, kernel: kernel, stride: stride, padding: padding, dilation: dilation)
        let outputChannels = weights.shape[0]
        precondition(
            weights.shape[1] == layout.channels,
            "conv2d: weights expect \(weights.shape[1]) input channels, input has \(layout.channels)")
        precondition(
            bias == nil || bias!.count == outputChannels,
            "conv2d: \(bias?.count ?? 0) biases for \(outputChannels) output channels")

        var output = [Float](repeating: 0, count: layout.batch * outputChannels * layout.locations)
        // Each image is done in bands of output rows, so that a band's column matrix stays in
        // the cache (an image's whole matrix, 75 MB for a 3×3 convolution of 32 channels at
        // 256×256, went through memory and was a fresh allocation, page faults and all, every
        // time). Bands of a batch run in parallel, each with a single-threaded product: the
        // products are too small for OpenBLAS to split well (see benchmarks/onnx.sh's
        // profile). A caller that already runs in parallel (`Sequential.infer`) has set
        // OpenBLAS to one thread, and then one image's bands run one after the other.
        let bands = layout.bands(outputChannels: outputChannels)
        let items = layout.batch * bands.count
        let workers =
            GEMM.threads > 1 || layout.batch > 1 ? min(items, ProcessInfo.processInfo.activeProcessorCount) : 1
        input.storage.withUnsafeBufferPointer { source in
            weights.storage.withUnsafeBufferPointer { weights in
                output.withUnsafeMutableBufferPointer { output in
                    let shared = SharedBuffers(source: source, weights: weights, output: output)
                    let work: @Sendable (Int) -> Void = { worker in
                        let columns = UnsafeMutableBufferPointer<Float>.allocate(
                            capacity: bands.pointwise ? 0 : layout.rows * bands.rows * layout.output.width)
                        defer { columns.deallocate() }
                        for item in Swift.stride(from: worker, to: items, by: workers) {
                            forwardBand(
                                item / bands.count, rows: bands.range(item % bands.count), layout: layout,
                                outputChannels: outputChannels, bias: bias, shared: shared,
                                columns: bands.pointwise ? nil : columns)
                        }
                    }
                    if workers > 1 {
                        GEMM.singleThreaded { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
                    } else {
                        work(0)
                    }
                }
            }
        }
        return Tensor(
            shape: [layout.batch, outputChannels, layout.output.height, layout.output.width], storage: output)
    }
}

extension Convolution {
    /// Output rows `rows` of image `image`: the bias, then weights × the band's column matrix
    /// (unfolded into `columns`; a 1×1 convolution with unit stride and no padding reads the
    /// image itself, C × H·W, in place).
    fileprivate static func forwardBand(
        _ image: Int, rows: Range<Int>, layout: Layout, outputChannels: Int, bias: [Float]?, shared: SharedBuffers,
        columns: UnsafeMutableBufferPointer<Float>?
    ) {
        let (width, locations) = (layout.output.width, layout.locations)
        let bandLocations = rows.count * width
        let first = image * outputChannels * locations + rows.lowerBound * width
        let result = UnsafeMutableBufferPointer(
            rebasing: shared.output[first..<(first + (outputChannels - 1) * locations + bandLocations)])
        if let bias {
            for channel in 0..<outputChannels {
                result[(channel * locations)..<(channel * locations + bandLocations)].update(repeating: bias[channel])
            }
        }
        let matrix: UnsafeBufferPointer<Float>
        let stride: Int
        let imageStart = image * layout.inputPerImage
        if let columns {
            layout.unfold(image: shared.source.baseAddress! + imageStart, into: columns.baseAddress!, outputRows: rows)
            (matrix, stride) = (UnsafeBufferPointer(columns), bandLocations)
        } else {
            let start = imageStart + rows.lowerBound * width
            matrix = UnsafeBufferPointer(
                rebasing: shared.source[start..<(start + (layout.rows - 1) * locations + bandLocations)])
            stride = locations
        }
        // output[o, p] = Σ_r weights[o, r] · columns[r, p] (+ the bias already there).
        GEMM.sgemm(
            m: outputChannels, n: bandLocations, k: layout.rows, a: shared.weights, lda: layout.rows, b: matrix,
            ldb: stride, beta: bias == nil ? 0 : 1, c: result, ldc: locations)
    }
}

extension Convolution {
    /// The gradients of `conv2d` given ∂loss/∂output: (∂input, ∂weights, ∂bias summed over
    /// locations). The batch is split into one contiguous share per core; each share unfolds
    /// its images again (nothing from the forward pass is kept), accumulates its own ∂weights
    /// with single-threaded products and scatters ∂columns back onto its own images' part of
    /// ∂input; the shares' ∂weights are then added in a fixed order, so a run is repeatable.
    public static func conv2dBackward(
        input: Tensor, gradient: Tensor, weights: Tensor, stride: Pair2D = 1, padding: Pair2D = 0, dilation: Pair2D = 1
    ) -> (input: Tensor, weights: [Float], bias: [Float]) {
        let kernel = Pair2D(height: weights.shape[2], width: weights.shape[3])
        let layout = Layout(input: input.shape, kernel: kernel, stride: stride, padding: padding, dilation: dilation)
        let outputChannels = weights.shape[0]
        let outputPerImage = outputChannels * layout.locations
        precondition(
            gradient.count == layout.batch * outputPerImage, "conv2d backward: gradient \(gradient.shape) does not fit")
        let shares = max(1, min(layout.batch, ProcessInfo.processInfo.activeProcessorCount))
        let perShare = (layout.batch + shares - 1) / shares
        var inputGradient = [Float](repeating: 0, count: input.count)
        var weightGradients = [Float](repeating: 0, count: shares * weights.count)
        var biasGradients = [Float](repeating: 0, count: shares * outputChannels)
        input.storage.withUnsafeBufferPointer { source in
            gradient.storage.withUnsafeBufferPointer { dy in
                weights.storage.withUnsafeBufferPointer { w in
                    inputGradient.withUnsafeMutableBufferPointer { dx in
                        weightGradients.withUnsafeMutableBufferPointer { dw in
                            biasGradients.withUnsafeMutableBufferPointer { db in
                                let shared = BackwardBuffers(source: source, dy: dy, weights: w, dx: dx, dw: dw, db: db)
                                let work: @Sendable (Int) -> Void = { share in
                                    let columns = UnsafeMutableBufferPointer<Float>.allocate(
                                        capacity: layout.columnsPerImage)
                                    let columnGradient = UnsafeMutableBufferPointer<Float>.allocate(
                                        capacity: layout.columnsPerImage)
                                    defer {
                                        columns.deallocate()
                                        columnGradient.deallocate()
                                    }
                                    let dw = UnsafeMutableBufferPointer(
                                        rebasing: shared.dw[
                                            (share * shared.weights.count)..<((share + 1) * shared.weights.count)])
                                    for image in (share * perShare)..<min(layout.batch, (share + 1) * perShare) {
                                        backwardImage(
                                            image, share: share, layout: layout, outputChannels: outputChannels,
                                            shared: shared, columns: columns, columnGradient: columnGradient, dw: dw)
                                    }
                                }
                                GEMM.singleThreaded {
                                    DispatchQueue.concurrentPerform(iterations: shares, execute: work)
                                }
                            }
                        }
                    }
                }
            }
        }
        var weightGradient = [Float](repeating: 0, count: weights.count)
        var biasGradient = [Float](repeating: 0, count: outputChannels)
        for share in 0..<shares {
            for index in 0..<weights.count { weightGradient[index] += weightGradients[share * weights.count + index] }
            for channel in 0..<outputChannels {
                biasGradient[channel] += biasGradients[share * outputChannels + channel]
            }
        }
        return (Tensor(shape: input.shape, storage: inputGradient), weightGradient, biasGradient)
    }
}

extension Convolution {
    /// One image of a share's backward pass: its columns unfolded again, ∂W += dY · colsᵀ into
    /// the share's `dw`, ∂cols = Wᵀ · dY folded back onto the image's part of ∂input, and ∂b
    /// (dY summed over locations) into the share's slots.
    fileprivate static func backwardImage(
        _ image: Int, share: Int, layout: Layout, outputChannels: Int, shared: BackwardBuffers,
        columns: UnsafeMutableBufferPointer<Float>, columnGradient: UnsafeMutableBufferPointer<Float>,
        dw: UnsafeMutableBufferPointer<Float>
    ) {
        let outputPerImage = outputChannels * layout.locations
        let dyImage = UnsafeBufferPointer(
            rebasing: shared.dy[(image * outputPerImage)..<((image + 1) * outputPerImage)])
        layout.unfold(image: shared.source.baseAddress! + image * layout.inputPerImage, into: columns.baseAddress!)
        // ∂W += dY · colsᵀ   (O×L · L×R)
        GEMM.sgemm(
            transposeB: true, m: outputChannels, n: layout.rows, k: layout.locations, a: dyImage,
            lda: layout.locations, b: UnsafeBufferPointer(columns), ldb: layout.locations, beta: 1, c: dw,
            ldc: layout.rows)
        // ∂cols = Wᵀ · dY   (R×O · O×L)
        GEMM.sgemm(
            transposeA: true, m: layout.rows, n: layout.locations, k: outputChannels, a: shared.weights,
            lda: layout.rows, b: dyImage, ldb: layout.locations, c: columnGradient, ldc: layout.locations)
        layout.fold(
            columns: UnsafeBufferPointer(columnGradient), into: shared.dx.baseAddress! + image * layout.inputPerImage)
        for channel in 0..<outputChannels {
            var sum: Float = 0
            for location in 0..<layout.locations { sum += dyImage[channel * layout.locations + location] }
            shared.db[share * outputChannels + channel] += sum
        }
    }
}

/// Buffers shared by the shares of one backward pass: each writes only its own images' part
/// of `dx` and its own slots of `dw` and `db`.
private struct BackwardBuffers: @unchecked Sendable {
    let source: UnsafeBufferPointer<Float>
    let dy: UnsafeBufferPointer<Float>
    let weights: UnsafeBufferPointer<Float>
    let dx: UnsafeMutableBufferPointer<Float>
    let dw: UnsafeMutableBufferPointer<Float>
    let db: UnsafeMutableBufferPointer<Float>
}

/// Buffers shared by the workers of one convolution: each writes only its own image's part
/// of `output`, which is what makes the unchecked Sendable sound.
private struct SharedBuffers: @unchecked Sendable {
    let source: UnsafeBufferPointer<Float>
    let weights: UnsafeBufferPointer<Float>
    let output: UnsafeMutableBufferPointer<Float>
}

/// The sizes of one im2col problem, checked once, and the unfolding kernel.
private struct Layout: Sendable {
    let batch, channels, height, width: Int
    let kernel, stride, padding, dilation, output: Pair2D

    init(input shape: [Int], kernel: Pair2D, stride: Pair2D, padding: Pair2D, dilation: Pair2D) {
        precondition(shape.count == 4, "convolution input must be NCHW, got shape \(shape)")
        precondition(kernel.height >= 1 && kernel.width >= 1, "kernel \(kernel) must be at least 1×1")
        precondition(stride.height >= 1 && stride.width >= 1, "stride \(stride) must be at least 1")
        precondition(padding.height >= 0 && padding.width >= 0, "padding \(padding) must not be negative")
        precondition(dilation.height >= 1 && dilation.width >= 1, "dilation \(dilation) must be at least 1")
        (batch, channels, height, width) = (shape[0], shape[1], shape[2], shape[3])
        precondition(channels >= 1 && height >= 1 && width >= 1, "convolution input \(shape) has an empty axis")
        (self.kernel, self.stride, self.padding, self.dilation) = (kernel, stride, padding, dilation)
        output = Convolution.outputSize(
            input: Pair2D(height: height, width: width), kernel: kernel, stride: stride, padding: padding,
            dilation: dilation)
        precondition(
            output.height >= 1 && output.width >= 1,
            "input \(height)×\(width) is smaller than kernel \(kernel) with dilation \(dilation) and padding \(padding)"
        )
    }

    var rows: Int { channels * kernel.height * kernel.width }
    var locations: Int { output.height * output.width }
    var inputPerImage: Int { channels * height * width }
    var columnsPerImage: Int { rows * locations }

    /// Calls `body` for each row of the column matrix, in its order (channel, then kernel row
    /// i, then kernel column j; the layout of `im2col`), with the row's index, the offset of
    /// its channel's plane in the image and the tap's vertical index and horizontal offset.
    @inline(__always)
    private func forEachRow(_ body: (_ row: Int, _ planeOffset: Int, _ i: Int, _ dx: Int) -> Void) {
        var row = 0
        for channel in 0..<channels {
            for i in 0..<kernel.height {
                for j in 0..<kernel.width {
                    body(row, channel * height * width, i, j * dilation.width - padding.width)
                    row += 1
                }
            }
        }
    }

    /// The input row an output row `oy` reads for kernel row `i`; outside 0..<height in the padding.
    @inline(__always)
    private func inputRow(_ oy: Int, tap i: Int) -> Int {
        oy * stride.height - padding.height + i * dilation.height
    }

    /// The adjoint of `unfold`: adds each column entry onto the input pixel it was read from.
    func fold(columns: UnsafeBufferPointer<Float>, into image: UnsafeMutablePointer<Float>) {
        forEachRow { row, planeOffset, i, dx in
            for oy in 0..<output.height {
                let iy = inputRow(oy, tap: i)
                guard iy >= 0, iy < height else { continue }
                let line = image + planeOffset + iy * width
                let source = columns.baseAddress! + row * locations + oy * output.width
                if stride.width == 1 {
                    // Unit stride: the taps inside the image are one contiguous run, as in `unfold`.
                    for ox in max(0, -dx)..<max(max(0, -dx), min(output.width, width - dx)) {
                        line[ox + dx] += source[ox]
                    }
                    continue
                }
                for ox in 0..<output.width {
                    let ix = ox * stride.width + dx
                    if ix >= 0 && ix < width { line[ix] += source[ox] }
                }
            }
        }
    }

    /// The column matrix of a band of output rows, at most this many values (1 MiB of floats:
    /// a band's matrix stays in a core's L2 cache).
    static let bandValues = 1 << 18

    /// How `conv2d` splits each image: bands of `rows` output rows (the last one shorter), and
    /// whether the convolution is pointwise (1×1, unit stride, no padding: no unfolding).
    func bands(outputChannels: Int) -> (rows: Int, count: Int, pointwise: Bool, range: @Sendable (Int) -> Range<Int>) {
        let pointwise = kernel == 1 && stride == 1 && padding == 0
        let rows = max(1, min(output.height, Layout.bandValues / max(1, self.rows * output.width)))
        let height = output.height
        return (rows, (height + rows - 1) / rows, pointwise, { ($0 * rows)..<min(height, ($0 + 1) * rows) })
    }

    /// Writes one C×H×W image's rows×locations column matrix (layout in `im2col`); with
    /// `outputRows`, only those output rows' columns, as a rows×(outputRows.count·width) matrix.
    func unfold(image: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>, outputRows: Range<Int>? = nil) {
        let outputRows = outputRows ?? 0..<output.height
        let count = outputRows.count * output.width
        forEachRow { row, planeOffset, i, dx in
            for oy in outputRows {
                let destination = columns + row * count + (oy - outputRows.lowerBound) * output.width
                let iy = inputRow(oy, tap: i)
                guard iy >= 0, iy < height else {
                    destination.update(repeating: 0, count: output.width)
                    continue
                }
                let line = image + planeOffset + iy * width
                if stride.width == 1 {
                    // Unit stride: the taps inside the image are one contiguous run.
                    let first = max(0, -dx)
                    let last = min(output.width, width - dx)
                    if first >= last {
                        destination.update(repeating: 0, count: output.width)
                        continue
                    }
                    if first > 0 { destination.update(repeating: 0, count: first) }
                    (destination + first).update(from: line + first + dx, count: last - first)
                    if last < output.width {
                        (destination + last).update(repeating: 0, count: output.width - last)
                    }
                    continue
                }
                for ox in 0..<output.width {
                    let ix = ox * stride.width + dx
                    destination[ox] = ix >= 0 && ix < width ? line[ix] : 0
                }
            }
        }
    }
}
