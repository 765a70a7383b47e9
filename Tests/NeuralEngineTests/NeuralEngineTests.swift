import NeuralEngine
import Testing

func randomValues(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
}

/// Float results are compared with a Double reference relative to the magnitude they are
/// summed from (Σ|terms|), the scale of float rounding error; plain |reference| would
/// demand impossible accuracy wherever terms cancel to near zero.
let relativeTolerance = 1e-4

// MARK: - sgemm

@Test(arguments: [(false, false), (true, false), (false, true), (true, true)], [1, 2, 3, 4, 5] as [UInt64])
func sgemmMatchesANaiveTripleLoop(transposes: (Bool, Bool), seed: UInt64) {
    let (transposeA, transposeB) = transposes
    var generator = SeededGenerator(seed: seed &* 7919 &+ (transposeA ? 2 : 0) &+ (transposeB ? 1 : 0))
    let m = Int.random(in: 1...37, using: &generator)
    let n = Int.random(in: 1...37, using: &generator)
    let k = Int.random(in: 1...64, using: &generator)
    // Row strides wider than the matrices, to prove lda/ldb/ldc are honoured.
    let (aRows, aColumns) = transposeA ? (k, m) : (m, k)
    let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
    let lda = aColumns + Int.random(in: 0...3, using: &generator)
    let ldb = bColumns + Int.random(in: 0...3, using: &generator)
    let ldc = n + Int.random(in: 0...3, using: &generator)
    let a = randomValues(aRows * lda, &generator)
    let b = randomValues(bRows * ldb, &generator)
    let original = randomValues(m * ldc, &generator)
    let alpha = Float.random(in: -2...2, using: &generator)
    let beta = seed == 1 ? 0 : Float.random(in: -2...2, using: &generator)

    func opA(_ i: Int, _ p: Int) -> Double { Double(transposeA ? a[p * lda + i] : a[i * lda + p]) }
    func opB(_ p: Int, _ j: Int) -> Double { Double(transposeB ? b[j * ldb + p] : b[p * ldb + j]) }

    var c = original
    a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            c.withUnsafeMutableBufferPointer { c in
                GEMM.sgemm(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                    b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
        }
    }
    var worst = 0.0
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            var scale = 0.0
            for p in 0..<k {
                sum += opA(i, p) * opB(p, j)
                scale += abs(opA(i, p) * opB(p, j))
            }
            let term = Double(beta) * Double(original[i * ldc + j])
            let reference = Double(alpha) * sum + term
            let magnitude = max(abs(Double(alpha)) * scale + abs(term), .leastNormalMagnitude)
            worst = max(worst, abs(Double(c[i * ldc + j]) - reference) / magnitude)
        }
        // The padding between n and ldc is not C's business.
        for j in n..<ldc { #expect(c[i * ldc + j] == original[i * ldc + j]) }
    }
    #expect(worst <= relativeTolerance, "m \(m) n \(n) k \(k) lda \(lda) ldb \(ldb) ldc \(ldc)")
}

@Test func sgemmOnPackedArraysGivesExactSmallProducts() {
    // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
    var c: [Float] = [1, 1, 1, 1]
    GEMM.sgemm(m: 2, n: 2, k: 3, a: [1, 2, 3, 4, 5, 6], b: [7, 8, 9, 10, 11, 12], c: &c)
    #expect(c == [58, 64, 139, 154])
    // Aᵀ with A stored 3×2, alpha 2, beta 1 accumulating into C.
    c = [1, 1, 1, 1]
    GEMM.sgemm(
        transposeA: true, m: 2, n: 2, k: 3, alpha: 2, a: [1, 4, 2, 5, 3, 6], b: [7, 8, 9, 10, 11, 12],
        beta: 1, c: &c)
    #expect(c == [117, 129, 279, 309])
    // k = 0: the product is empty, so C becomes beta · C.
    c = [1, 2, 3, 4]
    GEMM.sgemm(m: 2, n: 2, k: 0, a: [], b: [], beta: 0.5, c: &c)
    #expect(c == [0.5, 1, 1.5, 2])
}

// MARK: - Convolution

