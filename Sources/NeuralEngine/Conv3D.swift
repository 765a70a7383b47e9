import Foundation

/// 3D convolution (cross-correlation) of NCDHW volumes with OIDHW weights, cubic kernel, by
/// vol2col (the 3D im2col) and sgemm; backward by two more products and col2vol.
public final class Conv3D: ConvolutionLayer {
    public static let kind = "conv3d"
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int
    public let padding: Int
    public let dilation: Int
    var input: Tensor?

    /// He (Kaiming) normal initialisation, as Conv2D.
    public init(
        inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
        bias: Bool = true, rng: inout SeededGenerator
    ) {
        let fanIn = Float(inputChannels * kernel * kernel * kernel)
        let std = (2 / fanIn).squareRoot()
        let shape = [outputChannels, inputChannels, kernel, kernel, kernel]
        weight = Parameter(
            name: "weight",
            value: Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in std * rng.normal() }))
        self.bias = bias ? Parameter(name: "bias", value: Tensor(zeros: [outputChannels])) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    struct Geometry3 {
        var n, c, d, h, w, k, od, oh, ow: Int
        var rows: Int { c * k * k * k }
        var locations: Int { od * oh * ow }
        var volume: Int { c * d * h * w }
    }

    func geometry(_ shape: [Int]) -> Geometry3 {
        precondition(shape.count == 5, "Conv3D input must be NCDHW, got \(shape)")
        let k = weight.value.shape[2]
        func out(_ size: Int) -> Int { (size + 2 * padding - dilation * (k - 1) - 1) / stride + 1 }
        let g = Geometry3(
            n: shape[0], c: shape[1], d: shape[2], h: shape[3], w: shape[4], k: k, od: out(shape[2]), oh: out(shape[3]),
            ow: out(shape[4]))
        precondition(g.od >= 1 && g.oh >= 1 && g.ow >= 1, "Conv3D: input \(shape) smaller than the kernel")
        precondition(
            g.c == weight.value.shape[1], "Conv3D: weights expect \(weight.value.shape[1]) channels, input has \(g.c)")
        return g
    }

    /// Visits every (row, location, input offset) of the vol2col matrix for one volume; the
    /// offset is nil for taps in the padding.
    func forEachTap(_ g: Geometry3, _ body: (Int, Int, Int?) -> Void) {
        var row = 0
        for channel in 0..<g.c {
            for kz in 0..<g.k {
                for ky in 0..<g.k {
                    for kx in 0..<g.k {
                        var location = 0
                        for oz in 0..<g.od {
                            let z = oz * stride - padding + kz * dilation
                            for oy in 0..<g.oh {
                                let y = oy * stride - padding + ky * dilation
                                for ox in 0..<g.ow {
                                    let x = ox * stride - padding + kx * dilation
                                    let inside = z >= 0 && z < g.d && y >= 0 && y < g.h && x >= 0 && x < g.w
                                    body(row, location, inside ? ((channel * g.d + z) * g.h + y) * g.w + x : nil)
                                    location += 1
                                }
                            }
                        }
                        row += 1
                    }
                }
            }
        }
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        if training { self.input = input }
        let g = geometry(input.shape)
        let out = weight.value.shape[0]
        var output = [Float](repeating: 0, count: g.n * out * g.locations)
        var columns = [Float](repeating: 0, count: g.rows * g.locations)
        var result = [Float](repeating: 0, count: out * g.locations)
        for image in 0..<g.n {
            let base = image * g.volume
            forEachTap(g) { row, location, offset in
                columns[row * g.locations + location] = offset.map { input.storage[base + $0] } ?? 0
            }
            GEMM.sgemm(m: out, n: g.locations, k: g.rows, a: weight.value.storage, b: columns, c: &result)
            for o in 0..<out {
                let b = bias?.value.storage[o] ?? 0
                for location in 0..<g.locations {
                    output[(image * out + o) * g.locations + location] = result[o * g.locations + location] + b
                }
            }
        }
        return Tensor(shape: [g.n, out, g.od, g.oh, g.ow], storage: output)
    }

    public func backward(_ gradient: Tensor) -> Tensor {
        guard let input else { preconditionFailure("Conv3D.backward without a training forward pass") }
        let g = geometry(input.shape)
        let out = weight.value.shape[0]
        var inputGradient = Tensor(zeros: input.shape)
        var columns = [Float](repeating: 0, count: g.rows * g.locations)
        var columnGradient = [Float](repeating: 0, count: g.rows * g.locations)
        for image in 0..<g.n {
            let base = image * g.volume
            let dy = Array(gradient.storage[(image * out * g.locations)..<((image + 1) * out * g.locations)])
            forEachTap(g) { row, location, offset in
                columns[row * g.locations + location] = offset.map { input.storage[base + $0] } ?? 0
            }
            GEMM.sgemm(
                transposeB: true, m: out, n: g.rows, k: g.locations, a: dy, b: columns, beta: 1,
                c: &weight.gradient.storage)
            GEMM.sgemm(
                transposeA: true, m: g.rows, n: g.locations, k: out, a: weight.value.storage, b: dy, c: &columnGradient)
            if let bias {
                for o in 0..<out {
                    bias.gradient.storage[o] += dy[(o * g.locations)..<((o + 1) * g.locations)].reduce(0, +)
                }
            }
            forEachTap(g) { row, location, offset in
                if let offset { inputGradient.storage[base + offset] += columnGradient[row * g.locations + location] }
            }
        }
        return inputGradient
    }
}
