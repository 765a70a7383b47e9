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
