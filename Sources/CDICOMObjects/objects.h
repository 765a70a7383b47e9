// What the object writers share: the guard that stops C++ exceptions at the C boundary, the
// condition check, and the attributes every object takes from its source series.
#ifndef LCT_OBJECTS_INTERNAL_H
#define LCT_OBJECTS_INTERNAL_H

#include "cdicomobjects.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmiod/iodmacro.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmiod/modcommoninstanceref.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lctobj {

/// A failure inside a writer: a status and a message (the path is added by `guarded`).
struct Failure : std::runtime_error {
    int status;
    Failure(int status, const std::string &text) : std::runtime_error(text), status(status) {}
};

/// Throws a Failure carrying DCMTK's own text when `condition` is bad.
void check(const OFCondition &condition, const std::string &what);

/// A C string that may be null, as std::string.
inline std::string text(const char *value) { return value == nullptr ? std::string() : std::string(value); }

/// A decimal string (DS, at most 16 characters) for `value`.
std::string decimal(double value);

/// A CodeSequenceMacro from a C code.
CodeSequenceMacro code(const lct_obj_code &code);
inline bool present(const lct_obj_code &code) { return code.value != nullptr && code.value[0] != '\0'; }

/// The SOP Instance UIDs a slice was made from (its '\'-joined reference, split).
std::vector<std::string> sliceReferences(const lct_obj_source &source, size_t slice);

/// The Derivation Image group of slice `slice` (derivation (113076, DCM, "Segmentation"), each
/// source image for the purpose (121322, DCM, "Source image for image processing operation"),
/// PS3.16 CID 7203 and 7202), with `description`; nullptr when the slice references no image.
std::unique_ptr<FGDerivationImage> derivationImage(const lct_obj_source &source, size_t slice,
                                                   const char *description);

/// Adds the grid's shared functional groups, Pixel Measures and Plane Orientation (Patient), for
/// all frames of a multi-frame object (a Segmentation or a Parametric Map).
template <typename Object> void addGridGroups(Object &object, const lct_obj_source &source) {
    FGPixelMeasures measures;
    check(measures.setPixelSpacing((decimal(source.pixel_spacing[0]) + "\\" + decimal(source.pixel_spacing[1])).c_str()),
          "Pixel Spacing");
    check(measures.setSliceThickness(decimal(source.slice_spacing).c_str()), "Slice Thickness");
    check(measures.setSpacingBetweenSlices(decimal(source.slice_spacing).c_str()), "Spacing Between Slices");
    check(object.addForAllFrames(measures), "cannot add the Pixel Measures");
    const double *o = source.orientation;
    FGPlaneOrientationPatient orientation;
    check(orientation.setImageOrientationPatient(decimal(o[0]), decimal(o[1]), decimal(o[2]), decimal(o[3]),
                                                 decimal(o[4]), decimal(o[5])),
          "Image Orientation (Patient)");
    check(object.addForAllFrames(orientation), "cannot add the Plane Orientation");
}

/// Puts what every object carries beside its own content into `dataset`, after the object's
/// own writer ran: patient identity removal (0012,0062)/(0012,0063) when de-identified, the
/// Type 2 attributes of the Patient and General Study modules DCMTK leaves out when empty,
/// and the source's study, series and instance UIDs as given.
void completeCommon(DcmItem &dataset, const lct_obj_source &source, const lct_obj_output &output);

/// Adds every source image, as referenced by the slices, to a Common Instance Reference
/// module (PS3.3 C.12.2): the Referenced Series Sequence of the source series.
void addSourceReferences(IODCommonInstanceReferenceModule &module, const lct_obj_source &source);

/// Sets (0028,135A) Spatial Locations Preserved in every Source Image Sequence item of the
/// per-frame Derivation Image Sequences (dcmfg 3.6.7 has no setter for it): YES where a frame
/// copies its one source slice's grid, NO where it was interpolated or resampled.
void markSpatialLocations(DcmItem &dataset, const lct_obj_source &source);

/// Writes `file` (explicit VR little endian, with meta header).
void save(DcmFileFormat &file, const char *path);

/// Quiets DCMTK's logger once (lungct reports problems itself), unless LUNGCT_DCMTK_LOG is
/// set, which lets DCMTK's warnings through for debugging a writer.
void configureLogging();

/// Runs `body` and turns anything it throws into a status and a message naming `path`, so
/// no exception ever crosses into Swift.
template <typename Body> int guarded(const char *path, char *message, size_t len, Body body) {
    auto say = [&](const std::string &what) {
        if (message != nullptr && len > 0) std::snprintf(message, len, "%s: %s", text(path).c_str(), what.c_str());
    };
    try {
        configureLogging();
        body();
        return LCT_OBJ_OK;
    } catch (const Failure &failure) {
        say(failure.what());
        return failure.status;
    } catch (const std::bad_alloc &) {
        say("out of memory in DCMTK");
        return LCT_OBJ_INTERNAL;
    } catch (const std::exception &error) {
        say(std::string("DCMTK failed: ") + error.what());
        return LCT_OBJ_INTERNAL;
    } catch (...) {
        say("DCMTK failed with an unknown exception");
        return LCT_OBJ_INTERNAL;
    }
}

}  // namespace lctobj

#endif