/// One convolution problem; its description names the case in the test report.
struct ConvolutionCase: Sendable, CustomStringConvertible {
    var batch = 1, inputChannels = 1, outputChannels = 1, height = 5, width = 5
    var kernel: Pair2D = 3
    var stride: Pair2D = 1
    var padding: Pair2D = 0
    var dilation: Pair2D = 1
    var bias = true

    var description: String {
        "N\(batch) C\(inputChannels)→\(outputChannels) \(height)×\(width) k\(kernel) s\(stride) p\(padding) d\(dilation)"
            + (bias ? " +bias" : "")
    }
}

private let convolutionCases: [ConvolutionCase] = [
    ConvolutionCase(),
    ConvolutionCase(inputChannels: 2, outputChannels: 3, height: 7, width: 8, stride: 2),
    ConvolutionCase(inputChannels: 3, outputChannels: 2, height: 6, width: 6, padding: 1),
    ConvolutionCase(inputChannels: 2, outputChannels: 2, height: 9, width: 9, dilation: 2, bias: false),
    ConvolutionCase(batch: 2, inputChannels: 4, outputChannels: 5, height: 8, width: 7),
    ConvolutionCase(
        batch: 2, inputChannels: 3, outputChannels: 4, height: 11, width: 10, stride: 2, padding: 1, dilation: 2),
    ConvolutionCase(
        batch: 2, inputChannels: 2, outputChannels: 3, height: 9, width: 7, kernel: Pair2D(height: 3, width: 2),
        stride: Pair2D(height: 2, width: 1), padding: Pair2D(height: 1, width: 0), dilation: Pair2D(height: 1, width: 2)
    ),
    ConvolutionCase(batch: 2, inputChannels: 3, outputChannels: 4, height: 4, width: 5, kernel: 1),  // pointwise path
    ConvolutionCase(batch: 1, inputChannels: 3, outputChannels: 2, height: 5, width: 6, kernel: 1, stride: 2),
    ConvolutionCase(batch: 2, inputChannels: 2, outputChannels: 2, height: 6, width: 6, kernel: 5, padding: 2),
    ConvolutionCase(inputChannels: 1, outputChannels: 1, height: 2, width: 2, kernel: 3, padding: 1, bias: false),
]

/// Direct convolution straight from the definition, in Double.
func naiveConvolution(_ input: Tensor, _ weights: Tensor, _ bias: [Float]?, _ setup: ConvolutionCase)
    -> (values: [Double], scales: [Double], shape: [Int])
{
    let output = Convolution.outputSize(
        input: Pair2D(height: setup.height, width: setup.width), kernel: setup.kernel, stride: setup.stride,
        padding: setup.padding, dilation: setup.dilation)
    var values: [Double] = []
    var scales: [Double] = []
    for n in 0..<setup.batch {
        for o in 0..<setup.outputChannels {
            for oy in 0..<output.height {
                for ox in 0..<output.width {
                    var sum = Double(bias?[o] ?? 0)
                    var scale = abs(sum)
                    for c in 0..<setup.inputChannels {
                        for i in 0..<setup.kernel.height {
                            for j in 0..<setup.kernel.width {
                                let y = oy * setup.stride.height - setup.padding.height + i * setup.dilation.height
                                let x = ox * setup.stride.width - setup.padding.width + j * setup.dilation.width
                                guard y >= 0, y < setup.height, x >= 0, x < setup.width else { continue }
                                let term = Double(weights[o, c, i, j]) * Double(input[n, c, y, x])
                                sum += term
                                scale += abs(term)
                            }
                        }
                    }
                    values.append(sum)
                    scales.append(scale)
                }
            }
        }
    }
    return (values, scales, [setup.batch, setup.outputChannels, output.height, output.width])
}

