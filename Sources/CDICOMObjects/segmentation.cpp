// The binary Segmentation (PS3.3 A.51) through dcmseg: one segment per lct_obj_segment, a frame
// per slice where the segment has voxels, each frame placed by its Plane Position and derived
// from its source images (Derivation Image Sequence, with Source Image Sequence).
#include "objects.h"

#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <algorithm>
#include <memory>

namespace lctobj {
namespace {

DcmSegment *makeSegment(const lct_obj_segment &s) {
    DcmSegment *segment = nullptr;
    check(DcmSegment::create(segment, text(s.label), code(s.category), code(s.type), DcmSegTypes::SAT_AUTOMATIC,
                             text(s.algorithm_name)),
          std::string("segment ") + text(s.label));
    std::unique_ptr<DcmSegment> owned(segment);
    if (present(s.type_modifier)) {
        owned->getSegmentedPropertyTypeModifierCode().push_back(new CodeSequenceMacro(code(s.type_modifier)));
    }
    AlgorithmIdentificationMacro &algorithm = owned->getSegmentationAlgorithmIdentification();
    algorithm.getAlgorithmFamilyCode() = code(s.algorithm_family);
    check(algorithm.setAlgorithmName(text(s.algorithm_name)), "Algorithm Name");
    check(algorithm.setAlgorithmVersion(text(s.algorithm_version)), "Algorithm Version");
    if (s.algorithm_parameters != nullptr && s.algorithm_parameters[0] != '\0') {
        check(algorithm.setAlgorithmParameters(text(s.algorithm_parameters)), "Algorithm Parameters");
    }
    return owned.release();
}

/// The dimensions a viewer sorts frames by: segment, then position along the slice normal.
void addDimensions(DcmSegmentation &seg) {
    char uid[100];
    dcmGenerateUniqueIdentifier(uid);
    IODMultiframeDimensionModule &dimensions = seg.getDimensions();
    check(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, uid, DCM_SegmentIdentificationSequence,
                                       "Segment"),
          "the segment dimension");
    check(dimensions.addDimensionIndex(DCM_ImagePositionPatient, uid, DCM_PlanePositionSequence, "Position"),
          "the position dimension");
}

/// Adds slice `k` of segment `number` as a frame (`frame`: rows × columns of 0 and 1).
void addFrame(DcmSegmentation &seg, const lct_obj_source &source, std::vector<Uint8> &frame, Uint16 number, size_t k) {
    const double *p = source.positions + 3 * k;
    FGPlanePosPatient position;
    check(position.setImagePositionPatient(decimal(p[0]), decimal(p[1]), decimal(p[2])), "Image Position");
    FGFrameContent content;
    check(content.setDimensionIndexValues(number, 0), "Dimension Index Values");
    check(content.setDimensionIndexValues(Uint32(k + 1), 1), "Dimension Index Values");
    FGSegmentation segmentGroup;
    check(segmentGroup.setReferencedSegmentNumber(number), "Referenced Segment Number");
    OFVector<FGBase *> groups;
    groups.push_back(&position);
    groups.push_back(&content);
    groups.push_back(&segmentGroup);
    std::unique_ptr<FGDerivationImage> derived = derivationImage(source, k, "lungct segmentation on the source grid");
    if (derived) groups.push_back(derived.get());
    check(seg.addFrame(frame.data(), number, groups), "cannot add a frame");
}

/// Adds segment `number`'s frames: one per slice with voxels of it (an empty one for slice 0
/// when it has none, so that every segment has a frame).
void addFrames(DcmSegmentation &seg, const lct_obj_source &source, const lct_obj_segment &s, Uint16 number) {
    const size_t plane = size_t(source.rows) * source.columns;
    std::vector<Uint8> frame(plane);
    bool any = false;
    for (size_t k = 0; k < source.slice_count; ++k) {
        const uint8_t *labels = s.labels + k * plane;
        size_t count = 0;
        for (size_t i = 0; i < plane; ++i) {
            frame[i] = labels[i] == s.value ? 1 : 0;
            count += frame[i];
        }
        if (count == 0) continue;
        any = true;
        addFrame(seg, source, frame, number, k);
    }
    if (!any && source.slice_count > 0) {
        std::fill(frame.begin(), frame.end(), 0);
        addFrame(seg, source, frame, number, 0);
    }
}

}  // namespace
}  // namespace lctobj

