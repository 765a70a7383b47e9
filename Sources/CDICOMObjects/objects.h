// What the object writers share: the guard that stops C++ exceptions at the C boundary, the
// condition check, and the attributes every object takes from its source series.
#ifndef LCT_OBJECTS_INTERNAL_H
#define LCT_OBJECTS_INTERNAL_H

#include "cdicomobjects.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmiod/iodmacro.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmiod/modcommoninstanceref.h>

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
