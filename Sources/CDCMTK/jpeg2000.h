// JPEG 2000 decoding through OpenJPEG, private to this target (cdcmtk.cpp calls it).
//
// DCMTK's free modules ship no JPEG 2000 codec (its own is commercial), so the frames of
// 1.2.840.10008.1.2.4.90 (lossless only) and .91 (lossless or lossy) are decoded here: cdcmtk.cpp
// gathers one frame's fragments (PS3.5 A.4) into a codestream and OpenJPEG decodes it. It lives in
// this shim because it is the pixel decoding of DICOM: the header it is checked against, the
// fragments and the errors all come from DCMTK.
#pragma once

#include "cdcmtk.h"

#include <cstddef>
#include <cstdint>

namespace lct {

// Decodes one JPEG 2000 codestream (a raw J2K codestream, or a JP2 file, which some writers put
// in the fragments) into `dst`: the frame as DICOM stores it uncompressed, samples interleaved,
// each in bits_allocated / 8 bytes. Before OpenJPEG allocates anything for the image, the
// codestream's size (SIZ marker) must equal (0028,0010) Rows and (0028,0011) Columns, its
// component count (0028,0002) Samples per Pixel, with no subsampling, and its precision must fit
// (0028,0100) Bits Allocated. Decoding is strict: a truncated codestream is an error, not a
// partly grey image. On success `header`'s bits_stored and pixel_representation become the
// codestream's precision and signedness (what the samples are), and a colour image transformed
// by the codestream (YBR_ICT, YBR_RCT) becomes RGB. `what` names the file and frame in messages.
int decodeJpeg2000(const uint8_t *data, size_t size, const char *what, lct_dicom_header *header, void *dst,
                   size_t dst_bytes, char *message, size_t message_len);

// Whether `xfer` (a transfer syntax UID) is one of the JPEG 2000 Image Compression syntaxes
// decoded here: 1.2.840.10008.1.2.4.90 and .91 (PS3.5 A.4.4).
bool isJpeg2000(const char *xfer);

} // namespace lct
