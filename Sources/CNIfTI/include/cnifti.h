/*
 * cnifti.h: the narrow C interface to nifticlib (libnifti2, which reads NIfTI-1 and
 * NIfTI-2, plain or gzipped). nifticlib's own headers stay inside cnifti.c because they
 * need -I/usr/include/nifti and define names (DT_*, mat44) that would leak into Swift.
 * Only the Swift module NIfTIIO imports this.
 */
#ifndef CNIFTI_H
#define CNIFTI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Voxel types lungct reads and writes (NIfTI datatype codes, nifti1.h). */
enum {
    LCT_NII_UINT8 = 2, LCT_NII_INT16 = 4, LCT_NII_INT32 = 8, LCT_NII_FLOAT32 = 16,
    LCT_NII_FLOAT64 = 64, LCT_NII_INT8 = 256, LCT_NII_UINT16 = 512, LCT_NII_UINT32 = 768
};

/** Spatial units: xyz_units & 0x07 (nifti1.h NIFTI_UNITS_* and XYZT_TO_SPACE). */
enum {
    LCT_NII_UNITS_UNKNOWN = 0, LCT_NII_UNITS_METER = 1, LCT_NII_UNITS_MM = 2, LCT_NII_UNITS_MICRON = 3
};

typedef struct lct_nifti_header {
    int version;             /* 1 or 2 */
    /* dim, pixdim, scl_*, quatern and qoffset as stored in the file (nifti_read_n1_hdr /
     * nifti_read_n2_hdr, byte-swapped to native). nifticlib repairs them in silence when it
     * builds a nifti_image (a dim[i] <= 0 becomes 1, a zero or non-finite pixdim 1, a non-finite
     * scl_slope, scl_inter or quaternion value 0); lungct refuses or warns instead. */
    int64_t dim[8];          /* dim[0] = number of dimensions */
    double pixdim[8];
    double scl_slope, scl_inter;
    double quatern[3];       /* quatern_b, quatern_c, quatern_d */
    double qoffset[3];       /* qoffset_x, qoffset_y, qoffset_z */
    double stored_vox_offset;
    int datatype;            /* NIfTI datatype code */
    int bytes_per_voxel;
    int qform_code, sform_code;
    double qto_xyz[4][4];    /* RAS, nifticlib's (from quatern, qoffset and its repaired pixdim) */
    double sto_xyz[4][4];    /* RAS, srow_x/y/z as stored */
    int xyz_units;
    char descrip[81];
    /* Where the voxels are, so that a header claiming more than its file holds is refused before
     * anything is allocated: the byte nifticlib starts reading them at (iname_offset; 348 when
     * the stored vox_offset is below the header or absurd), whether they share the header's file
     * (.nii rather than .hdr/.img), the size of the file holding them on disk (-1 when unknown),
     * and whether that file starts with the gzip magic 1f 8b. */
    int64_t vox_offset;
    int single_file;
    int64_t data_file_bytes;
    int data_gzipped;
} lct_nifti_header;

/** Reads the header only. The corresponding nifticlib call is nifti_image_read(path, 0). */
int lct_nifti_read_header(const char *path, lct_nifti_header *out, char *message, size_t message_len);

/** Reads the voxels into `dst` (exactly nvox * bytes_per_voxel bytes, as stored, unscaled).
 *  The corresponding nifticlib calls are nifti_image_read and nifti_image_load. */
int lct_nifti_read_data(const char *path, void *dst, size_t dst_bytes, char *message, size_t message_len);

/** Writes a 3D NIfTI-1 volume (gzipped when the path ends in .gz: level 1, zlib's run-length
 *  strategy) with the same affine in sform and qform (code 1, scanner), units mm. `affine` maps
 *  (i,j,k) to RAS millimetres. The corresponding nifticlib calls are nifti_make_new_nim and
 *  nifti_image_write_hdr_img2 (nifti_image_write with a chosen gzip mode). */
int lct_nifti_write(const char *path, const int64_t dims[3], const double pixdim[3], int datatype,
                    const void *data, const double affine[4][4], const char *descrip,
                    char *message, size_t message_len);

/** Writes only the header (and extender) of a 3D NIfTI-1 volume as `lct_nifti_write` would,
 *  the gzip stream of a .gz name closed after it at the data's offset (vox_offset). The caller appends the voxels: for a .gz name as further gzip members
 *  (RFC 1952 2.2: a gzip file is a series of members), which zlib's gzread, and so nifticlib,
 *  reads as one stream. The corresponding nifticlib call is nifti_image_write_hdr_img2 with
 *  write option 2 (header only, file left open). */
int lct_nifti_write_header(const char *path, const int64_t dims[3], const double pixdim[3], int datatype,
                           const double affine[4][4], const char *descrip, char *message, size_t message_len);

/** The most bytes `lct_gzip_member` can write for `count` bytes (zlib's deflateBound); 0 when
 *  zlib cannot start. */
size_t lct_gzip_member_bound(size_t count);

/** `count` bytes as one complete gzip member (RFC 1952) into `dst`, compressed as .nii.gz files
 *  are (level 1, zlib's run-length strategy); `written` gets its length. Returns zlib's Z_OK,
 *  or its error (Z_BUF_ERROR when `capacity` is too small). */
int lct_gzip_member(const void *src, size_t count, void *dst, size_t capacity, size_t *written);

#ifdef __cplusplus
}
#endif

#endif
