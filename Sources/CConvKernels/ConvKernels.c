// Direct convolution kernels (the layout is described in include/CConvKernels.h).
//
// One tile is PIX neighbouring output pixels of one block of 16 output channels: PIX vector
// accumulators stay in registers while every input channel and kernel tap is added, each
// step one load of 16 weights and PIX broadcast input values, so PIX fused multiply-adds per
// weight load. PIX is chosen per instruction set so that the accumulators, one weight vector
// and a broadcast fit the register file: 24 on AVX-512 (32 registers of 16 floats), 6 on
// AVX2 (16 registers of 8 floats, two per accumulator), 4 in portable C. The same source is
// compiled three times with clang's `target` attribute and chosen once at run time, so the
// binary runs on any x86-64 and compiles elsewhere (the portable variant only).
#include "CConvKernels.h"

#include <string.h>

// 16 floats; aligned(4) makes loads and stores through it unaligned ones.
typedef float lct_v16 __attribute__((vector_size(64), aligned(4)));

enum { PIX_AVX512 = 24, PIX_AVX2 = 6, PIX_PORTABLE = 4 };

static inline __attribute__((always_inline)) void lct_conv_tile(
    const lct_conv_shape *s, const float *input, const float *weights, const float *bias, int out_block, int first,
    int row_end, float *output, const int PIX)
{
    const int cb_count = s->in_blocks, cblk = s->block_channels, k = s->kernel, d = s->dilation;
    const int wp = s->padded_width;
    const size_t plane = s->in_plane, origin = (size_t)s->origin * (size_t)(wp + 1);
    lct_v16 acc[PIX_AVX512];
#pragma clang loop unroll(full)
    for (int p = 0; p < PIX; p++) acc[p] = (lct_v16){0};
    const float *w = weights + (size_t)out_block * cb_count * k * k * cblk * LCT_CONV_BLOCK;
    for (int cb = 0; cb < cb_count; cb++) {
        const float *in = input + cb * plane + ((size_t)first + origin) * cblk;
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < k; j++) {
                const float *src = in + (size_t)(i * d * wp + j * d) * cblk;
                for (int c = 0; c < cblk; c++) {
                    const lct_v16 wv = *(const lct_v16 *)w;
                    w += LCT_CONV_BLOCK;
#pragma clang loop unroll(full)
                    for (int p = 0; p < PIX; p++) acc[p] += wv * src[p * cblk + c];
                }
            }
        }
    }
    // The output pass: bias, activation, then either the pixels as they are into packed maps
    // (zeros for the padding columns, which fall on the maps' border) or the transposition back
    // to CHW, dropping the padding columns; nothing past the band.
    const int channel0 = out_block * LCT_CONV_BLOCK;
    int channels = s->out_channels - channel0;
    if (channels > LCT_CONV_BLOCK) channels = LCT_CONV_BLOCK;
    const size_t plane_out = (size_t)s->out_height * s->out_width;
    lct_v16 b = (lct_v16){0};
    if (bias) {
        float lane[LCT_CONV_BLOCK] = {0};
        memcpy(lane, bias + channel0, sizeof(float) * (size_t)channels);
        b = *(const lct_v16 *)lane;
    }
    // Through memory with constant indices only, so the accumulators stay in registers above.
    float tile[PIX_AVX512][LCT_CONV_BLOCK];
#pragma clang loop unroll(full)
    for (int p = 0; p < PIX; p++) {
        lct_v16 v = acc[p] + b;
        if (s->activate) v = __builtin_elementwise_max(v, v * s->slope);
        *(lct_v16 *)tile[p] = v;
    }
    int oy = first / wp, ox = first % wp;
    if (s->out_packed) {
        // Output pixel (oy, ox) = flat `first` + p lies at (oy + 1, ox + 1) of the maps, whose
        // rows are as wide as the input's.
        float *out = output + (size_t)out_block * s->out_plane
            + ((size_t)first - (size_t)s->out_row_origin * wp + wp + 1) * LCT_CONV_BLOCK;
        for (int p = 0; p < PIX; p++, ox++) {
            if (ox == wp) { ox = 0; oy++; }
            if (oy >= row_end) break;
            *(lct_v16 *)(out + (size_t)p * LCT_CONV_BLOCK) = ox < s->out_width ? *(const lct_v16 *)tile[p] : (lct_v16){0};
        }
        return;
    }
    for (int p = 0; p < PIX; p++, ox++) {
        if (ox == wp) { ox = 0; oy++; }
        if (oy >= row_end) break;
        if (ox >= s->out_width) continue;
        float *out = output + channel0 * plane_out + (size_t)oy * s->out_width + ox;
        for (int ch = 0; ch < channels; ch++) out[ch * plane_out] = tile[p][ch];
    }
}

// The rows of a band as tiles of PIX flat pixels.
#define LCT_CONV_BAND(PIX)                                                                    \
    for (int first = row_begin * s->padded_width; first < row_end * s->padded_width; first += (PIX)) \
        lct_conv_tile(s, input, weights, bias, out_block, first, row_end, output, (PIX));

#define LCT_CONV_PARAMETERS                                                                   \
    const lct_conv_shape *s, const float *input, const float *weights, const float *bias, int out_block, \
        int row_begin, int row_end, float *output

static void lct_conv_band_portable(LCT_CONV_PARAMETERS) { LCT_CONV_BAND(PIX_PORTABLE) }

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx2,fma"))) static void lct_conv_band_avx2(LCT_CONV_PARAMETERS) { LCT_CONV_BAND(PIX_AVX2) }
__attribute__((target("avx512f"))) static void lct_conv_band_avx512(LCT_CONV_PARAMETERS) {
    LCT_CONV_BAND(PIX_AVX512)
}
#endif

