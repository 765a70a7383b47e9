// The parts every object writer shares (objects.h says what each is for).
#include "objects.h"

#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <mutex>

namespace lctobj {

void check(const OFCondition &condition, const std::string &what) {
    if (condition.bad()) throw Failure(LCT_OBJ_INVALID, what + ": " + condition.text());
}

std::string decimal(double value) {
    // DS holds at most 16 characters (PS3.5 6.2): try the most digits that fit.
    char buffer[64];
    for (int digits = 15; digits > 1; --digits) {
        std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
        if (std::strlen(buffer) <= 16) return buffer;
    }
    std::snprintf(buffer, sizeof buffer, "%.1e", value);
    return buffer;
}

CodeSequenceMacro code(const lct_obj_code &c) {
    return CodeSequenceMacro(text(c.value), text(c.scheme), text(c.meaning));
}

std::vector<std::string> sliceReferences(const lct_obj_source &source, size_t slice) {
    std::vector<std::string> result;
    if (source.slice_references == nullptr || slice >= source.slice_count) return result;
    std::string joined = text(source.slice_references[slice]);
    size_t start = 0;
    while (start <= joined.size()) {
        size_t end = joined.find('\\', start);
        if (end == std::string::npos) end = joined.size();
        if (end > start) result.push_back(joined.substr(start, end - start));
        start = end + 1;
    }
    return result;
}

std::unique_ptr<FGDerivationImage> derivationImage(const lct_obj_source &source, size_t slice,
                                                   const char *description) {
    static const lct_obj_code segmentation = {"113076", "DCM", "Segmentation"};
    static const lct_obj_code sourceForProcessing = {"121322", "DCM", "Source image for image processing operation"};
    OFVector<ImageSOPInstanceReferenceMacro> images;
    for (const std::string &uid : sliceReferences(source, slice)) {
        ImageSOPInstanceReferenceMacro reference;
        check(reference.setReferencedSOPClassUID(text(source.sop_class_uid)), "a source image's SOP Class UID");
        check(reference.setReferencedSOPInstanceUID(uid.c_str()), "a source image's SOP Instance UID");
        images.push_back(reference);
    }
    if (images.empty()) return nullptr;
    std::unique_ptr<FGDerivationImage> group(
        FGDerivationImage::createMinimal(images, description, code(segmentation), code(sourceForProcessing)));
    if (!group) throw Failure(LCT_OBJ_INVALID, "cannot make a Derivation Image item");
    return group;
}

namespace {
// Puts `value` unless the element is already there with a value; inserts it empty otherwise
// (a Type 2 attribute is present, possibly empty).
void putType2(DcmItem &dataset, const DcmTagKey &tag, const std::string &value) {
    OFString existing;
    if (dataset.findAndGetOFStringArray(tag, existing).good() && !existing.empty()) return;
    check(dataset.putAndInsertString(tag, value.c_str()), "cannot set " + DcmTag(tag).toString() + "");
}
}  // namespace

void completeCommon(DcmItem &dataset, const lct_obj_source &source, const lct_obj_output &output) {
    check(dataset.putAndInsertString(DCM_StudyInstanceUID, text(source.study_instance_uid).c_str()),
          "cannot set the Study Instance UID");
    check(dataset.putAndInsertString(DCM_SeriesInstanceUID, text(output.series_instance_uid).c_str()),
          "cannot set the Series Instance UID");
    check(dataset.putAndInsertString(DCM_SOPInstanceUID, text(output.sop_instance_uid).c_str()),
          "cannot set the SOP Instance UID");
    check(dataset.putAndInsertString(DCM_PatientName, text(source.patient_name).c_str()), "cannot set Patient's Name");
    check(dataset.putAndInsertString(DCM_PatientID, text(source.patient_id).c_str()), "cannot set Patient ID");
    check(dataset.putAndInsertString(DCM_PatientBirthDate, text(source.patient_birth_date).c_str()),
          "cannot set Patient's Birth Date");
    putType2(dataset, DCM_PatientSex, "");
    putType2(dataset, DCM_StudyDate, text(source.study_date));
    putType2(dataset, DCM_StudyTime, "");
    putType2(dataset, DCM_ReferringPhysicianName, "");
    putType2(dataset, DCM_StudyID, "");
    putType2(dataset, DCM_AccessionNumber, "");
    if (source.deidentified) {
        // PS3.15 E.1: the identity is removed, the UIDs kept so that the objects join the
        // source study in a PACS (the Retain UIDs Option, CID 7050 (113110,DCM)).
        check(dataset.putAndInsertString(DCM_PatientIdentityRemoved, "YES"), "cannot set Patient Identity Removed");
        check(dataset.putAndInsertString(
                  DCM_DeidentificationMethod,
                  "lungct: patient name, ID, birth date, study date removed"),
              "cannot set De-identification Method");
        DcmItem *item = nullptr;
        check(dataset.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, item, 0),
              "cannot add the De-identification Method Code Sequence");
        check(item->putAndInsertString(DCM_CodeValue, "113110"), "cannot set a code");
        check(item->putAndInsertString(DCM_CodingSchemeDesignator, "DCM"), "cannot set a code");
        check(item->putAndInsertString(DCM_CodeMeaning, "Retain UIDs Option"), "cannot set a code");
    }
}

