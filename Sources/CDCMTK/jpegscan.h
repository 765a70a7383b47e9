// A guard for a DCMTK 3.6.7 defect, private to this target (cdcmtk.cpp calls it).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cstddef>

namespace lct {

// Whether DCMTK's JPEG decoder would loop forever on `ds`'s pixel data. Before decoding a JPEG
// transfer syntax (1.2.840.10008.1.2.4.50 to .70), DJCodecDecoder::scanJpegDataForBitDepth
// walks the markers of the first fragment to find the frame header, and its case for the TEM
// marker (FF01) does not move on: a stream whose walk reaches FF01 hangs `lungct info` and
// `analyze` (found by the dicom fuzz target; djcodecd.cc in DCMTK 3.6.7, Debian 12's version).
// This is the same walk, over every fragment, stopping where DCMTK's stops. It can go when
// lungct requires a DCMTK whose walk skips FF01.
bool jpegBitDepthScanLoops(DcmDataset *ds);

} // namespace lct