int lct_conv_isa(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

void lct_conv_run(
    const lct_conv_shape *s, const float *input, const float *weights, const float *bias, int out_block,
    int row_begin, int row_end, float *output)
{
    static int isa = -1;  // a benign race: every thread computes the same value
    if (isa < 0) isa = lct_conv_isa();
#if defined(__x86_64__) && defined(__clang__)
    if (isa == 2) { lct_conv_band_avx512(s, input, weights, bias, out_block, row_begin, row_end, output); return; }
    if (isa == 1) { lct_conv_band_avx2(s, input, weights, bias, out_block, row_begin, row_end, output); return; }
#endif
    lct_conv_band_portable(s, input, weights, bias, out_block, row_begin, row_end, output);
}

size_t lct_conv_packed_input_count(const lct_conv_shape *s) {
    // The last tile of a plane reads up to its widest tile less one, plus the kernel's reach
    // along a row, past the plane's end.
    const size_t slack = LCT_CONV_SLACK + (size_t)(s->kernel - 1) * s->dilation;
    return (size_t)s->in_blocks * ((size_t)s->padded_height * s->padded_width + slack) * s->block_channels;
}

// Channel block `block` of a CHW image into one plane of `plane` floats: rows of `wp` pixels,
// `padding` zero pixels on each side, then zeros to the plane's end.
static void lct_pack_plane(
    const float *image, int channels, int height, int width, int padding, int cblk, int block, int wp, size_t plane,
    float *out)
{
    const int c0 = block * cblk;
    const int count = channels - c0 < cblk ? channels - c0 : cblk;
    const size_t source_plane = (size_t)height * width;
    // Zeros only where no pixel goes: the top padding rows, each row's side padding (and the
    // channels of a partial block), the bottom padding rows and the slack.
    const size_t row_values = (size_t)wp * cblk;
    memset(out, 0, sizeof(float) * row_values * padding);
    for (int y = 0; y < height; y++) {
        float *row = out + (size_t)(y + padding) * row_values;
        memset(row, 0, sizeof(float) * (size_t)padding * cblk);
        const float *src = image + (size_t)c0 * source_plane + (size_t)y * width;
        // Written in order, read from `count` planes at once (one stream each).
        float *pixel = row + (size_t)padding * cblk;
        for (int x = 0; x < width; x++, pixel += cblk) {
            for (int c = 0; c < count; c++) pixel[c] = src[c * source_plane + x];
            for (int c = count; c < cblk; c++) pixel[c] = 0;
        }
        memset(pixel, 0, sizeof(float) * (size_t)(wp - width - padding) * cblk);
    }
    float *below = out + (size_t)(height + padding) * row_values;
    memset(below, 0, sizeof(float) * (size_t)(plane - (size_t)(below - out)));
}

void lct_conv_pack_input(
    const lct_conv_shape *s, const float *image, int channels, int height, int width, int padding, int block,
    float *packed)
{
    const size_t plane = lct_conv_packed_input_count(s) / (size_t)s->in_blocks;
    lct_pack_plane(
        image, channels, height, width, padding, s->block_channels, block, s->padded_width, plane,
        packed + block * plane);
}

size_t lct_maps_plane_count(int height, int width, int block_channels) {
    const size_t pixels = (size_t)(height + 2 * LCT_MAPS_BORDER) * (width + 2 * LCT_MAPS_BORDER) + LCT_MAPS_SLACK;
    return pixels * block_channels;
}

void lct_maps_pack(const float *image, int channels, int height, int width, int block_channels, int block, float *maps) {
    const size_t plane = lct_maps_plane_count(height, width, block_channels);
    lct_pack_plane(
        image, channels, height, width, LCT_MAPS_BORDER, block_channels, block, width + 2 * LCT_MAPS_BORDER, plane,
        maps + block * plane);
}

size_t lct_conv_packed_weights_count(int out_channels, int in_channels, int kernel) {
    const int cblk = in_channels < LCT_CONV_BLOCK ? in_channels : LCT_CONV_BLOCK;
    const int cb = (in_channels + cblk - 1) / cblk, ob = (out_channels + LCT_CONV_BLOCK - 1) / LCT_CONV_BLOCK;
    return (size_t)ob * cb * kernel * kernel * cblk * LCT_CONV_BLOCK;
}

void lct_conv_pack_weights(const float *oihw, int out_channels, int in_channels, int kernel, float *packed) {
    const int cblk = in_channels < LCT_CONV_BLOCK ? in_channels : LCT_CONV_BLOCK;
    const int cb_count = (in_channels + cblk - 1) / cblk;
    const int ob_count = (out_channels + LCT_CONV_BLOCK - 1) / LCT_CONV_BLOCK;
    float *w = packed;
    for (int ob = 0; ob < ob_count; ob++)
        for (int cb = 0; cb < cb_count; cb++)
            for (int i = 0; i < kernel; i++)
                for (int j = 0; j < kernel; j++)
                    for (int c = 0; c < cblk; c++)
                        for (int o = 0; o < LCT_CONV_BLOCK; o++) {
                            const int oc = ob * LCT_CONV_BLOCK + o, ic = cb * cblk + c;
                            *w++ = oc < out_channels && ic < in_channels
                                ? oihw[(((size_t)oc * in_channels + ic) * kernel + i) * kernel + j]
                                : 0;
                        }
}
