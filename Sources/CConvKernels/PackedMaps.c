// Packed maps between layers (the layout is described in include/CConvKernels.h): unpacking,
// the edges a convolution leaves, and the pooling and upsampling of a U-Net, each on whole
// 16-channel pixels so that they vectorise.
#include "CConvKernels.h"

#include <string.h>

typedef float lct_v16 __attribute__((vector_size(64), aligned(4)));

void lct_maps_unpack(const float *maps, int channels, int height, int width, int block_channels, float *image) {
    const size_t plane = lct_maps_plane_count(height, width, block_channels);
    const int wp = width + 2 * LCT_MAPS_BORDER;
    for (int c = 0; c < channels; c++) {
        const float *block = maps + (size_t)(c / block_channels) * plane + c % block_channels;
        float *out = image + (size_t)c * height * width;
        for (int y = 0; y < height; y++) {
            const float *pixel = block + ((size_t)(y + LCT_MAPS_BORDER) * wp + LCT_MAPS_BORDER) * block_channels;
            for (int x = 0; x < width; x++) out[(size_t)y * width + x] = pixel[(size_t)x * block_channels];
        }
    }
}

void lct_maps_clear_edges(int height, int width, int blocks, float *maps) {
    const size_t plane = lct_maps_plane_count(height, width, LCT_CONV_BLOCK) / LCT_CONV_BLOCK;
    const size_t wp = (size_t)width + 2 * LCT_MAPS_BORDER;
    // lct_conv_run writes pixels wp + 1 to (height + 1)·wp of each plane, lct_wino_run the rows
    // 1 to height: zeros from the first pixel of the bottom border row on.
    const size_t head = wp + 1, tail = (height + 1) * wp;
    for (int b = 0; b < blocks; b++) {
        float *p = maps + (size_t)b * plane * LCT_CONV_BLOCK;
        memset(p, 0, sizeof(float) * head * LCT_CONV_BLOCK);
        memset(p + tail * LCT_CONV_BLOCK, 0, sizeof(float) * (plane - tail) * LCT_CONV_BLOCK);
    }
}

// Zeros an output plane's top border rows, or its bottom border rows and slack.
static void lct_maps_zero_rows(float *out, size_t from, size_t to) {
    memset(out + from * LCT_CONV_BLOCK, 0, sizeof(float) * (to - from) * LCT_CONV_BLOCK);
}

void lct_maps_max_pool_pair(const float *upper, size_t wp, int width, float *out) {
    const float *lower = upper + wp * LCT_CONV_BLOCK;
    const int ow = width / 2;
    for (int x = 0; x < ow; x++) {
        const size_t a = (size_t)2 * x * LCT_CONV_BLOCK, b = a + LCT_CONV_BLOCK;
        const lct_v16 top = __builtin_elementwise_max(*(const lct_v16 *)(upper + a), *(const lct_v16 *)(upper + b));
        const lct_v16 bottom = __builtin_elementwise_max(*(const lct_v16 *)(lower + a), *(const lct_v16 *)(lower + b));
        *(lct_v16 *)(out + (size_t)x * LCT_CONV_BLOCK) = __builtin_elementwise_max(top, bottom);
    }
    memset(out + (size_t)ow * LCT_CONV_BLOCK, 0, sizeof(float) * 2 * LCT_MAPS_BORDER * LCT_CONV_BLOCK);
}

void lct_maps_max_pool(const float *plane, int height, int width, float *out) {
    const int oh = height / 2, ow = width / 2, B = LCT_MAPS_BORDER;
    const size_t wp = (size_t)width + 2 * B, owp = (size_t)ow + 2 * B;
    const size_t out_pixels = lct_maps_plane_count(oh, ow, LCT_CONV_BLOCK) / LCT_CONV_BLOCK;
    lct_maps_zero_rows(out, 0, owp * B + B);
    for (int y = 0; y < oh; y++) {
        const float *top = plane + ((2 * y + B) * wp + B) * LCT_CONV_BLOCK, *bottom = top + wp * LCT_CONV_BLOCK;
        float *row = out + ((y + B) * owp + B) * LCT_CONV_BLOCK;
        for (int x = 0; x < ow; x++) {
            const size_t a = (size_t)2 * x * LCT_CONV_BLOCK, b = a + LCT_CONV_BLOCK;
            const lct_v16 upper = __builtin_elementwise_max(*(const lct_v16 *)(top + a), *(const lct_v16 *)(top + b));
            const lct_v16 lower =
                __builtin_elementwise_max(*(const lct_v16 *)(bottom + a), *(const lct_v16 *)(bottom + b));
            *(lct_v16 *)(row + (size_t)x * LCT_CONV_BLOCK) = __builtin_elementwise_max(upper, lower);
        }
        // The right border of this row and the left border of the next.
        memset(row + (size_t)ow * LCT_CONV_BLOCK, 0, sizeof(float) * 2 * B * LCT_CONV_BLOCK);
    }
    lct_maps_zero_rows(out, (oh + B) * owp + B, out_pixels);
}

void lct_maps_upsample(
    const float *plane, int height, int width, int out_height, int out_width, const int *y0, const int *y1,
    const float *wy, const int *x0, const int *x1, const float *wx, float *out)
{
    const int B = LCT_MAPS_BORDER;
    const size_t wp = (size_t)width + 2 * B, owp = (size_t)out_width + 2 * B;
    const size_t out_pixels = lct_maps_plane_count(out_height, out_width, LCT_CONV_BLOCK) / LCT_CONV_BLOCK;
    (void)height;
    lct_maps_zero_rows(out, 0, owp * B + B);
    for (int y = 0; y < out_height; y++) {
        const float *upper = plane + ((y0[y] + B) * wp + B) * LCT_CONV_BLOCK;
        const float *lower = plane + ((y1[y] + B) * wp + B) * LCT_CONV_BLOCK;
        const float v = wy[y], u = 1 - v;
        float *row = out + ((y + B) * owp + B) * LCT_CONV_BLOCK;
        for (int x = 0; x < out_width; x++) {
            const size_t a = (size_t)x0[x] * LCT_CONV_BLOCK, b = (size_t)x1[x] * LCT_CONV_BLOCK;
            const float s = wx[x], r = 1 - s;
            const lct_v16 top = r * *(const lct_v16 *)(upper + a) + s * *(const lct_v16 *)(upper + b);
            const lct_v16 bottom = r * *(const lct_v16 *)(lower + a) + s * *(const lct_v16 *)(lower + b);
            *(lct_v16 *)(row + (size_t)x * LCT_CONV_BLOCK) = u * top + v * bottom;
        }
        memset(row + (size_t)out_width * LCT_CONV_BLOCK, 0, sizeof(float) * 2 * B * LCT_CONV_BLOCK);
    }
    lct_maps_zero_rows(out, (out_height + B) * owp + B, out_pixels);
}