using namespace lctobj;

extern "C" int lct_obj_write_segmentation(const lct_obj_source *source, const lct_obj_output *output,
                                          const lct_obj_segment *segments, size_t segment_count, char *message,
                                          size_t message_len) {
    return guarded(output->path, message, message_len, [&] {
        IODGeneralEquipmentModule::EquipmentInfo equipment("lungct", "lungct", "1", text(output->software_version));
        ContentIdentificationMacro content("1", "LUNGS", "lungct lung and lesion segmentation", "");
        DcmSegmentation *created = nullptr;
        check(DcmSegmentation::createBinarySegmentation(created, source->rows, source->columns, equipment, content),
              "cannot create the Segmentation");
        std::unique_ptr<DcmSegmentation> seg(created);
        check(seg->getFrameOfReference().setFrameOfReferenceUID(text(source->frame_of_reference_uid)),
              "Frame of Reference UID");
        check(seg->getSeries().setSeriesNumber(std::to_string(output->series_number).c_str()), "Series Number");
        check(seg->getSeries().setSeriesDescription(text(output->series_description)), "Series Description");
        check(seg->getStudy().setStudyInstanceUID(text(source->study_instance_uid)), "Study Instance UID");
        check(seg->getSeries().setSeriesInstanceUID(text(output->series_instance_uid)), "Series Instance UID");
        check(seg->getSOPCommon().setSOPInstanceUID(text(output->sop_instance_uid)), "SOP Instance UID");
        addGridGroups(*seg, *source);
        addDimensions(*seg);
        for (size_t index = 0; index < segment_count; ++index) {
            Uint16 number = 0;
            check(seg->addSegment(makeSegment(segments[index]), number), "cannot add a segment");
            addFrames(*seg, *source, segments[index], number);
        }
        addSourceReferences(seg->getCommonInstanceReference(), *source);
        DcmFileFormat file;
        check(seg->writeDataset(*file.getDataset()), "the Segmentation is incomplete");
        completeCommon(*file.getDataset(), *source, *output);
        markSpatialLocations(*file.getDataset(), *source);
        save(file, output->path);
    });
}

extern "C" int lct_obj_read_segmentation(const char *path, size_t frame, size_t *segments, size_t *frames,
                                         size_t *set_pixels, uint16_t *segment_number, char *message,
                                         size_t message_len) {
    return guarded(path, message, message_len, [&] {
        DcmSegmentation *loaded = nullptr;
        OFCondition status = DcmSegmentation::loadFile(path, loaded);
        std::unique_ptr<DcmSegmentation> seg(loaded);
        if (status.bad() || !seg) throw Failure(LCT_OBJ_READ_FAILED, std::string("cannot read: ") + status.text());
        *segments = seg->getNumberOfSegments();
        *frames = seg->getNumberOfFrames();
        const DcmIODTypes::Frame *data = seg->getFrame(frame);
        if (data == nullptr) throw Failure(LCT_OBJ_READ_FAILED, "no frame " + std::to_string(frame));
        // DCMTK keeps a binary Segmentation's frames packed, 8 pixels a byte (PS3.5 8.1.1).
        size_t count = 0;
        for (size_t i = 0; i < data->length; ++i) count += __builtin_popcount(data->pixData[i]);
        *set_pixels = count;
        OFBool perFrame = OFFalse;
        FGSegmentation *group =
            OFstatic_cast(FGSegmentation *, seg->getFunctionalGroups().get(frame, DcmFGTypes::EFG_SEGMENTATION, perFrame));
        Uint16 number = 0;
        if (group != nullptr) group->getReferencedSegmentNumber(number);
        *segment_number = number;
    });
}
