import Testing

@testable import NeuralEngine

/// How the Winograd convolution splits one image's tile rows between the cores: every row in
/// exactly one band, no band empty, every core given a band whenever there are as many tile
/// rows (the 16×16 and 8×8 maps of a classifier's last layers ran on one core of two), and
/// bands a multiple of the cores where the cache bound leaves the choice.
@Test(arguments: [
    (32, 32, 1), (16, 16, 2), (8, 8, 4), (4, 4, 4), (1, 1, 4), (112, 112, 1), (28, 28, 4), (7, 7, 8), (3, 3, 2),
])
func winogradBandsCoverEveryTileRowAndUseEveryCore(tileRows: Int, tilesPerRow: Int, inBlocks: Int) {
    for cores in [1, 2, 3, 4, 8] {
        let (rows, bands) = DirectConvolution.winogradBands(
            tileRows: tileRows, tilesPerRow: tilesPerRow, inBlocks: inBlocks, cores: cores)
        #expect(rows >= 1 && bands >= 1)
        #expect((bands - 1) * rows < tileRows && bands * rows >= tileRows, "\(tileRows) rows as \(bands) × \(rows)")
        #expect(bands >= min(cores, tileRows), "\(tileRows) tile rows, \(cores) cores: \(bands) band(s)")
    }
}

@Test func winogradBandsComeInAMultipleOfTheCoresWhenTheCacheAllows() {
    // 32 tile rows of 32 tiles with one input block: the classifier's second layer (64×64 maps).
    let (_, bands) = DirectConvolution.winogradBands(tileRows: 32, tilesPerRow: 32, inBlocks: 1, cores: 2)
    #expect(bands % 2 == 0 && bands >= 4)
    // 16 tile rows of 16 tiles, two input blocks (32×32 maps, 32 channels): once three bands.
    let (_, middle) = DirectConvolution.winogradBands(tileRows: 16, tilesPerRow: 16, inBlocks: 2, cores: 2)
    #expect(middle % 2 == 0)
}

/// A convolution that max-pools each 2×2 block of its output as it makes it (Winograd: each
/// output tile; direct: each pair of rows) gives the maps that the convolution followed by
/// `maxPooled()` gives, value for value: Winograd with whole and partial output blocks, one and
/// several input blocks, the smallest maps it reads (4×4) and several bands; direct with one and
/// three input channels (a network's first layer), a 1×1 kernel and a 128×128 image; with and
/// without bias and activation.
@Test(
    arguments: [
        (16, 16, 8, 6, 3), (32, 17, 4, 4, 3), (20, 40, 6, 10, 3), (16, 16, 4, 4, 3), (48, 16, 36, 12, 3),
        (1, 16, 8, 6, 3), (3, 17, 6, 10, 3), (1, 16, 128, 128, 3), (16, 8, 4, 6, 1),
    ], [nil, 0, 0.1] as [Float?])
func convolutionWithPoolingEqualsTheConvolutionThenThePooling(
    sizes: (inputs: Int, outputs: Int, height: Int, width: Int, kernel: Int), activation: Float?
) throws {
    let weights = randomTensor([sizes.outputs, sizes.inputs, sizes.kernel, sizes.kernel], seed: 21)
    let bias = activation == nil ? nil : randomTensor([sizes.outputs], seed: 22).storage
    let conv = DirectConvolution(weights: weights, bias: bias, padding: sizes.kernel / 2, activation: activation)
    let maps = PackedMaps(packing: randomTensor([1, sizes.inputs, sizes.height, sizes.width], seed: 23))
    defer { maps.release() }
    let pools = conv.poolsWhileConvolving(maps)
    try #require(pools)
    #expect(conv.runsWinograd(maps) == (sizes.inputs >= 16 && sizes.kernel == 3))
    let (fused, full) = (conv(maps, pooling: true), conv(maps))
    let pooled = full.maxPooled()
    defer { for maps in [fused, full, pooled] { maps.release() } }
    #expect(fused.height == sizes.height / 2 && fused.width == sizes.width / 2)
    #expect(fused.unpacked().storage == pooled.unpacked().storage)
    // The borders and slack the next convolution reads are zero, as maxPooled() leaves them.
    let count = fused.blocks * fused.plane
    #expect(Array(fused.buffer.prefix(count)) == Array(pooled.buffer.prefix(count)))
}
