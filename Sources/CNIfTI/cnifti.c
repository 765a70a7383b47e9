// The nifticlib side of cnifti.h.
#include "cnifti.h"

#include <nifti2_io.h>
#include <znzlib.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The gzopen mode of a .nii.gz: level 1 with zlib's run-length strategy ('R', zlib.h gzopen).
 * lungct's volumes are mostly runs (zeros outside the lungs, constant labels) and noise;
 * measured on a 512x512x300 phantom, this writes probability.nii.gz (314 MB of float32) in
 * 0.8 s instead of 1.8 s at nifti_image_write's default level 6, and every file within 1 % of
 * that level's size (the masks as small as at level 6, where plain level 1 doubles them). */
#define LCT_NII_GZIP_MODE "wb1R"

static void set_message(char *message, size_t len, const char *path, const char *text) {
    if (message != NULL && len > 0) snprintf(message, len, "%s: %s", path, text);
}

/* The fields nifticlib repairs when it builds a nifti_image, as the file stores them (see
 * cnifti.h). `h` is a nifti_1_header or a nifti_2_header: the field names are the same. */
#define COPY_STORED_FIELDS(h, out)                              \
    do {                                                        \
        for (int i = 0; i < 8; i++) {                           \
            (out)->dim[i] = (h)->dim[i];                        \
            (out)->pixdim[i] = (h)->pixdim[i];                  \
        }                                                       \
        (out)->scl_slope = (h)->scl_slope;                      \
        (out)->scl_inter = (h)->scl_inter;                      \
        (out)->quatern[0] = (h)->quatern_b;                     \
        (out)->quatern[1] = (h)->quatern_c;                     \
        (out)->quatern[2] = (h)->quatern_d;                     \
        (out)->qoffset[0] = (h)->qoffset_x;                     \
        (out)->qoffset[1] = (h)->qoffset_y;                     \
        (out)->qoffset[2] = (h)->qoffset_z;                     \
        (out)->stored_vox_offset = (double)(h)->vox_offset;     \
    } while (0)

static int fill_stored(const char *path, const nifti_image *nim, lct_nifti_header *out) {
    int swapped = 0;
    if (nim->nifti_type == NIFTI_FTYPE_NIFTI2_1 || nim->nifti_type == NIFTI_FTYPE_NIFTI2_2) {
        nifti_2_header *h = nifti_read_n2_hdr(path, &swapped, 0);
        if (h == NULL) return 1;
        COPY_STORED_FIELDS(h, out);
        free(h);
    } else {
        nifti_1_header *h = nifti_read_n1_hdr(path, &swapped, 0);
        if (h == NULL) return 1;
        COPY_STORED_FIELDS(h, out);
        free(h);
    }
    if (nim->nifti_type == NIFTI_FTYPE_ANALYZE) {
        // ANALYZE 7.5 has no scaling at these offsets (SPM's funused1 is not NIfTI's scl_slope).
        out->scl_slope = nim->scl_slope;
        out->scl_inter = nim->scl_inter;
    }
    return 0;
}

static void fill_data_file(const nifti_image *nim, lct_nifti_header *out) {
    out->vox_offset = nim->iname_offset;
    out->single_file = nim->nifti_type == NIFTI_FTYPE_NIFTI1_1 || nim->nifti_type == NIFTI_FTYPE_NIFTI2_1;
    out->data_file_bytes = nim->iname != NULL ? nifti_get_filesize(nim->iname) : -1;
    out->data_gzipped = 0;
    FILE *file = nim->iname != NULL ? fopen(nim->iname, "rb") : NULL;
    if (file != NULL) {
        unsigned char magic[2] = {0, 0};
        out->data_gzipped = fread(magic, 1, 2, file) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        fclose(file);
    }
}

static int fill_header(const char *path, const nifti_image *nim, lct_nifti_header *out) {
    memset(out, 0, sizeof(*out));
    out->version = (nim->nifti_type == NIFTI_FTYPE_NIFTI2_1 || nim->nifti_type == NIFTI_FTYPE_NIFTI2_2) ? 2 : 1;
    out->datatype = nim->datatype;
    out->bytes_per_voxel = nim->nbyper;
    out->qform_code = nim->qform_code;
    out->sform_code = nim->sform_code;
    for (int r = 0; r < 4; r++) {
        for (int c = 0; c < 4; c++) {
            out->qto_xyz[r][c] = nim->qto_xyz.m[r][c];
            out->sto_xyz[r][c] = nim->sto_xyz.m[r][c];
        }
    }
    out->xyz_units = nim->xyz_units;
    snprintf(out->descrip, sizeof out->descrip, "%s", nim->descrip);
    fill_data_file(nim, out);
    return fill_stored(path, nim, out);
}

