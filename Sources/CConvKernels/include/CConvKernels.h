// Direct 2D convolution in a packed channel layout (NCHWc), for NeuralEngine's inference.
//
// Layout. An image's input is packed as `in_blocks` blocks of `block_channels` channels
// (16, or the channel count itself when it is below 16), each block a zero-padded plane of
// padded_height × padded_width pixels with the block's channels innermost, followed by
// LCT_CONV_SLACK + (kernel − 1)·dilation zero pixels that the last tile of a plane may read
// past its end. Weights are
// packed once per layer as [out block][in block][kh][kw][channel][16 output channels],
// zero where a block is only partly used. The output is written in plain CHW, or as packed
// maps (below) that the next layer reads without packing again.
//
// Only unit stride: the kernel walks each plane's pixels as one flat run (output pixel
// oy·padded_width + ox reads input pixel (oy + i·d)·padded_width + ox + j·d), so a tile of
// neighbouring pixels never needs an edge case; the columns past the output width are computed
// and dropped (2·padding of every padded_width).
#ifndef LUNGCT_CCONVKERNELS_H
#define LUNGCT_CCONVKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Output channels per block, the width of one AVX-512 register (two AVX2 registers).
#define LCT_CONV_BLOCK 16
/// Zero pixels after each packed plane beyond the kernel's reach: at least the widest tile.
#define LCT_CONV_SLACK 32

/// One convolution's sizes as the kernel sees them (all in pixels or channels).
typedef struct {
    int in_blocks;        // input channel blocks
    int block_channels;   // channels per input block (16, or fewer when there is one block)
    int kernel;           // square kernel side
    int dilation;
    int padded_height;    // rows of a packed input plane: input height + 2·(padding + origin)
    int padded_width;     // pixels of a packed input row: input width + 2·(padding + origin)
    int origin;           // border pixels of the packed input beyond the padding (0 when packed per call)
    int out_height;       // input height + 2·padding − (kernel − 1)·dilation
    int out_width;        // input width + 2·padding − (kernel − 1)·dilation
    int out_channels;     // the real count; the last block may be partial
    size_t in_plane;      // floats from one input block's plane to the next
    size_t out_plane;     // out_packed: floats from one output block's plane to the next
    int out_packed;       // write packed maps (needs out_width + 2 == padded_width) instead of CHW
    float slope;          // activation: max(x, slope·x) when `activate` (0: ReLU)
    int activate;
    int pooled;           // lct_wino_run only: 2×2 max pooling with stride 2 after the activation,
                          // into (out_height / 2) × (out_width / 2) maps whose planes are out_plane apart
    int out_row_origin;   // lct_conv_run with out_packed: the output row whose border row above
                          // `output` begins with (0: whole maps; a row pair's own scratch otherwise)
} lct_conv_shape;

/// The instruction set the kernels run on this CPU: 2 AVX-512F, 1 AVX2 with FMA, 0 portable C.
int lct_conv_isa(void);

/// Floats in one image's packed input: in_blocks planes with their slack.
size_t lct_conv_packed_input_count(const lct_conv_shape *shape);

/// Packs channel block `block` of one CHW image (channels × height × width, `padding` zero
/// pixels on each side) into its plane of `packed`, which must hold
/// lct_conv_packed_input_count values; writes the block's plane and slack, zeros included.
void lct_conv_pack_input(
    const lct_conv_shape *shape, const float *image, int channels, int height, int width, int padding, int block,
    float *packed);

/// Floats in the packed weights of an out_channels × in_channels × kernel × kernel layer.
size_t lct_conv_packed_weights_count(int out_channels, int in_channels, int kernel);

/// Packs OIHW weights (see the layout above); writes every value of `packed`, zeros included.
void lct_conv_pack_weights(const float *oihw, int out_channels, int in_channels, int kernel, float *packed);

/// Output rows [row_begin, row_end) of output channel block `out_block` of one image: the
/// convolution plus `bias` (out_channels values, or NULL), then the activation, written into
/// `output`: out_channels × out_height × out_width (CHW), or with `out_packed` the pixels of
/// those rows in packed maps of out_height × out_width with 16-channel blocks (the pixels of
/// the border columns beside them get zeros; lct_maps_clear_edges zeros the rest).
void lct_conv_run(
    const lct_conv_shape *shape, const float *packed_input, const float *packed_weights, const float *bias,
    int out_block, int row_begin, int row_end, float *output);

