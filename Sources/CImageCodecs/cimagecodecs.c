// libpng and libjpeg-turbo behind a status-and-message interface (see cimagecodecs.h).
#include "cimagecodecs.h"

#include <stdio.h>  // jpeglib.h uses FILE without including it
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

static void set_message(char *message, size_t len, const char *path, const char *text) {
    if (message != NULL && len > 0) snprintf(message, len, "%s: %s", path, text);
}

// fopen, with the message set when it fails ("cannot open" for reading, "cannot create file"
// for writing).
static FILE *open_file(const char *path, const char *mode, char *message, size_t len) {
    FILE *file = fopen(path, mode);
    if (file == NULL) set_message(message, len, path, mode[0] == 'w' ? "cannot create file" : "cannot open");
    return file;
}

/* ---------------------------------------------------------------- PNG */

struct png_error_context {
    jmp_buf jump;
    char text[256];
};

static void png_error_handler(png_structp png, png_const_charp text) {
    struct png_error_context *context = png_get_error_ptr(png);
    snprintf(context->text, sizeof context->text, "%s", text);
    longjmp(context->jump, 1);
}

static void png_warning_handler(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;  // warnings (e.g. an unknown chunk) do not stop a read
}

int lct_png_read_size(const char *path, uint32_t *width, uint32_t *height, char *message, size_t message_len) {
    FILE *file = open_file(path, "rb", message, message_len);
    if (file == NULL) return 1;
    unsigned char signature[24];
    size_t got = fread(signature, 1, sizeof signature, file);
    fclose(file);
    if (got < sizeof signature || png_sig_cmp(signature, 0, 8) != 0 || memcmp(signature + 12, "IHDR", 4) != 0) {
        set_message(message, message_len, path, "not a PNG file (bad signature)");
        return 1;
    }
    *width = ((uint32_t)signature[16] << 24) | ((uint32_t)signature[17] << 16) | ((uint32_t)signature[18] << 8) | signature[19];
    *height = ((uint32_t)signature[20] << 24) | ((uint32_t)signature[21] << 16) | ((uint32_t)signature[22] << 8) | signature[23];
    return 0;
}

