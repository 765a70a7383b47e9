/*
 * cdicomobjects.h: the narrow C interface over DCMTK's object modules (dcmseg, dcmpmap, dcmsr
 * with its TID 1500 classes, dcmiod/dcmfg) through which lungct writes its DICOM results: a
 * Segmentation, a Parametric Map, a measurement report and a Secondary Capture, each
 * referencing the CT series they were computed from.
 *
 * DCMTK is C++; Swift stays out of C++ interop mode, so this header is plain C. Every C++
 * exception and every OFCondition is caught inside the .cpp files and turned into a status
 * code plus a message naming the file. Only the Swift module DICOMObjects imports this.
 */
#ifndef CDICOMOBJECTS_H
#define CDICOMOBJECTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes returned by every function below. */
enum {
    LCT_OBJ_OK = 0,
    LCT_OBJ_INVALID = 1,       /* DCMTK refused a value or found the object incomplete */
    LCT_OBJ_WRITE_FAILED = 2,  /* the file could not be written */
    LCT_OBJ_READ_FAILED = 3,   /* the file could not be read back */
    LCT_OBJ_INTERNAL = 4       /* a C++ exception or allocation failure */
};

/** A coded concept (PS3.3 Table 8.8-1 Code Sequence Macro): value, scheme, meaning. */
typedef struct lct_obj_code {
    const char *value;
    const char *scheme;
    const char *meaning;
} lct_obj_code;

/** The CT series the objects are computed from, and its grid (the grid every object uses). */
typedef struct lct_obj_source {
    const char *study_instance_uid;     /* (0020,000D), kept: the objects join the same study */
    const char *series_instance_uid;    /* (0020,000E) of the source series */
    const char *frame_of_reference_uid; /* (0020,0052) */
    const char *sop_class_uid;          /* (0008,0016) of the source images */
    /* Per slice of the grid: the SOP Instance UIDs it was made from, joined by '\'
     * (one for a copied slice, two for a slice interpolated between neighbours). */
    const char *const *slice_references;
    size_t slice_count;
    uint16_t rows, columns;
    double pixel_spacing[2];   /* (0028,0030) row\column spacing, mm */
    double slice_spacing;      /* (0018,0088) mm */
    double orientation[6];     /* (0020,0037) */
    const double *positions;   /* 3 × slice_count: (0020,0032) of each slice, LPS mm */
    /* Patient and study identification: empty strings when de-identified. */
    const char *patient_name, *patient_id, *patient_birth_date, *study_date;
    int deidentified;          /* 1: (0012,0062) Patient Identity Removed YES, and its method */
    int resampled;             /* 1: slices were resampled in-plane (gantry tilt corrected) */
} lct_obj_source;

/** What is new about one written object. */
typedef struct lct_obj_output {
    const char *path;
    const char *series_instance_uid;
    const char *sop_instance_uid;
    int32_t series_number;
    const char *series_description;
    const char *software_version;   /* (0018,1020), lungct's version */
} lct_obj_output;

/** One segment of a binary Segmentation: the voxels of `labels` (slice_count × rows ×
 *  columns, slices outermost) that equal `value`. */
typedef struct lct_obj_segment {
    const char *label;                   /* (0062,0005) */
    lct_obj_code category;               /* (0062,0003), CID 7150 */
    lct_obj_code type;                   /* (0062,000F), CID 7151 */
    lct_obj_code type_modifier;          /* (0062,0011), CID 244; value "" for none */
    lct_obj_code algorithm_family;       /* (0066,002F), CID 7162 */
    const char *algorithm_name;          /* (0062,0009) and (0066,0036) */
    const char *algorithm_version;       /* (0066,0031) */
    const char *algorithm_parameters;    /* (0066,0032), "" for none */
    const uint8_t *labels;
    uint8_t value;
} lct_obj_segment;

/** Writes a BINARY Segmentation (PS3.3 A.51) of `segment_count` segments on the source
 *  grid; a frame per slice where a segment has voxels (one empty frame for an empty
 *  segment), each frame referencing its source images. The corresponding DCMTK calls are
 *  DcmSegmentation::createBinarySegmentation, addSegment, addFrame and saveFile. */
int lct_obj_write_segmentation(const lct_obj_source *source, const lct_obj_output *output,
                               const lct_obj_segment *segments, size_t segment_count,
                               char *message, size_t message_len);

