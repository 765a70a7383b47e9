/*
 * cdcmtk.h: the narrow C interface that lungct's Swift code uses to reach DCMTK.
 *
 * DCMTK is C++; Swift stays out of C++ interop mode, so this header is plain C with
 * opaque handles. Every C++ exception and every OFCondition is caught inside the .cpp
 * and turned into a status code plus a message naming the file and the problem.
 * Only the Swift module DICOMSeries imports this.
 */
#ifndef CDCMTK_H
#define CDCMTK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes returned by every function below. */
enum {
    LCT_DCM_OK = 0,
    LCT_DCM_NOT_DICOM = 1,      /* no DICM preamble and not parseable as a raw data set */
    LCT_DCM_READ_FAILED = 2,    /* I/O error or a truncated / corrupt file */
    LCT_DCM_NO_PIXELS = 3,      /* the object has no (7FE0,0010) Pixel Data */
    LCT_DCM_DECODE_FAILED = 4,  /* compressed pixel data DCMTK cannot decode */
    LCT_DCM_BAD_SIZE = 5,       /* pixel data length does not match the header */
    LCT_DCM_WRITE_FAILED = 6,
    LCT_DCM_INTERNAL = 7,       /* a C++ exception or allocation failure */
    LCT_DCM_TOO_LARGE = 8       /* a deflated data set inflates to more than the caller's limit */
};

#define LCT_UID_LEN 72
#define LCT_SHORT_LEN 72
#define LCT_LONG_LEN 136

/** The header fields lungct needs, read with the scan stopping before Pixel Data.
 *  A `has_*` flag is 1 when the attribute is present with a usable value. */
typedef struct lct_dicom_header {
    char sop_class_uid[LCT_UID_LEN];          /* (0008,0016) */
    char sop_instance_uid[LCT_UID_LEN];       /* (0008,0018) */
    char study_instance_uid[LCT_UID_LEN];     /* (0020,000D) */
    char series_instance_uid[LCT_UID_LEN];    /* (0020,000E) */
    char frame_of_reference_uid[LCT_UID_LEN]; /* (0020,0052) */
    char transfer_syntax_uid[LCT_UID_LEN];    /* (0002,0010), or the syntax detected */
    char media_storage_sop_class_uid[LCT_UID_LEN]; /* (0002,0002): DICOMDIR is 1.2.840.10008.1.3.10 */
    char modality[LCT_SHORT_LEN];             /* (0008,0060) */
    char image_type[LCT_LONG_LEN];            /* (0008,0008), values joined by '\' */
    char series_description[LCT_LONG_LEN];    /* (0008,103E) */
    char convolution_kernel[LCT_LONG_LEN];    /* (0018,1210) */
    char manufacturer[LCT_LONG_LEN];          /* (0008,0070) */
    char photometric[LCT_SHORT_LEN];          /* (0028,0004) */
    char body_part[LCT_SHORT_LEN];            /* (0018,0015) */
    char view_position[LCT_SHORT_LEN];        /* (0018,5101) */
    char patient_position[LCT_SHORT_LEN];     /* (0018,5100) */
    char lossy_compression[LCT_SHORT_LEN];    /* (0028,2110) "00" or "01" */
    char burned_in_annotation[LCT_SHORT_LEN]; /* (0028,0301) "YES" / "NO" */
    char patient_name[LCT_LONG_LEN];          /* (0010,0010), only used with --keep-phi */
    char patient_id[LCT_LONG_LEN];            /* (0010,0020) */
    char study_date[LCT_SHORT_LEN];           /* (0008,0020) */
    char patient_birth_date[LCT_SHORT_LEN];   /* (0010,0030), only used with --keep-phi */

    int32_t series_number;      int has_series_number;      /* (0020,0011) */
    int32_t instance_number;    int has_instance_number;    /* (0020,0013) */
    int32_t acquisition_number; int has_acquisition_number; /* (0020,0012) */
    int32_t temporal_position;  int has_temporal_position;  /* (0020,0100) */

    uint16_t rows, columns;                 /* (0028,0010), (0028,0011) */
    uint16_t bits_allocated, bits_stored;   /* (0028,0100), (0028,0101) */
    uint16_t high_bit, pixel_representation;/* (0028,0102), (0028,0103) */
    uint16_t samples_per_pixel;             /* (0028,0002) */
    uint16_t planar_configuration;          /* (0028,0006) */
    int32_t number_of_frames;               /* (0028,0008), 1 when absent */
    int has_number_of_frames;               /* (0028,0008) present with a number (even 0 or negative) */
    int has_functional_groups;              /* (5200,9229) Shared or (5200,9230) Per-Frame Functional Groups Sequence */
    int has_pixel_data;                     /* (7FE0,0010) present */
    uint32_t pixel_data_length;             /* its value length in bytes; 0xFFFFFFFF when encapsulated */
    uint32_t fragment_count;                /* encapsulated: fragments after the Basic Offset Table item */

    double pixel_spacing[2];         int has_pixel_spacing;         /* (0028,0030) row\column */
    double imager_pixel_spacing[2];  int has_imager_pixel_spacing;  /* (0018,1164) */
    double slice_thickness;          int has_slice_thickness;       /* (0018,0050) */
    double image_position[3];        int has_image_position;        /* (0020,0032) */
    double image_orientation[6];     int has_image_orientation;     /* (0020,0037) */
    double rescale_slope;            int has_rescale_slope;         /* (0028,1053) */
    double rescale_intercept;        int has_rescale_intercept;     /* (0028,1052) */
    double gantry_tilt;              int has_gantry_tilt;           /* (0018,1120) */
    double window_center;            int has_window;                /* (0028,1050) first value */
    double window_width;                                            /* (0028,1051) first value */
    int has_voi_lut_sequence;                                       /* (0028,3010) */
    int32_t pixel_padding_value;     int has_pixel_padding_value;   /* (0028,0120), as read per PixelRepresentation */
    int32_t pixel_padding_range_limit; int has_pixel_padding_range_limit; /* (0028,0121) */

    /* Set by lct_dcm_read_header alone: where native pixel data lies, so that the pixel load
     * reads it with one pread instead of a second parse. pixel_data_offset is the byte offset of
     * (7FE0,0010)'s value in the file, as DCMTK's parse left it on disk
     * (DcmElement::getInputStream); 0 when the value cannot be read that way (encapsulated,
     * deflated, big endian, a value small enough to be read with the header, or a file that
     * changed while it was parsed). The file as it was then: st_dev, st_ino, st_size, st_mtim. */
    uint64_t pixel_data_offset;
    uint64_t file_device, file_inode, file_size;
    int64_t file_modified_ns;
} lct_dicom_header;

