/*
 * HDF5's native type ids (H5T_NATIVE_INT16, ...) and H5P_DEFAULT are macros that expand to
 * run-time globals after H5open(); Swift cannot import such macros, so these inline
 * functions return them. They can go when Swift imports function-like macros.
 */
#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H

#include <hdf5.h>

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

#endif
