/*
 * HDF5's native type ids (H5T_NATIVE_INT16, ...) and H5P_DEFAULT are macros that expand to
 * run-time globals after H5open(); Swift cannot import such macros, so these inline
 * functions return them. They can go when Swift imports function-like macros.
 */
#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H

#include <hdf5.h>
/*
 * zlib, for HDF5Store's own run of the deflate filter: HDF5's deflate filter is zlib
 * (H5Zdeflate.c), so chunks compressed here and stored with H5Dwrite_chunk are what that
 * filter reads back. It belongs with HDF5 for as long as it serves only that.
 */
#include <limits.h>
#include <string.h>
#include <zlib.h>

/*
 * compress2 with a strategy: one buffer into one zlib stream (what HDF5's deflate filter
 * inflates), with zlib's deflateInit2, a macro Swift cannot import (it passes zlib's version
 * and sizeof(z_stream)). Returns a zlib status; *dest_len is the capacity on entry, the stream's
 * length on return. Goes when Swift imports function-like macros.
 */
static inline int lct_deflate(unsigned char *dest, size_t *dest_len, const unsigned char *source, size_t source_len,
                              int level, int strategy) {
    if (source_len > UINT_MAX || *dest_len > UINT_MAX) return Z_BUF_ERROR;
    z_stream stream;
    memset(&stream, 0, sizeof stream);
    /* compress2's settings (deflateInit: 15 window bits, memory level 8) and the strategy */
    int status = deflateInit2(&stream, level, Z_DEFLATED, MAX_WBITS, 8, strategy);
    if (status != Z_OK) return status;
    stream.next_in = (z_const Bytef *)source;
    stream.avail_in = (uInt)source_len;
    stream.next_out = dest;
    stream.avail_out = (uInt)*dest_len;
    status = deflate(&stream, Z_FINISH);
    *dest_len = stream.total_out;
    deflateEnd(&stream);
    return status == Z_STREAM_END ? Z_OK : (status == Z_OK ? Z_BUF_ERROR : status);
}

static inline hid_t lct_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t lct_h5t_native_int16(void) { return H5T_NATIVE_INT16; }
static inline hid_t lct_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t lct_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t lct_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t lct_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t lct_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t lct_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t lct_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t lct_h5s_all(void) { return H5S_ALL; }

/*
 * H5F_ACC_TRUNC / H5F_ACC_RDONLY expand to "(H5check(), H5open(), 0x0002u)": a comma
 * expression Swift cannot import. These go when Swift imports such macros.
 */
static inline unsigned lct_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned lct_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
/* H5P_LINK_CREATE and H5P_FILE_ACCESS are run-time globals like H5P_DATASET_CREATE above (same reason). */
static inline hid_t lct_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t lct_h5p_link_create(void) { return H5P_LINK_CREATE; }
/*
 * H5T_VARIABLE is "((size_t)(-1))", a cast Swift does not import; it marks a
 * variable-length string type, the kind h5py reads as str. Goes with the others above.
 */
static inline size_t lct_h5t_variable(void) { return H5T_VARIABLE; }

#endif
