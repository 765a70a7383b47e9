// The dcmfg side of framegroups.h. FGInterface reads both functional group sequences and answers,
// per frame and group type, with the per-frame group or else the shared one; nothing here walks
// the sequences itself.
#include "framegroups.h"

#include <dcmtk/dcmfg/fginterface.h>
#include <dcmtk/dcmfg/fgpixeltransform.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>

#include <cstdlib>
#include <cstring>

namespace lct {
namespace {

// A DS value as a double; false when it is empty or not a number at all.
bool parseDecimal(const OFString &text, double *value) {
    if (text.empty()) return false;
    char *end = nullptr;
    *value = std::strtod(text.c_str(), &end);
    return end != text.c_str();
}

void readOneFrame(FGInterface &groups, Uint32 frame, lct_frame_values *out) {
    std::memset(out, 0, sizeof *out);
    if (auto *position = OFstatic_cast(FGPlanePosPatient *, groups.get(frame, DcmFGTypes::EFG_PLANEPOSPATIENT))) {
        double *p = out->image_position;
        out->has_image_position = position->getImagePositionPatient(p[0], p[1], p[2]).good();
    }
    if (auto *orientation = OFstatic_cast(FGPlaneOrientationPatient *, groups.get(frame, DcmFGTypes::EFG_PLANEORIENTPATIENT))) {
        double *o = out->image_orientation;
        out->has_image_orientation = orientation->getImageOrientationPatient(o[0], o[1], o[2], o[3], o[4], o[5]).good();
    }
    if (auto *measures = OFstatic_cast(FGPixelMeasures *, groups.get(frame, DcmFGTypes::EFG_PIXELMEASURES))) {
        out->has_pixel_spacing = measures->getPixelSpacing(out->pixel_spacing[0], 0).good() &&
                                 measures->getPixelSpacing(out->pixel_spacing[1], 1).good();
        out->has_slice_thickness = measures->getSliceThickness(out->slice_thickness, 0).good();
    }
    if (auto *transform = OFstatic_cast(FGPixelValueTransformation *, groups.get(frame, DcmFGTypes::EFG_PIXELVALUETRANSMETA))) {
        OFString slope, intercept;
        out->has_rescale_slope = transform->getRescaleSlope(slope).good() && parseDecimal(slope, &out->rescale_slope);
        out->has_rescale_intercept =
            transform->getRescaleIntercept(intercept).good() && parseDecimal(intercept, &out->rescale_intercept);
    }
}

}  // namespace

std::string readFrameValues(DcmDataset &dataset, lct_frame_values *out, size_t frame_count) {
    DcmSequenceOfItems *perFrame = nullptr;
    if (dataset.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame).bad() || perFrame == nullptr) {
        return "no (5200,9230) Per-Frame Functional Groups Sequence";
    }
    // Counted before FGInterface reads anything: a sequence that disagrees with (0028,0008) Number
    // of Frames says the header is corrupt, whichever of the two is wrong.
    if (perFrame->card() != frame_count) {
        return "(5200,9230) Per-Frame Functional Groups Sequence holds " + std::to_string(perFrame->card()) +
               " items but (0028,0008) Number of Frames is " + std::to_string(frame_count);
    }
    FGInterface groups;
    OFCondition status = groups.read(dataset);
    if (status.bad()) return std::string("its functional groups cannot be read: ") + status.text();
    // FGInterface skips a per-frame item it cannot read, so count again what it kept.
    if (groups.getNumberOfFrames() != frame_count) {
        return "only " + std::to_string(groups.getNumberOfFrames()) + " of " + std::to_string(frame_count) +
               " items of (5200,9230) Per-Frame Functional Groups Sequence could be read";
    }
    for (size_t frame = 0; frame < frame_count; ++frame) {
        readOneFrame(groups, static_cast<Uint32>(frame), &out[frame]);
    }
    return "";
}

}  // namespace lct