void addSourceReferences(IODCommonInstanceReferenceModule &module, const lct_obj_source &source) {
    IODReferences references;
    for (size_t k = 0; k < source.slice_count; ++k) {
        for (const std::string &uid : sliceReferences(source, k)) {
            IODImageReference *reference = new IODImageReference(IODReference::LEVEL_INSTANCE);
            reference->m_StudyInstanceUID = text(source.study_instance_uid);
            reference->m_SeriesInstanceUID = text(source.series_instance_uid);
            reference->m_SOPClassUID = text(source.sop_class_uid);
            reference->m_SOPInstanceUID = uid;
            // `add` refuses a reference it already holds (a slice's neighbour, referenced twice).
            if (!references.add(reference)) delete reference;
        }
    }
    module.addReferences(references, text(source.study_instance_uid));
}

void markSpatialLocations(DcmItem &dataset, const lct_obj_source &source) {
    DcmSequenceOfItems *frames = nullptr;
    if (dataset.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).bad() || frames == nullptr) return;
    for (unsigned long f = 0; f < frames->card(); ++f) {
        DcmSequenceOfItems *derivations = nullptr;
        if (frames->getItem(f)->findAndGetSequence(DCM_DerivationImageSequence, derivations).bad()) continue;
        for (unsigned long d = 0; derivations != nullptr && d < derivations->card(); ++d) {
            DcmSequenceOfItems *images = nullptr;
            if (derivations->getItem(d)->findAndGetSequence(DCM_SourceImageSequence, images).bad()) continue;
            const bool preserved = images != nullptr && images->card() == 1 && !source.resampled;
            for (unsigned long i = 0; images != nullptr && i < images->card(); ++i) {
                check(images->getItem(i)->putAndInsertString(DCM_SpatialLocationsPreserved, preserved ? "YES" : "NO"),
                      "cannot set Spatial Locations Preserved");
            }
        }
    }
}

void save(DcmFileFormat &file, const char *path) {
    OFCondition status = file.saveFile(path, EXS_LittleEndianExplicit);
    if (status.bad()) throw Failure(LCT_OBJ_WRITE_FAILED, std::string("cannot write: ") + status.text());
}

namespace {
std::once_flag loggingOnce;
}

void configureLogging() {
    std::call_once(loggingOnce, [] {
        const bool verbose = std::getenv("LUNGCT_DCMTK_LOG") != nullptr;
        OFLog::configure(verbose ? OFLogger::WARN_LOG_LEVEL : OFLogger::FATAL_LOG_LEVEL);
    });
}

}  // namespace lctobj

extern "C" void lct_obj_new_uid(const char *root, char *out, size_t out_len) {
    if (out == nullptr || out_len == 0) return;
    char buffer[100];
    dcmGenerateUniqueIdentifier(buffer, root);
    std::snprintf(out, out_len, "%s", buffer);
}
