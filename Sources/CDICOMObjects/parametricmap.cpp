// The float32 Parametric Map (PS3.3 A.75) through dcmpmap: one frame per slice of the source
// grid, each placed by its Plane Position and derived from its source images, the values
// mapped to their quantity by a Real World Value Mapping.
#include "objects.h"

#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgframeanatomy.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgparametricmapframetype.h>
#include <dcmtk/dcmfg/fgpixeltransform.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgrealworldvaluemapping.h>
#include <dcmtk/dcmiod/iodcontentitemmacro.h>
#include <dcmtk/dcmpmap/dpmparametricmapiod.h>

#include <memory>

namespace lctobj {
namespace {

// Codes as PS3.16 gives them (checked against pydicom's tables generated from PS3.16):
// (39607008,SCT,"Lung"), the frames' anatomy (CID 4031);
const lct_obj_code lung = {"39607008", "SCT", "Lung"};
// (246205007,SCT,"Quantity"), the concept name of a Quantity Definition item (PS3.3 C.7.6.16.2.11.1.1);
const lct_obj_code quantityConcept = {"246205007", "SCT", "Quantity"};

void addSharedGroups(DPMParametricMapIOD &map, const lct_obj_source &source, lct_obj_code quantity,
                     lct_obj_code unit, double first, double last, const char *label) {
    addGridGroups(map, source);
    FGFrameAnatomy anatomy;
    check(anatomy.setLaterality(FGFrameAnatomy::LATERALITY_BOTH), "Frame Laterality");
    anatomy.getAnatomy().getAnatomicRegion() = code(lung);
    check(map.addForAllFrames(anatomy), "cannot add the Frame Anatomy");
    FGPixelValueTransformation identity;
    identity.setUseAsIdentityPixelValueTransformation();
    check(map.addForAllFrames(identity), "cannot add the Identity Pixel Value Transformation");
    FGParametricMapFrameType frameType;
    check(frameType.setFrameType("DERIVED\\PRIMARY\\VOLUME\\NONE"), "Frame Type");
    check(map.addForAllFrames(frameType), "cannot add the Parametric Map Frame Type");

    FGRealWorldValueMapping mapping;
    std::unique_ptr<FGRealWorldValueMapping::RWVMItem> item(new FGRealWorldValueMapping::RWVMItem());
    check(item->setDoubleFloatRealWorldValueFirstValueMapped(first), "Real World Value First Value Mapped");
    check(item->setDoubleFloatRealWorldValueLastValueMapped(last), "Real World Value Last Value Mapped");
    check(item->setRealWorldValueSlope(1.0), "Real World Value Slope");
    check(item->setRealWorldValueIntercept(0.0), "Real World Value Intercept");
    check(item->setLUTExplanation(text(quantity.meaning)), "LUT Explanation");
    check(item->setLUTLabel(text(label)), "LUT Label");
    item->getMeasurementUnitsCode() = code(unit);
    std::unique_ptr<ContentItemMacro> definition(new ContentItemMacro());
    check(definition->setValueType(ContentItemMacro::VT_CODE), "Quantity Definition value type");
    definition->getEntireConceptNameCodeSequence().push_back(new CodeSequenceMacro(code(quantityConcept)));
    definition->getEntireConceptCodeSequence().push_back(new CodeSequenceMacro(code(quantity)));
    item->getEntireQuantityDefinitionSequence().push_back(definition.release());
    mapping.getRealWorldValueMapping().push_back(item.release());
    check(map.addForAllFrames(mapping), "cannot add the Real World Value Mapping");
}

/// The per-frame groups of slice `k`: position, frame content and (when it has any) its
/// source images.
void addFrame(DPMParametricMapIOD::Frames<Float32> &frames, const lct_obj_source &source, const float *values,
              size_t k) {
    const size_t plane = size_t(source.rows) * source.columns;
    const double *p = source.positions + 3 * k;
    FGPlanePosPatient position;
    check(position.setImagePositionPatient(decimal(p[0]), decimal(p[1]), decimal(p[2])), "Image Position");
    FGFrameContent content;
    check(content.setDimensionIndexValues(Uint32(k + 1), 0), "Dimension Index Values");
    OFVector<FGBase *> groups;
    groups.push_back(&position);
    groups.push_back(&content);
    // CID 7203 has no closer derivation term for a network's per-voxel probability, which is a
    // probabilistic segmentation.
    std::unique_ptr<FGDerivationImage> derived =
        derivationImage(source, k, "lungct lesion network on the source grid");
    if (derived) groups.push_back(derived.get());
    // addFrame copies the frame (it takes a non-const pointer and only reads it).
    check(frames.addFrame(const_cast<Float32 *>(values + k * plane), plane, groups), "cannot add a frame");
}

}  // namespace
}  // namespace lctobj