/* Every reader below takes `max_inflated_bytes`: a deflated data set (PS3.5 A.5) cannot be
 * read lazily, so DCMTK would inflate all of it, pixel data included, while parsing. Before it
 * parses one, its inflated size is counted in a stream (constant memory, through DCMTK's own
 * zlib input filter), and beyond this limit the file is refused with LCT_DCM_TOO_LARGE. */

/** Reads the header of `path` without reading pixel values (values over 4 KiB are skipped
 *  and loaded only on demand; a deflated data set is inflated whole, within
 *  `max_inflated_bytes`). The corresponding DCMTK call is DcmFileFormat::loadFile with a
 *  maximum read length. */
int lct_dcm_read_header(const char *path, uint64_t max_inflated_bytes, lct_dicom_header *out, char *message,
                        size_t message_len);

/** Reads frame 0 of the pixel data of `path`, decompressing it when the transfer syntax
 *  is encapsulated (JPEG baseline/extended/lossless, JPEG-LS, RLE), and copies the stored
 *  values (not yet rescaled) into `dst`, which holds `dst_bytes` bytes: exactly
 *  rows * columns * samples_per_pixel * (bits_allocated / 8). `header` is the file's own
 *  header, refreshed after decompression (the photometric interpretation can change). */
int lct_dcm_read_pixels(const char *path, uint64_t max_inflated_bytes, void *dst, size_t dst_bytes,
                        lct_dicom_header *header, char *message, size_t message_len);

/** An open image whose frames are read one at a time (a multi-frame object's frames by
 *  several workers, each with its own handle; one handle is used by one thread at a time).
 *  The file is loaded lazily, as for lct_dcm_read_header: each frame's pixel data is read from
 *  disk when asked for. */
typedef struct lct_dcm_pixel_file lct_dcm_pixel_file;

/** Opens `path` for lct_dcm_read_frame; *out is NULL unless LCT_DCM_OK. */
int lct_dcm_open_pixels(const char *path, uint64_t max_inflated_bytes, lct_dcm_pixel_file **out, char *message,
                        size_t message_len);

/** Reads frame `frame` (0-based) of the open file into `dst` (dst_bytes, exactly one frame:
 *  rows * columns * samples_per_pixel * (bits_allocated / 8)), as lct_dcm_read_pixels does.
 *  Native pixel data is read in place from its offset (DcmElement::getPartialValue); JPEG 2000
 *  (1.2.840.10008.1.2.4.90, .91) is decoded by OpenJPEG from the frame's fragments, after its
 *  size, components and precision are checked against the header; other encapsulated syntaxes
 *  of a multi-frame object are decoded frame by frame by DCMTK (DcmPixelData::getUncompressedFrame).
 *  `header` receives the file's header as the decoded samples are: for JPEG 2000, Bits Stored and
 *  Pixel Representation are the codestream's own precision and signedness. */
int lct_dcm_read_frame(lct_dcm_pixel_file *file, uint32_t frame, void *dst, size_t dst_bytes,
                       lct_dicom_header *header, char *message, size_t message_len);

