/*
 * cimagecodecs.h: PNG (libpng) and JPEG (libjpeg-turbo) reading and PNG writing.
 * Both libraries report errors by longjmp, which Swift cannot catch, so the setjmp
 * handlers live in this C target and every failure comes back as a status and a message.
 * Only the Swift module Radiograph imports this.
 */
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A decoded image: width * height * channels samples, 8 or 16 bits each (16-bit in host
 *  byte order). Channels are 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
 *  Free `pixels` with lct_image_free. */
typedef struct lct_image {
    uint32_t width, height;
    uint32_t channels;
    uint32_t bit_depth;       /* 8 or 16 after expansion */
    uint32_t source_bit_depth;/* as stored in the file (1, 2, 4, 8, 16) */
    int is_palette;           /* PNG palette image (expanded to RGB/RGBA) */
    int is_progressive;       /* JPEG progressive */
    int decoder_warnings;     /* JPEG: corrupt-data warnings (e.g. premature end of file) */
    double pixels_per_mm_x;   /* PNG pHYs in metres, converted; 0 when unknown */
    double pixels_per_mm_y;
    void *pixels;
} lct_image;

/** Reads only the size of a PNG or JPEG (for refusing absurd images before decoding). */
int lct_png_read_size(const char *path, uint32_t *width, uint32_t *height, char *message, size_t message_len);
int lct_jpeg_read_size(const char *path, uint32_t *width, uint32_t *height, char *message, size_t message_len);

/** The corresponding libpng calls are png_read_info / png_read_image. */
int lct_png_read(const char *path, lct_image *out, char *message, size_t message_len);
/** The corresponding libjpeg calls are jpeg_read_header / jpeg_read_scanlines. */
int lct_jpeg_read(const char *path, lct_image *out, char *message, size_t message_len);
void lct_image_free(lct_image *image);

/** Writes an 8-bit gray (1), RGB (3) or RGBA (4) PNG. The corresponding libpng call is png_write_image. */
int lct_png_write(const char *path, uint32_t width, uint32_t height, uint32_t channels, const uint8_t *pixels,
                  char *message, size_t message_len);

#ifdef __cplusplus
}
#endif

#endif
