extension Architecture {
    /// lungct's segmentation network: a U-Net (Ronneberger et al., MICCAI 2015) sized for the
    /// CPU, giving per-pixel class logits [N, classes, H, W] at the input's resolution.
    ///
    /// Level ℓ (0 at the top) works with `width`·2^ℓ channels in two conv–BN–ReLU blocks
    /// (3×3, padding 1). Each level but the deepest then holds the next level in a
    /// `skip-concatenate` branch: 2×2 max pooling, the level below, a 1×1 convolution back to
    /// this level's channels and ×2 upsampling (`upsampling`, bilinear by default); the
    /// concatenation is followed by two more blocks. The 1×1 convolution runs before the
    /// upsampling, at a quarter of the pixels; both are linear and act on different axes, so the
    /// order does not change the result. A final 1×1 convolution gives the logits.
    ///
    /// Height and width must be multiples of 2^depth (`sizeMultiple`);
    /// `Sequential.segmentationProbabilities` pads other sizes. The defaults (3 slices, 2
    /// classes, width 16, depth 3: 16/32/64/128 channels) hold about 450 000 weights and take
    /// 2.2 G multiply–adds (4.5 GFLOP) a 256×256 slice (`multiplyAdds`); width 8 takes a
    /// quarter of that. The specification equals the built network's `specification`, field
    /// for field.
    public static func unet(
        inputChannels: Int = 3, classes: Int = 2, width: Int = 16, depth: Int = 3,
        upsampling: Upsample2D.Mode = .bilinear
    ) -> [LayerSpecification] {
        precondition(inputChannels >= 1 && classes >= 1, "unet: needs input channels and classes")
        precondition(width >= 1 && depth >= 0, "unet: width must be at least 1 and depth not negative")
        return unetLevel(0, inputChannels: inputChannels, width: width, depth: depth, upsampling: upsampling)
            + [convolution(width, classes, kernel: 1, bias: true)]
    }

    /// Level `level` of `unet` and, nested in its skip connection, every level below it.
    private static func unetLevel(
        _ level: Int, inputChannels: Int, width: Int, depth: Int, upsampling: Upsample2D.Mode
    ) -> [LayerSpecification] {
        let channels = width << level
        let encoder = block(inputChannels, channels) + block(channels, channels)
        guard level < depth else { return encoder }
        let below = unetLevel(level + 1, inputChannels: channels, width: width, depth: depth, upsampling: upsampling)
        let branch =
            [LayerSpecification(kind: "maxpool2d", kernel: 2, stride: 2)] + below
            + [
                convolution(channels * 2, channels, kernel: 1, bias: false),
                LayerSpecification(kind: upsampling == .nearest ? "upsample-nearest" : "upsample-bilinear", stride: 2),
            ]
        return encoder + [LayerSpecification(kind: "skip-concatenate", branch: branch)]
            + block(channels * 2, channels) + block(channels, channels)
    }

    /// 3×3 convolution (no bias: the batch normalisation's shift replaces it), BN, ReLU.
    private static func block(_ input: Int, _ output: Int) -> [LayerSpecification] {
        [
            convolution(input, output, kernel: 3, bias: false),
            LayerSpecification(kind: "batchnorm2d", inputChannels: output, outputChannels: output),
            LayerSpecification(kind: "relu"),
        ]
    }

    /// A unit-stride convolution that keeps the size, as `Conv2D.specification` describes it.
    private static func convolution(_ input: Int, _ output: Int, kernel: Int, bias: Bool) -> LayerSpecification {
        LayerSpecification(
            kind: "conv2d", inputChannels: input, outputChannels: output, kernel: kernel, stride: 1,
            padding: kernel / 2, dilation: 1, bias: bias)
    }
}

extension Architecture {
    /// The number `layers` need the input's height and width to be a multiple of: the largest
    /// product of pooling and convolution strides on the way down any path (upsampling divides
    /// it again); 2^depth for `unet`. Exact when the factors are powers of two, as lungct's are.
    public static func sizeMultiple(_ layers: [LayerSpecification]) -> Int {
        downsampling(layers, from: 1).required
    }

    private static func downsampling(_ layers: [LayerSpecification], from start: Int) -> (
        required: Int, final: Int
    ) {
        var (required, factor) = (start, start)
        for layer in layers {
            switch layer.kind {
            case "maxpool2d", "avgpool2d": factor *= layer.stride ?? layer.kernel ?? 1
            case "conv2d": factor *= layer.stride ?? 1
            case "upsample-nearest", "upsample-bilinear": factor = max(1, factor / (layer.stride ?? 2))
            case "skip-concatenate", "skip-add":
                required = max(required, downsampling(layer.branch ?? [], from: factor).required)
            default: break
            }
            required = max(required, factor)
        }
        return (required, factor)
    }

    /// Multiply–adds of one forward pass of `layers` on one image of `height`×`width` pixels:
    /// those of the 2D convolutions and dense layers, which are nearly all the arithmetic (the
    /// other layers do a few operations per value). One multiply–add is two FLOPs.
    public static func multiplyAdds(_ layers: [LayerSpecification], height: Int, width: Int) -> Int {
        var size = Pair2D(height: height, width: width)
        return multiplyAdds(layers, size: &size)
    }

    private static func multiplyAdds(_ layers: [LayerSpecification], size: inout Pair2D) -> Int {
        var total = 0
        for layer in layers {
            switch layer.kind {
            case "conv2d":
                let kernel = layer.kernel ?? 1
                size = Convolution.outputSize(
                    input: size, kernel: Pair2D(integerLiteral: kernel),
                    stride: Pair2D(integerLiteral: layer.stride ?? 1),
                    padding: Pair2D(integerLiteral: layer.padding ?? 0),
                    dilation: Pair2D(integerLiteral: layer.dilation ?? 1))
                let perPixel = (layer.inputChannels ?? 0) * (layer.outputChannels ?? 0) * kernel * kernel
                total += size.height * size.width * perPixel
            case "dense": total += (layer.inputChannels ?? 0) * (layer.outputChannels ?? 0)
            case "maxpool2d", "avgpool2d":
                let (kernel, stride) = (layer.kernel ?? 1, layer.stride ?? layer.kernel ?? 1)
                size = Pair2D(height: (size.height - kernel) / stride + 1, width: (size.width - kernel) / stride + 1)
            case "upsample-nearest", "upsample-bilinear":
                size = Pair2D(height: size.height * (layer.stride ?? 2), width: size.width * (layer.stride ?? 2))
            case "globalavgpool": size = 1
            case "skip-concatenate", "skip-add":
                var inner = size
                total += multiplyAdds(layer.branch ?? [], size: &inner)
            default: break
            }
        }
        return total
    }
}
