// Winograd F(2×2, 3×3) convolution of packed maps (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", CVPR 2016): each 2×2 output tile from its 4×4 input tile as
// Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, 16 multiplications per tile and channel pair instead of 36.
//
// Per band of tile rows: the input tiles are transformed into V [position][in block][tile][16
// channels]; for each output block the 16 positions are 16 matrix products V · U (tiles ×
// input channels times input channels × 16 output channels), each on the same register-blocked
// kernel as the direct convolution (PIX tiles by 16 output channels in registers); the products
// are transformed back, biased, activated and written into the output maps. V stays in the
// core's cache for all the output blocks of its band.
#include "CConvKernels.h"

#include <string.h>

typedef float lct_v16 __attribute__((vector_size(64), aligned(4)));

enum { PIX_AVX512 = 24, PIX_AVX2 = 6, PIX_PORTABLE = 4, POSITIONS = 16 };

size_t lct_wino_weights_count(int out_channels, int in_channels) {
    const int cb = (in_channels + LCT_CONV_BLOCK - 1) / LCT_CONV_BLOCK;
    const int ob = (out_channels + LCT_CONV_BLOCK - 1) / LCT_CONV_BLOCK;
    return (size_t)ob * POSITIONS * cb * LCT_CONV_BLOCK * LCT_CONV_BLOCK;
}

void lct_wino_pack_weights(const float *oihw, int out_channels, int in_channels, float *packed) {
    const int cb_count = (in_channels + LCT_CONV_BLOCK - 1) / LCT_CONV_BLOCK;
    const int ob_count = (out_channels + LCT_CONV_BLOCK - 1) / LCT_CONV_BLOCK;
    const size_t per_block = (size_t)cb_count * LCT_CONV_BLOCK * LCT_CONV_BLOCK;
    memset(packed, 0, sizeof(float) * lct_wino_weights_count(out_channels, in_channels));
    // G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
    static const float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
    for (int oc = 0; oc < out_channels; oc++) {
        for (int ic = 0; ic < in_channels; ic++) {
            const float *g = oihw + ((size_t)oc * in_channels + ic) * 9;
            float gg[4][3];  // G g
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 3; j++) gg[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    const float u = gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2];
                    const size_t at = ((size_t)(oc / LCT_CONV_BLOCK) * POSITIONS + i * 4 + j) * per_block
                        + (size_t)ic * LCT_CONV_BLOCK + oc % LCT_CONV_BLOCK;
                    packed[at] = u;
                }
            }
        }
    }
}

size_t lct_wino_scratch_count(const lct_conv_shape *s, int tile_rows) {
    const size_t tiles = (size_t)tile_rows * (s->out_width / 2) + PIX_AVX512;
    return POSITIONS * tiles * LCT_CONV_BLOCK * ((size_t)s->in_blocks + 1);
}

// Bᵀ d B of one 4×4 tile of 16-channel pixels, rows `wp` pixels apart, into v[16].
static inline __attribute__((always_inline)) void lct_wino_input(const float *d, size_t wp, lct_v16 v[POSITIONS]) {
    lct_v16 t[4][4];
    const lct_v16 *r0 = (const lct_v16 *)d, *r1 = (const lct_v16 *)(d + wp * LCT_CONV_BLOCK);
    const lct_v16 *r2 = (const lct_v16 *)(d + 2 * wp * LCT_CONV_BLOCK), *r3 = (const lct_v16 *)(d + 3 * wp * LCT_CONV_BLOCK);
    for (int j = 0; j < 4; j++) {
        t[0][j] = r0[j] - r2[j];
        t[1][j] = r1[j] + r2[j];
        t[2][j] = r2[j] - r1[j];
        t[3][j] = r1[j] - r3[j];
    }
    for (int i = 0; i < 4; i++) {
        v[i * 4 + 0] = t[i][0] - t[i][2];
        v[i * 4 + 1] = t[i][1] + t[i][2];
        v[i * 4 + 2] = t[i][2] - t[i][1];
        v[i * 4 + 3] = t[i][1] - t[i][3];
    }
}