int lct_nifti_read_header(const char *path, lct_nifti_header *out, char *message, size_t message_len) {
    // nifticlib prints its complaints to stderr; lungct reports its own errors instead.
    nifti_set_debug_level(0);
    nifti_image *nim = nifti_image_read(path, 0);
    if (nim == NULL) {
        set_message(message, message_len, path, "not a readable NIfTI-1/NIfTI-2 file (bad or truncated header)");
        return 1;
    }
    int status = fill_header(path, nim, out);
    nifti_image_free(nim);
    if (status != 0) set_message(message, message_len, path, "the header cannot be read a second time");
    return status;
}

int lct_nifti_read_data(const char *path, void *dst, size_t dst_bytes, char *message, size_t message_len) {
    nifti_set_debug_level(0);
    // nifti_image_open reads the header and opens the voxel file; the voxels are then read
    // here, with znzread, straight into the caller's buffer. Not nifti_image_load: on a short
    // read it frees nim->data, which would be the caller's buffer (a double free), and
    // nifti_read_buffer silently replaces NaN and infinite floats with 0, which the Swift side
    // must see to warn about.
    nifti_image *nim = NULL;
    znzFile file = nifti_image_open(path, "rb", &nim);
    if (nim == NULL) {
        if (!znz_isnull(file)) znzclose(file);
        set_message(message, message_len, path, "not a readable NIfTI-1/NIfTI-2 file (bad or truncated header)");
        return 1;
    }
    int status = 0;
    size_t needed = (size_t)nim->nvox * (size_t)nim->nbyper;
    if (znz_isnull(file)) {
        set_message(message, message_len, path, "the voxel data cannot be opened");
        status = 1;
    } else if (needed != dst_bytes) {
        set_message(message, message_len, path, "voxel buffer size does not match the header");
        status = 1;
    } else if (znzseek(file, (znz_off_t)nim->iname_offset, SEEK_SET) < 0) {
        set_message(message, message_len, path, "cannot seek to the voxel data (vox_offset beyond the file?)");
        status = 1;
    } else {
        size_t got = znzread(dst, 1, needed, file);
        if (got != needed) {
            char text[200];
            snprintf(text, sizeof text,
                     "the file is truncated: the header promises %zu bytes of voxel data, the file holds %zu",
                     needed, got);
            set_message(message, message_len, path, text);
            status = 1;
        } else if (nim->swapsize > 1 && nim->byteorder != nifti_short_order()) {
            nifti_swap_Nbytes((int64_t)nim->nvox, nim->swapsize, dst);
        }
    }
    if (!znz_isnull(file)) znzclose(file);
    nifti_image_free(nim);
    return status;
}

/* A new nifti_image for a 3D volume with `affine` in sform and qform; NULL when nifticlib
 * refuses the datatype or the file name (the message says which). */
static nifti_image *make_image(const char *path, const int64_t dims[3], const double pixdim[3], int datatype,
                               const double affine[4][4], const char *descrip, char *message, size_t message_len) {
    nifti_set_debug_level(0);
    int64_t all_dims[8] = {3, dims[0], dims[1], dims[2], 1, 1, 1, 1};
    nifti_image *nim = nifti_make_new_nim(all_dims, datatype, 0);
    if (nim == NULL) {
        set_message(message, message_len, path, "nifticlib could not create the image (unsupported datatype?)");
        return NULL;
    }
    nim->pixdim[1] = nim->dx = pixdim[0];
    nim->pixdim[2] = nim->dy = pixdim[1];
    nim->pixdim[3] = nim->dz = pixdim[2];
    nim->xyz_units = NIFTI_UNITS_MM;
    nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
    nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
    for (int r = 0; r < 4; r++) {
        for (int c = 0; c < 4; c++) nim->sto_xyz.m[r][c] = affine[r][c];
    }
    nim->sto_ijk = nifti_dmat44_inverse(nim->sto_xyz);
    nifti_dmat44_to_quatern(nim->sto_xyz, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d, &nim->qoffset_x,
                            &nim->qoffset_y, &nim->qoffset_z, NULL, NULL, NULL, &nim->qfac);
    nim->qto_xyz = nifti_quatern_to_dmat44(nim->quatern_b, nim->quatern_c, nim->quatern_d, nim->qoffset_x,
                                           nim->qoffset_y, nim->qoffset_z, nim->dx, nim->dy, nim->dz, nim->qfac);
    nim->qto_ijk = nifti_dmat44_inverse(nim->qto_xyz);
    if (descrip != NULL) snprintf(nim->descrip, sizeof nim->descrip, "%s", descrip);
    if (nifti_set_filenames(nim, path, 0, 1) != 0) {
        set_message(message, message_len, path, "not a NIfTI file name (use .nii or .nii.gz)");
        nifti_image_free(nim);
        return NULL;
    }
    return nim;
}