/// A case's input, weights and (if it has one) bias: values in -1...1 from a generator seeded by
/// the case's description, so each case always gets the same operands.
func randomConvolutionOperands(_ setup: ConvolutionCase) -> (input: Tensor, weights: Tensor, bias: [Float]?) {
    var generator = SeededGenerator(seed: UInt64(setup.description.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
    let input = Tensor(
        shape: [setup.batch, setup.inputChannels, setup.height, setup.width],
        storage: randomValues(setup.batch * setup.inputChannels * setup.height * setup.width, &generator))
    let weightShape = [setup.outputChannels, setup.inputChannels, setup.kernel.height, setup.kernel.width]
    let weights = Tensor(shape: weightShape, storage: randomValues(weightShape.reduce(1, *), &generator))
    let bias = setup.bias ? randomValues(setup.outputChannels, &generator) : nil
    return (input, weights, bias)
}

@Test(arguments: convolutionCases)
func conv2dMatchesANaiveDirectConvolution(_ setup: ConvolutionCase) throws {
    let (input, weights, bias) = randomConvolutionOperands(setup)

    let result = Convolution.conv2d(
        input: input, weights: weights, bias: bias, stride: setup.stride, padding: setup.padding,
        dilation: setup.dilation)
    let reference = naiveConvolution(input, weights, bias, setup)
    try #require(result.shape == reference.shape)
    try #require(result.count == reference.values.count)
    #expect(worstRelativeError(result, reference, activation: nil) <= relativeTolerance)
}

@Test func im2colMatchesItsDefinition() {
    var generator = SeededGenerator(seed: 42)
    let (batch, channels, height, width) = (2, 3, 6, 5)
    let kernel = Pair2D(height: 3, width: 2)
    let stride = Pair2D(height: 2, width: 1)
    let padding: Pair2D = 1
    let dilation = Pair2D(height: 1, width: 2)
    let input = Tensor(
        shape: [batch, channels, height, width], storage: randomValues(batch * channels * height * width, &generator))
    let columns = Convolution.im2col(input, kernel: kernel, stride: stride, padding: padding, dilation: dilation)
    let output = Convolution.outputSize(
        input: Pair2D(height: height, width: width), kernel: kernel, stride: stride, padding: padding,
        dilation: dilation)
    #expect(columns.shape == [batch, channels * kernel.height * kernel.width, output.height * output.width])
    var mismatches = 0
    for n in 0..<batch {
        for c in 0..<channels {
            for i in 0..<kernel.height {
                for j in 0..<kernel.width {
                    for oy in 0..<output.height {
                        for ox in 0..<output.width {
                            let y = oy * stride.height - padding.height + i * dilation.height
                            let x = ox * stride.width - padding.width + j * dilation.width
                            let expected = y >= 0 && y < height && x >= 0 && x < width ? input[n, c, y, x] : 0
                            let row = (c * kernel.height + i) * kernel.width + j
                            if columns[n, row, oy * output.width + ox] != expected { mismatches += 1 }
                        }
                    }
                }
            }
        }
    }
    #expect(mismatches == 0)
}

@Test func outputSizeFollowsThePyTorchFormula() {
    // ResNet's stem: 224, kernel 7, stride 2, padding 3 → 112.
    #expect(Convolution.outputSize(input: 224, kernel: 7, stride: 2, padding: 3) == 112)
    #expect(Convolution.outputSize(input: 9, kernel: 3, dilation: 2) == 5)
    #expect(
        Convolution.outputSize(input: Pair2D(height: 8, width: 7), kernel: 3, stride: 2, padding: 1)
            == Pair2D(height: 4, width: 4))
    #expect(Convolution.outputSize(input: 2, kernel: 5) == 0)
}

@Test func tensorIndexesRowMajor() {
    var tensor = Tensor(zeros: [2, 3, 4])
    #expect(tensor.strides == [12, 4, 1])
    tensor[1, 2, 3] = 7
    #expect(tensor.storage[23] == 7)
    #expect(tensor.reshaped([6, 4])[5, 3] == 7)
}

/// The largest error of `result` against the naive convolution with its leaky ReLU (slope
/// `activation`, none when nil) applied, relative to each value's scale.
func worstRelativeError(
    _ result: Tensor, _ reference: (values: [Double], scales: [Double], shape: [Int]), activation: Float?
) -> Double {
    var worst = 0.0
    for index in reference.values.indices {
        let value = reference.values[index]
        let expected = activation.map { max(value, Double($0) * value) } ?? value
        let error = abs(Double(result.storage[index]) - expected)
        worst = max(worst, error / max(reference.scales[index], .leastNormalMagnitude))
    }
    return worst
}