// PIX tiles' products for one position and output block: m[p] = Σ over input channels of
// v[tile p][c] · u[c], written to m (PIX × 16 floats).
static inline __attribute__((always_inline)) void lct_wino_product(
    const float *v, size_t v_block, int cb_count, const float *u, float *m, const int PIX)
{
    lct_v16 acc[PIX_AVX512];
#pragma clang loop unroll(full)
    for (int p = 0; p < PIX; p++) acc[p] = (lct_v16){0};
    for (int cb = 0; cb < cb_count; cb++) {
        const float *in = v + cb * v_block;
        for (int c = 0; c < LCT_CONV_BLOCK; c++) {
            const lct_v16 wv = *(const lct_v16 *)u;
            u += LCT_CONV_BLOCK;
#pragma clang loop unroll(full)
            for (int p = 0; p < PIX; p++) acc[p] += wv * in[p * LCT_CONV_BLOCK + c];
        }
    }
#pragma clang loop unroll(full)
    for (int p = 0; p < PIX; p++) *(lct_v16 *)(m + p * LCT_CONV_BLOCK) = acc[p];
}

// Aᵀ m A of one tile's 16 products (positions `stride` floats apart), plus bias and
// activation, into the 2×2 output pixels at `out` (rows `wp` pixels apart), or with `pooled`
// their maximum into the one pixel at `out`.
static inline __attribute__((always_inline)) void lct_wino_output(
    const lct_conv_shape *s, const float *m, size_t stride, const float *bias_lanes, float *out, size_t wp)
{
    const lct_v16 b = *(const lct_v16 *)bias_lanes;
    lct_v16 q[4][2];
    for (int i = 0; i < 4; i++) {
        const lct_v16 m0 = *(const lct_v16 *)(m + (i * 4 + 0) * stride), m1 = *(const lct_v16 *)(m + (i * 4 + 1) * stride);
        const lct_v16 m2 = *(const lct_v16 *)(m + (i * 4 + 2) * stride), m3 = *(const lct_v16 *)(m + (i * 4 + 3) * stride);
        q[i][0] = m0 + m1 + m2;
        q[i][1] = m1 - m2 - m3;
    }
    lct_v16 y[2][2];
    for (int j = 0; j < 2; j++) {
        y[0][j] = q[0][j] + q[1][j] + q[2][j] + b;
        y[1][j] = q[1][j] - q[2][j] - q[3][j] + b;
        if (s->activate) {
            y[0][j] = __builtin_elementwise_max(y[0][j], y[0][j] * s->slope);
            y[1][j] = __builtin_elementwise_max(y[1][j], y[1][j] * s->slope);
        }
    }
    if (s->pooled) {
        // In lct_maps_max_pool's order: each row's pair, then the two rows.
        const lct_v16 top = __builtin_elementwise_max(y[0][0], y[0][1]);
        *(lct_v16 *)out = __builtin_elementwise_max(top, __builtin_elementwise_max(y[1][0], y[1][1]));
        return;
    }
    for (int j = 0; j < 2; j++) {
        *(lct_v16 *)(out + (size_t)j * LCT_CONV_BLOCK) = y[0][j];
        *(lct_v16 *)(out + (wp + j) * LCT_CONV_BLOCK) = y[1][j];
    }
}

