// Direct 2D convolution in a packed channel layout (NCHWc), for NeuralEngine's inference.
//
// Layout. An image's input is packed as `in_blocks` blocks of `block_channels` channels
// (16, or the channel count itself when it is below 16), each block a zero-padded plane of
// padded_height × padded_width pixels with the block's channels innermost, followed by
// LCT_CONV_SLACK + (kernel − 1)·dilation zero pixels that the last tile of a plane may read
// past its end. Weights are
// packed once per layer as [out block][in block][kh][kw][channel][16 output channels],
// zero where a block is only partly used. The output is written in plain CHW.
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
    int padded_height;    // input height + 2·padding
    int padded_width;     // input width + 2·padding
    int out_height;       // padded_height − (kernel − 1)·dilation
    int out_width;        // padded_width − (kernel − 1)·dilation
    int out_channels;     // the real count; the last block may be partial
    float slope;          // activation: max(x, slope·x) when `activate` (0: ReLU)
    int activate;
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
/// `output` (out_channels × out_height × out_width, CHW).
void lct_conv_run(
    const lct_conv_shape *shape, const float *packed_input, const float *packed_weights, const float *bias,
    int out_block, int row_begin, int row_end, float *output);

#ifdef __cplusplus
}
#endif

#endif