/** Closes a file opened by lct_dcm_open_pixels (NULL is ignored). */
void lct_dcm_close_pixels(lct_dcm_pixel_file *file);

/** One frame's place and rescale in a multi-frame object, from its functional groups (PS3.3
 *  C.7.6.16): the per-frame item's group where there is one, else the shared item's. */
typedef struct lct_frame_values {
    double image_position[3];    int has_image_position;    /* (0020,9113) Plane Position Sequence > (0020,0032) */
    double image_orientation[6]; int has_image_orientation; /* (0020,9116) Plane Orientation Sequence > (0020,0037) */
    double pixel_spacing[2];     int has_pixel_spacing;     /* (0028,9110) Pixel Measures Sequence > (0028,0030) */
    double slice_thickness;      int has_slice_thickness;   /* (0028,9110) Pixel Measures Sequence > (0018,0050) */
    double rescale_slope;        int has_rescale_slope;     /* (0028,9145) Pixel Value Transformation Sequence > (0028,1053) */
    double rescale_intercept;    int has_rescale_intercept; /* (0028,9145) Pixel Value Transformation Sequence > (0028,1052) */
} lct_frame_values;

/** Reads the functional groups of the multi-frame object `path` into `out`, which holds
 *  `frame_count` entries: (0028,0008) Number of Frames, checked by the caller. Refuses with
 *  LCT_DCM_BAD_SIZE when (5200,9230) Per-Frame Functional Groups Sequence does not hold exactly
 *  `frame_count` items. The corresponding DCMTK calls are FGInterface::read and FGInterface::get
 *  (dcmfg). */
int lct_dcm_read_frame_values(const char *path, uint64_t max_inflated_bytes, lct_frame_values *out,
                              size_t frame_count, char *message, size_t message_len);

/** Renders frame 0 of a monochrome image as a viewer shows it through its first
 *  (0028,3010) VOI LUT Sequence item (PS3.3 C.11.2): modality rescale or LUT, then the VOI
 *  LUT, then the presentation, so that MONOCHROME1 comes out inverted. `dst` receives
 *  `dst_count` = rows * columns 16-bit values, 0 black ... 65535 white. The corresponding
 *  DCMTK calls are DicomImage::setVoiLut and DicomImage::getOutputData. */
int lct_dcm_render_voi_lut(const char *path, uint64_t max_inflated_bytes, uint16_t *dst, size_t dst_count,
                           char *message, size_t message_len);

/** Transfer syntaxes that lct_dcm_write_image can produce. */
typedef enum {
    LCT_TS_EXPLICIT_LE = 0,
    LCT_TS_IMPLICIT_LE = 1,
    LCT_TS_RLE = 2,
    LCT_TS_JPEG_LOSSLESS = 3,   /* JPEG lossless, first-order prediction (process 14, SV1) */
    LCT_TS_JPEG_LS_LOSSLESS = 4,
    LCT_TS_JPEG_BASELINE = 5    /* lossy, 8-bit images only */
} lct_transfer_syntax;

/** What lct_dcm_write_image puts in a file; strings may be empty to omit an attribute. */
typedef struct lct_image_description {
    const char *sop_class_uid;
    const char *sop_instance_uid;
    const char *study_instance_uid;
    const char *series_instance_uid;
    const char *frame_of_reference_uid;
    const char *modality;
    const char *image_type;
    const char *series_description;
    const char *convolution_kernel;
    const char *patient_name;
    const char *patient_id;
    const char *patient_position;
    const char *photometric;
    const char *study_date;
    int32_t series_number;
    int32_t instance_number;
    uint16_t rows, columns;
    uint16_t bits_allocated, bits_stored, pixel_representation;
    double pixel_spacing[2];         /* row\column, mm */
    double slice_thickness;          /* mm, 0 to omit */
    double image_position[3];
    double image_orientation[6];
    int has_geometry;                /* 0: a radiograph, no position/orientation */
    double rescale_slope, rescale_intercept;
    int has_rescale;
} lct_image_description;

/** Writes one single-frame image with the given transfer syntax.
 *  The corresponding DCMTK calls are DcmDataset::chooseRepresentation and DcmFileFormat::saveFile. */
int lct_dcm_write_image(const char *path, const lct_image_description *description,
                        const void *pixels, size_t pixel_bytes, lct_transfer_syntax syntax,
                        char *message, size_t message_len);

/** The name DCMTK's dictionary gives a well-known UID (a SOP class or transfer syntax), or
 *  an empty string. The corresponding DCMTK call is dcmFindNameOfUID. */
void lct_dcm_uid_name(const char *uid, char *out, size_t out_len);

/** A fresh UID under DCMTK's site root. The corresponding DCMTK call is dcmGenerateUniqueIdentifier. */
void lct_dcm_new_uid(char *out, size_t out_len);

#ifdef __cplusplus
}
#endif

#endif