int lct_png_read(const char *path, lct_image *out, char *message, size_t message_len) {
    memset(out, 0, sizeof(*out));
    FILE *file = open_file(path, "rb", message, message_len);
    if (file == NULL) return 1;
    struct png_error_context context;
    context.text[0] = '\0';
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, png_error_handler, png_warning_handler);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    // volatile: assigned after setjmp and read by the longjmp handler, which C11 7.13.2.1
    // leaves indeterminate for a non-volatile local (the handler would leak the row table).
    png_bytep *volatile rows = NULL;
    if (png == NULL || info == NULL) {
        set_message(message, message_len, path, "libpng could not allocate its state");
        if (png) png_destroy_read_struct(&png, NULL, NULL);
        fclose(file);
        return 1;
    }
    if (setjmp(context.jump)) {
        char text[300];
        snprintf(text, sizeof text, "PNG decoding failed: %s", context.text);
        set_message(message, message_len, path, text);
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        free(out->pixels);
        out->pixels = NULL;
        fclose(file);
        return 1;
    }
    png_init_io(png, file);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    out->source_bit_depth = (uint32_t)bit_depth;
    out->is_palette = color_type == PNG_COLOR_TYPE_PALETTE;
    png_uint_32 res_x = 0, res_y = 0;
    int unit = 0;
    if (png_get_pHYs(png, info, &res_x, &res_y, &unit) && unit == PNG_RESOLUTION_METER) {
        out->pixels_per_mm_x = res_x / 1000.0;
        out->pixels_per_mm_y = res_y / 1000.0;
    }
    // Expand everything to 8 or 16 bits per sample, keep 16-bit depth as it is.
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16) png_set_swap(png);  // PNG stores big-endian; hand back host order (little-endian here)
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    out->channels = png_get_channels(png, info);
    out->bit_depth = png_get_bit_depth(png, info);
    out->width = width;
    out->height = height;
    size_t row_bytes = png_get_rowbytes(png, info);
    out->pixels = malloc(row_bytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (out->pixels == NULL || rows == NULL) {
        snprintf(context.text, sizeof context.text, "out of memory for %ux%u image", width, height);
        longjmp(context.jump, 1);
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = (png_bytep)out->pixels + y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(file);
    return 0;
}

int lct_png_write(const char *path, uint32_t width, uint32_t height, uint32_t channels, const uint8_t *pixels,
                  char *message, size_t message_len) {
    FILE *file = open_file(path, "wb", message, message_len);
    if (file == NULL) return 1;
    struct png_error_context context;
    context.text[0] = '\0';
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &context, png_error_handler, png_warning_handler);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (png == NULL || info == NULL) {
        set_message(message, message_len, path, "libpng could not allocate its state");
        if (png) png_destroy_write_struct(&png, NULL);
        fclose(file);
        return 1;
    }
    if (setjmp(context.jump)) {
        char text[300];
        snprintf(text, sizeof text, "PNG encoding failed: %s", context.text);
        set_message(message, message_len, path, text);
        png_destroy_write_struct(&png, &info);
        fclose(file);
        return 1;
    }
    int color_type = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_init_io(png, file);
    png_set_IHDR(png, info, width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(file) != 0) {
        set_message(message, message_len, path, "write failed (disk full?)");
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- JPEG */

struct jpeg_error_context {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char text[JMSG_LENGTH_MAX];
};

static void jpeg_error_handler(j_common_ptr info) {
    struct jpeg_error_context *context = (struct jpeg_error_context *)info->err;
    (*info->err->format_message)(info, context->text);
    longjmp(context->jump, 1);
}

static void jpeg_quiet_output(j_common_ptr info) { (void)info; }

static int jpeg_open(const char *path, struct jpeg_decompress_struct *info, struct jpeg_error_context *context,
                     FILE **file, char *message, size_t message_len) {
    *file = open_file(path, "rb", message, message_len);
    if (*file == NULL) return 1;
    info->err = jpeg_std_error(&context->manager);
    context->manager.error_exit = jpeg_error_handler;
    context->manager.output_message = jpeg_quiet_output;
    context->text[0] = '\0';
    return 0;
}

// The error path after libjpeg longjmp'ed out: the message with libjpeg's text, the
// decompressor destroyed and the file closed. Returns the failure status, 1.
static int jpeg_failed(struct jpeg_decompress_struct *info, FILE *file, const char *what,
                       const struct jpeg_error_context *context, const char *path, char *message, size_t message_len) {
    char text[JMSG_LENGTH_MAX + 40];
    snprintf(text, sizeof text, "%s: %s", what, context->text);
    set_message(message, message_len, path, text);
    jpeg_destroy_decompress(info);
    fclose(file);
    return 1;
}

int lct_jpeg_read_size(const char *path, uint32_t *width, uint32_t *height, char *message, size_t message_len) {
    struct jpeg_decompress_struct info;
    struct jpeg_error_context context;
    FILE *file = NULL;
    if (jpeg_open(path, &info, &context, &file, message, message_len) != 0) return 1;
    if (setjmp(context.jump)) return jpeg_failed(&info, file, "JPEG header unreadable", &context, path, message, message_len);
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    *width = info.image_width;
    *height = info.image_height;
    jpeg_destroy_decompress(&info);
    fclose(file);
    return 0;
}

int lct_jpeg_read(const char *path, lct_image *out, char *message, size_t message_len) {
    memset(out, 0, sizeof(*out));
    struct jpeg_decompress_struct info;
    struct jpeg_error_context context;
    FILE *file = NULL;
    if (jpeg_open(path, &info, &context, &file, message, message_len) != 0) return 1;
    if (setjmp(context.jump)) {
        free(out->pixels);
        out->pixels = NULL;
        return jpeg_failed(&info, file, "JPEG decoding failed", &context, path, message, message_len);
    }
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
        // libjpeg cannot turn ink separations into RGB; say what the file is instead of
        // passing on its "unsupported color conversion request".
        snprintf(context.text, sizeof context.text,
                 "a CMYK JPEG (colour separations for printing, not a radiograph); save it as grayscale or RGB");
        longjmp(context.jump, 1);
    }
    // Keep gray as gray; everything else (YCbCr) comes back as RGB so the caller can see
    // whether the picture really holds colour.
    info.out_color_space = info.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    out->is_progressive = jpeg_has_multiple_scans(&info) ? 1 : 0;
    jpeg_start_decompress(&info);
    out->width = info.output_width;
    out->height = info.output_height;
    out->channels = (uint32_t)info.output_components;
    out->bit_depth = 8;
    out->source_bit_depth = (uint32_t)info.data_precision;
    if (info.density_unit == 2 && info.X_density > 0 && info.Y_density > 0) {  // dots per cm
        out->pixels_per_mm_x = info.X_density / 10.0;
        out->pixels_per_mm_y = info.Y_density / 10.0;
    }
    size_t row_bytes = (size_t)out->width * out->channels;
    out->pixels = malloc(row_bytes * out->height);
    if (out->pixels == NULL) {
        snprintf(context.text, sizeof context.text, "out of memory for %ux%u image", out->width, out->height);
        longjmp(context.jump, 1);
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = (JSAMPROW)((uint8_t *)out->pixels + (size_t)info.output_scanline * row_bytes);
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    out->decoder_warnings = (int)context.manager.num_warnings;
    jpeg_destroy_decompress(&info);
    fclose(file);
    return 0;
}

void lct_image_free(lct_image *image) {
    if (image == NULL) return;
    free(image->pixels);
    image->pixels = NULL;
}