static inline __attribute__((always_inline)) void lct_wino_band(
    const lct_conv_shape *s, const float *maps, const float *weights, const float *bias, int row_begin, int row_end,
    float *scratch, float *output, const int PIX)
{
    const int cb_count = s->in_blocks, tiles_x = s->out_width / 2;
    const size_t wp = (size_t)s->padded_width;
    const int tiles = (row_end - row_begin) * tiles_x;
    const size_t v_block = ((size_t)tiles + PIX_AVX512) * LCT_CONV_BLOCK;  // one position's input block
    float *v = scratch, *m = scratch + POSITIONS * cb_count * v_block;
    for (int cb = 0; cb < cb_count; cb++) {
        for (int t = 0; t < tiles; t++) {
            const int ty = row_begin + t / tiles_x, tx = t % tiles_x;
            lct_v16 tile[POSITIONS];
            lct_wino_input(maps + cb * s->in_plane + ((size_t)2 * ty * wp + 2 * tx) * LCT_CONV_BLOCK, wp, tile);
            for (int x = 0; x < POSITIONS; x++)
                *(lct_v16 *)(v + (x * cb_count + cb) * v_block + (size_t)t * LCT_CONV_BLOCK) = tile[x];
        }
        // The last run of PIX tiles reads past the band's tiles: zeros, not stale values.
        for (int x = 0; x < POSITIONS; x++)
            memset(v + (x * cb_count + cb) * v_block + (size_t)tiles * LCT_CONV_BLOCK, 0,
                sizeof(float) * PIX * LCT_CONV_BLOCK);
    }
    const int ob_count = (s->out_channels + LCT_CONV_BLOCK - 1) / LCT_CONV_BLOCK;
    const size_t per_position = (size_t)cb_count * LCT_CONV_BLOCK * LCT_CONV_BLOCK;
    for (int ob = 0; ob < ob_count; ob++) {
        for (int x = 0; x < POSITIONS; x++) {
            const float *u = weights + ((size_t)ob * POSITIONS + x) * per_position;
            for (int t = 0; t < tiles; t += PIX)
                lct_wino_product(
                    v + (size_t)x * cb_count * v_block + (size_t)t * LCT_CONV_BLOCK, v_block, cb_count, u,
                    m + x * v_block + (size_t)t * LCT_CONV_BLOCK, PIX);
        }
        const int channel0 = ob * LCT_CONV_BLOCK;
        int channels = s->out_channels - channel0;
        if (channels > LCT_CONV_BLOCK) channels = LCT_CONV_BLOCK;
        float lane[LCT_CONV_BLOCK] = {0};
        if (bias) memcpy(lane, bias + channel0, sizeof(float) * (size_t)channels);
        float *plane = output + (size_t)ob * s->out_plane;
        // The output maps' rows: the pooled maps are half as wide, with the same border.
        const size_t owp = s->pooled ? (size_t)tiles_x + 2 * LCT_MAPS_BORDER : wp;
        for (int t = 0; t < tiles; t++) {
            const int ty = row_begin + t / tiles_x, tx = t % tiles_x;
            float *out = s->pooled ? plane + ((size_t)(ty + 1) * owp + tx + 1) * LCT_CONV_BLOCK
                                   : plane + ((size_t)(2 * ty + 1) * wp + 2 * tx + 1) * LCT_CONV_BLOCK;
            lct_wino_output(s, m + (size_t)t * LCT_CONV_BLOCK, v_block, lane, out, wp);
        }
        // The border pixels beside the band's rows (the ones above and below: lct_maps_clear_edges).
        const int first = s->pooled ? row_begin + 1 : 2 * row_begin + 1, last = s->pooled ? row_end : 2 * row_end;
        for (int y = first; y <= last; y++) {
            memset(plane + (size_t)y * owp * LCT_CONV_BLOCK, 0, sizeof(float) * LCT_CONV_BLOCK);
            memset(plane + ((size_t)y * owp + owp - 1) * LCT_CONV_BLOCK, 0, sizeof(float) * LCT_CONV_BLOCK);
        }
    }
}

#define LCT_WINO_PARAMETERS                                                                   \
    const lct_conv_shape *s, const float *maps, const float *weights, const float *bias, int row_begin, int row_end, \
        float *scratch, float *output
#define LCT_WINO_ARGUMENTS s, maps, weights, bias, row_begin, row_end, scratch, output

static void lct_wino_band_portable(LCT_WINO_PARAMETERS) { lct_wino_band(LCT_WINO_ARGUMENTS, PIX_PORTABLE); }

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx2,fma"))) static void lct_wino_band_avx2(LCT_WINO_PARAMETERS) {
    lct_wino_band(LCT_WINO_ARGUMENTS, PIX_AVX2);
}
__attribute__((target("avx512f"))) static void lct_wino_band_avx512(LCT_WINO_PARAMETERS) {
    lct_wino_band(LCT_WINO_ARGUMENTS, PIX_AVX512);
}
#endif

void lct_wino_run(LCT_WINO_PARAMETERS) {
    static int isa = -1;  // a benign race: every thread computes the same value
    if (isa < 0) isa = lct_conv_isa();
#if defined(__x86_64__) && defined(__clang__)
    if (isa == 2) { lct_wino_band_avx512(LCT_WINO_ARGUMENTS); return; }
    if (isa == 1) { lct_wino_band_avx2(LCT_WINO_ARGUMENTS); return; }
#endif
    lct_wino_band_portable(LCT_WINO_ARGUMENTS);
}