int lct_nifti_write(const char *path, const int64_t dims[3], const double pixdim[3], int datatype,
                    const void *data, const double affine[4][4], const char *descrip,
                    char *message, size_t message_len) {
    nifti_image *nim = make_image(path, dims, pixdim, datatype, affine, descrip, message, message_len);
    if (nim == NULL) return 1;
    nim->data = (void *)data;
    // nifti_image_write, with the file's open mode chosen here: nifticlib hands it to gzopen
    // for a .gz name (znzopen), and zlib reads a level and a strategy from it. Like
    // nifti_image_write, this reports nothing (the caller verifies the written file) and frees
    // the znzFile that nifticlib returns, already closed.
    znzFile file = nifti_image_write_hdr_img2(nim, 1, nifti_is_gzfile(path) ? LCT_NII_GZIP_MODE : "wb", NULL, NULL);
    if (file != NULL) free(file);
    nim->data = NULL;
    nifti_image_free(nim);
    return 0;
}

int lct_nifti_write_header(const char *path, const int64_t dims[3], const double pixdim[3], int datatype,
                           const double affine[4][4], const char *descrip, char *message, size_t message_len) {
    nifti_image *nim = make_image(path, dims, pixdim, datatype, affine, descrip, message, message_len);
    if (nim == NULL) return 1;
    // Write option 2: the header and the extender, with the file left open where the data
    // would start (nifti_image_write_hdr_img2); closing it ends the first gzip member.
    znzFile file = nifti_image_write_hdr_img2(nim, 2, nifti_is_gzfile(path) ? LCT_NII_GZIP_MODE : "wb", NULL, NULL);
    int status = 0;
    if (znz_isnull(file)) {
        set_message(message, message_len, path, "nifticlib could not write the header (disk full or not writable?)");
        status = 1;
    } else {
        if ((int64_t)znztell(file) != (int64_t)nim->iname_offset) {
            set_message(message, message_len, path, "nifticlib left the header short of the data offset");
            status = 1;
        }
        if (znzclose(file) != 0 && status == 0) {
            set_message(message, message_len, path, "closing the header failed (disk full?)");
            status = 1;
        }
    }
    nifti_image_free(nim);
    return status;
}

size_t lct_gzip_member_bound(size_t count) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    // deflateBound with the gzip wrapper's header and trailer (zlib.h, deflateBound).
    if (deflateInit2(&stream, 1, Z_DEFLATED, 15 + 16, 8, Z_RLE) != Z_OK) return 0;
    size_t bound = deflateBound(&stream, (uLong)count);
    deflateEnd(&stream);
    return bound;
}

int lct_gzip_member(const void *src, size_t count, void *dst, size_t capacity, size_t *written) {
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    // Window bits 15 + 16: zlib writes the gzip header and trailer (CRC-32, length) itself.
    int status = deflateInit2(&stream, 1, Z_DEFLATED, 15 + 16, 8, Z_RLE);
    if (status != Z_OK) return status;
    stream.next_in = (Bytef *)src;
    stream.avail_in = (uInt)count;
    stream.next_out = (Bytef *)dst;
    stream.avail_out = (uInt)capacity;
    status = deflate(&stream, Z_FINISH);
    *written = stream.total_out;
    deflateEnd(&stream);
    return status == Z_STREAM_END ? Z_OK : (status == Z_OK ? Z_BUF_ERROR : status);
}