/** Writes a float32 Parametric Map (PS3.3 A.75) of `values` (slice_count × rows × columns)
 *  with a Real World Value Mapping of unit `unit` over [first, last]. The corresponding
 *  DCMTK calls are DPMParametricMapIOD::create<IODFloatingPointImagePixelModule>,
 *  addForAllFrames, Frames<Float32>::addFrame and saveFile. */
int lct_obj_write_parametric_map(const lct_obj_source *source, const lct_obj_output *output,
                                 const float *values, lct_obj_code quantity, lct_obj_code unit,
                                 double first, double last, const char *label,
                                 const char *algorithm_name, const char *algorithm_version,
                                 char *message, size_t message_len);

/** One numeric measurement of a report group. */
typedef struct lct_obj_measurement {
    lct_obj_code concept;      /* the concept name, CID 7469 or a lungct code */
    lct_obj_code derivation;   /* (121401,DCM,"Derivation") modifier; value "" for none */
    lct_obj_code unit;         /* UCUM */
    double value;
} lct_obj_measurement;

/** A TID 1411 volumetric measurement group: the measurements of one segment of a
 *  Segmentation. */
typedef struct lct_obj_measurement_group {
    const char *tracking_id;
    const char *tracking_uid;
    lct_obj_code finding;       /* (121071,DCM,"Finding") */
    lct_obj_code finding_site;  /* (363698007,SCT,"Finding Site") */
    lct_obj_code laterality;    /* value "" for none */
    uint16_t segment_number;    /* in the referenced Segmentation */
    const lct_obj_measurement *measurements;
    size_t measurement_count;
} lct_obj_measurement_group;

/** The referenced Segmentation of a report. */
typedef struct lct_obj_segmentation_reference {
    const char *series_instance_uid;
    const char *sop_class_uid;
    const char *sop_instance_uid;
} lct_obj_segmentation_reference;

/** Writes a Enhanced SR (PS3.3 A.35.2; the SR class DCMTK chooses for the tree) holding a TID 1500 Measurement Report:
 *  one TID 1411 group per entry of `groups` (each referencing its segment of `segmentation`),
 *  then, when `study_measurement_count` > 0, a TID 1501 group with the study's measurements.
 *  The corresponding DCMTK calls are TID1500_MeasurementReport's and
 *  DSRDocument::setTreeFromRootTemplate, write. */
int lct_obj_write_measurement_report(const lct_obj_source *source, const lct_obj_output *output,
                                     lct_obj_segmentation_reference segmentation,
                                     const lct_obj_measurement_group *groups, size_t group_count,
                                     const char *study_tracking_id, const char *study_tracking_uid,
                                     const lct_obj_measurement *study_measurements,
                                     size_t study_measurement_count, const char *algorithm_name,
                                     const char *algorithm_version, char *message, size_t message_len);

/** Writes a Secondary Capture Image (PS3.3 A.8.1) of an 8-bit RGB picture (`rgb`:
 *  rows × columns × 3, rows outermost) in the source's study. Built from dcmdata elements
 *  (dcmiod has no Secondary Capture class). */
int lct_obj_write_secondary_capture(const lct_obj_source *source, const lct_obj_output *output,
                                    const uint8_t *rgb, uint16_t rows, uint16_t columns,
                                    char *message, size_t message_len);

/** Adds to the file at `path` each attribute of `keywords` (DICOM keywords, e.g.
 *  "PatientBirthDate") that it lacks, with the value at the same index of `values` (possibly
 *  empty: a Type 2 attribute), keeping its transfer syntax. For files written by a writer that
 *  leaves Type 2 attributes out. The corresponding DCMTK calls are DcmFileFormat::loadFile,
 *  DcmItem::putAndInsertString and DcmFileFormat::saveFile. */
int lct_obj_add_missing_attributes(const char *path, const char *const *keywords, const char *const *values,
                                   size_t count, char *message, size_t message_len);

/** A fresh UID under `root`. The corresponding DCMTK call is dcmGenerateUniqueIdentifier. */
void lct_obj_new_uid(const char *root, char *out, size_t out_len);

/** Reads a Segmentation back through DCMTK (DcmSegmentation::loadFile): its number of
 *  segments and frames, and for frame `frame` the count of set pixels and its referenced
 *  segment number. For tests and checks of what was written. */
int lct_obj_read_segmentation(const char *path, size_t frame, size_t *segments, size_t *frames,
                              size_t *set_pixels, uint16_t *segment_number, char *message,
                              size_t message_len);

#ifdef __cplusplus
}
#endif

#endif