// Packed maps: one image's feature maps between the layers of a network at inference, in the
// layout the kernels read, so that a convolution's output is the next one's input as it is.
// `blocks` planes of block_channels channels (16, or the channel count when it is below 16;
// channels past the real count are zero), each plane LCT_MAPS_BORDER zero pixels around
// height × width, then LCT_MAPS_SLACK zero pixels. A convolution reads them with origin
// LCT_MAPS_BORDER − padding when 2·padding = (kernel − 1)·dilation and padding ≤ the border.

/// Zero pixels around each plane of packed maps.
#define LCT_MAPS_BORDER 1
/// Zero pixels after each plane: the widest tile plus a 3×3 kernel's reach.
#define LCT_MAPS_SLACK (LCT_CONV_SLACK + 2)

/// Floats in one block's plane of height × width packed maps.
size_t lct_maps_plane_count(int height, int width, int block_channels);

/// Packs channel block `block` of a CHW image into its plane of `maps`, zeros included.
void lct_maps_pack(const float *image, int channels, int height, int width, int block_channels, int block, float *maps);

/// The first `channels` channels of packed maps as a CHW image.
void lct_maps_unpack(const float *maps, int channels, int height, int width, int block_channels, float *image);

/// Zeros what a convolution with out_packed (lct_conv_run, lct_wino_run) may not write in the
/// planes of `blocks` 16-channel blocks of height × width maps: the border row above with the
/// first row's left border pixel, the border row below, the slack.
void lct_maps_clear_edges(int height, int width, int blocks, float *maps);

/// 2×2 max pooling of one pair of rows of 16-channel maps: `upper` is the upper row's first
/// pixel, the lower row `wp` pixels on; writes width / 2 pixels at `out` and zeros into the two
/// pixels after them (this row's right border and the next row's left border).
void lct_maps_max_pool_pair(const float *upper, size_t wp, int width, float *out);

/// 2×2 max pooling, stride 2, of one 16-channel plane of height × width maps into a plane of
/// (height / 2) × (width / 2) maps; writes every value of the output plane, zeros included.
void lct_maps_max_pool(const float *plane, int height, int width, float *out);

/// Upsampling of one 16-channel plane of height × width maps to out_height × out_width: output
/// pixel (y, x) is (1 − wy)·((1 − wx)·a + wx·b) + wy·((1 − wx)·c + wx·d) of the source pixels
/// a (y0, x0), b (y0, x1), c (y1, x0), d (y1, x1), the taps given per output row and column;
/// writes every value of the output plane, zeros included.
void lct_maps_upsample(
    const float *plane, int height, int width, int out_height, int out_width, const int *y0, const int *y1,
    const float *wy, const int *x0, const int *x1, const float *wx, float *out);

// Winograd F(2×2, 3×3) (Winograd.c): a 3×3 convolution with padding 1 and dilation 1 of packed
// maps with 16-channel blocks and an even height and width, into packed maps; the same
// lct_conv_shape as lct_conv_run with out_packed (origin 0).

/// Floats in the transformed weights of an out_channels × in_channels × 3 × 3 layer.
size_t lct_wino_weights_count(int out_channels, int in_channels);

/// Transforms and packs OIHW 3×3 weights (G g Gᵀ per channel pair); writes every value of `packed`.
void lct_wino_pack_weights(const float *oihw, int out_channels, int in_channels, float *packed);

/// Floats of scratch one call of lct_wino_run over `tile_rows` rows of 2×2 tiles needs.
size_t lct_wino_scratch_count(const lct_conv_shape *shape, int tile_rows);

/// Output rows [2·row_begin, 2·row_end) of every output block (tile rows [row_begin, row_end)):
/// the convolution plus `bias` (or NULL), then the activation, written into the packed maps
/// `output` with the border pixels beside those rows (lct_maps_clear_edges zeros the rest).
/// With `pooled`, each 2×2 output tile is max-pooled as it is made (the values of
/// lct_maps_max_pool after the unpooled convolution, exactly): row `ty` of the half-size maps for
/// each tile row, with the border pixels beside it.
void lct_wino_run(
    const lct_conv_shape *shape, const float *maps, const float *weights, const float *bias, int row_begin,
    int row_end, float *scratch, float *output);

#ifdef __cplusplus
}
#endif

#endif