using namespace lctobj;

extern "C" int lct_obj_write_parametric_map(const lct_obj_source *source, const lct_obj_output *output,
                                            const float *values, lct_obj_code quantity, lct_obj_code unit,
                                            double first, double last, const char *label,
                                            const char *algorithm_name, const char *algorithm_version,
                                            char *message, size_t message_len) {
    return guarded(output->path, message, message_len, [&] {
        // The map is built and written into `file` in a scope of its own, so that its frames
        // (a second copy of the values) are freed before the file is saved.
        DcmFileFormat file;
        {
            IODEnhGeneralEquipmentModule::EquipmentInfo equipment("lungct", "lungct", "1", text(output->software_version));
            ContentIdentificationMacro content("1", "PROBABILITY", text(algorithm_name) + " " + text(algorithm_version), "");
            OFvariant<OFCondition, DPMParametricMapIOD> created = DPMParametricMapIOD::create<IODFloatingPointImagePixelModule>(
                "CT", std::to_string(output->series_number), "1", source->rows, source->columns, equipment, content,
                "VOLUME", "NONE", DPMTypes::CQ_RESEARCH);
            if (OFCondition *failure = OFget<OFCondition>(&created)) check(*failure, "cannot create the Parametric Map");
            DPMParametricMapIOD *map = OFget<DPMParametricMapIOD>(&created);
            check(map->getFrameOfReference().setFrameOfReferenceUID(text(source->frame_of_reference_uid)),
                  "Frame of Reference UID");
            check(map->getStudy().setStudyInstanceUID(text(source->study_instance_uid)), "Study Instance UID");
            check(map->getSeries().setSeriesInstanceUID(text(output->series_instance_uid)), "Series Instance UID");
            check(map->getSeries().setSeriesDescription(text(output->series_description)), "Series Description");
            check(map->getSOPCommon().setSOPInstanceUID(text(output->sop_instance_uid)), "SOP Instance UID");
            OFString date, time;
            DcmDate::getCurrentDate(date);
            DcmTime::getCurrentTime(time);
            check(map->getIODGeneralImageModule().setContentDate(date), "Content Date");
            check(map->getIODGeneralImageModule().setContentTime(time), "Content Time");
            char uid[100];
            dcmGenerateUniqueIdentifier(uid);
            check(map->getIODMultiframeDimensionModule().addDimensionIndex(DCM_ImagePositionPatient, uid,
                                                                           DCM_PlanePositionSequence, "Position"),
                  "the position dimension");
            addSharedGroups(*map, *source, quantity, unit, first, last, label);
            DPMParametricMapIOD::FramesType framesType = map->getFrames();
            DPMParametricMapIOD::Frames<Float32> *frames = OFget<DPMParametricMapIOD::Frames<Float32>>(&framesType);
            if (frames == nullptr) throw Failure(LCT_OBJ_INTERNAL, "the Parametric Map holds no float32 frames");
            for (size_t k = 0; k < source->slice_count; ++k) addFrame(*frames, *source, values, k);
            addSourceReferences(map->getIODCommonInstanceReferenceModule(), *source);
            check(map->write(*file.getDataset()), "the Parametric Map is incomplete");
        }
        completeCommon(*file.getDataset(), *source, *output);
        markSpatialLocations(*file.getDataset(), *source);
        save(file, output->path);
    });
}
