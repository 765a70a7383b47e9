// A multi-frame object's functional groups through DCMTK's dcmfg, private to this target
// (cdcmtk.cpp calls it).
#pragma once

#include "cdcmtk.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cstddef>
#include <string>

namespace lct {

// Fills `out` (frame_count entries) with each frame's Plane Position, Plane Orientation, Pixel
// Measures and Pixel Value Transformation values, per-frame where the frame has its own group,
// else shared (PS3.3 C.7.6.16). Returns an empty string, or why the groups do not describe
// `frame_count` frames.
std::string readFrameValues(DcmDataset &dataset, lct_frame_values *out, size_t frame_count);

} // namespace lct
