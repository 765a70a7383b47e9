// The measurement report: a Enhanced SR (PS3.3 A.35.2; the SR class DCMTK chooses for the tree) whose tree is DCMTK's TID 1500
// Measurement Report (dcmsr/cmr): an image library of the source slices, one TID 1411
// volumetric group per measured segment (each referencing its segment of the Segmentation),
// and a TID 1501 group for the study's own measurements.
#include "objects.h"

#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/dsrdoc.h>

namespace lctobj {
namespace {

typedef TID1500_MeasurementReport::TID1411_Measurements VolumetricGroup;
typedef TID1500_MeasurementReport::TID1501_Measurements StudyGroup;

DSRCodedEntryValue coded(const lct_obj_code &c) {
    return DSRCodedEntryValue(text(c.value), text(c.scheme), text(c.meaning));
}

/// A measurement's value: its number as a DS and its UCUM unit.
CMR_SRNumericMeasurementValueWithUnits<CID7181_AbstractMultiDimensionalImageModelComponentUnits>
numeric(const lct_obj_measurement &m) {
    return CMR_SRNumericMeasurementValueWithUnits<CID7181_AbstractMultiDimensionalImageModelComponentUnits>(
        decimal(m.value), CID7181_AbstractMultiDimensionalImageModelComponentUnits(coded(m.unit)), OFFalse);
}

/// The image library: one entry per source image (SOP class and instance, modality).
void addImageLibrary(TID1500_MeasurementReport &report, const lct_obj_source &source) {
    TID1600_ImageLibrary &library = report.getImageLibrary();
    if (!library.hasImageLibrary()) check(library.createNewImageLibrary(), "cannot create the image library");
    check(library.addImageGroup(), "cannot add an image library group");
    for (size_t k = 0; k < source.slice_count; ++k) {
        for (const std::string &uid : sliceReferences(source, k)) {
            DcmItem image;
            check(image.putAndInsertString(DCM_SOPClassUID, text(source.sop_class_uid).c_str()), "an image's SOP Class");
            check(image.putAndInsertString(DCM_SOPInstanceUID, uid.c_str()), "an image's SOP Instance UID");
            check(image.putAndInsertString(DCM_Modality, "CT"), "an image's modality");
            OFCondition added = library.addImageEntry(image, TID1600_ImageLibrary::withoutDescriptors);
            if (k > 0 && added == CMR_EC_NoImageLibraryEntryDescriptorsToBeAdded) continue;
            check(added, "cannot add an image library entry");
        }
    }
}

void addGroup(TID1500_MeasurementReport &report, const lct_obj_source &source,
              lct_obj_segmentation_reference segmentation, const lct_obj_measurement_group &g,
              const char *algorithm_name, const char *algorithm_version) {
    check(report.addVolumetricROIMeasurements(OFFalse), "cannot add a measurement group");
    VolumetricGroup &group = report.getVolumetricROIMeasurements();
    check(group.setTrackingIdentifier(text(g.tracking_id)), "Tracking Identifier");
    check(group.setTrackingUniqueIdentifier(text(g.tracking_uid)), "Tracking Unique Identifier");
    check(group.setFinding(coded(g.finding)), "Finding");
    DSRImageReferenceValue segment(text(segmentation.sop_class_uid), text(segmentation.sop_instance_uid));
    segment.getSegmentList().addItem(g.segment_number);
    check(group.setReferencedSegment(segment), "Referenced Segment");
    check(group.setSourceSeriesForSegmentation(text(source.series_instance_uid)), "Source series for segmentation");
    CID244e_Laterality laterality = present(g.laterality) ? CID244e_Laterality(coded(g.laterality)) : CID244e_Laterality();
    check(group.addFindingSite(coded(g.finding_site), laterality), "Finding Site");
    for (size_t i = 0; i < g.measurement_count; ++i) {
        const lct_obj_measurement &m = g.measurements[i];
        check(group.addMeasurement(CID7469_GenericIntensityAndSizeMeasurements(coded(m.concept)), numeric(m), OFFalse,
                                   OFFalse),
              std::string("measurement ") + text(m.concept.meaning));
        VolumetricGroup::TID1419_Measurement &measurement = group.getMeasurement();
        if (present(m.derivation)) {
            check(measurement.setDerivation(CID7464_GeneralRegionOfInterestMeasurementModifiers(coded(m.derivation)),
                                            OFFalse),
                  "Derivation");
        }
        check(measurement.setAlgorithmIdentification(text(algorithm_name), text(algorithm_version)),
              "Algorithm Identification");
    }
}

void addStudyGroup(TID1500_MeasurementReport &report, const char *tracking_id, const char *tracking_uid,
                   const lct_obj_measurement *measurements, size_t count) {
    check(report.addIndividualMeasurements(OFFalse), "cannot add the study measurement group");
    StudyGroup &group = report.getIndividualMeasurements();
    check(group.setTrackingIdentifier(text(tracking_id)), "Tracking Identifier");
    check(group.setTrackingUniqueIdentifier(text(tracking_uid)), "Tracking Unique Identifier");
    for (size_t i = 0; i < count; ++i) {
        const lct_obj_measurement &m = measurements[i];
        check(group.addMeasurement(CID7469_GenericIntensityAndSizeMeasurements(coded(m.concept)), numeric(m), OFFalse,
                                   OFFalse),
              std::string("measurement ") + text(m.concept.meaning));
    }
}

}  // namespace
}  // namespace lctobj

using namespace lctobj;

extern "C" int lct_obj_write_measurement_report(const lct_obj_source *source, const lct_obj_output *output,
                                                lct_obj_segmentation_reference segmentation,
                                                const lct_obj_measurement_group *groups, size_t group_count,
                                                const char *study_tracking_id, const char *study_tracking_uid,
                                                const lct_obj_measurement *study_measurements,
                                                size_t study_measurement_count, const char *algorithm_name,
                                                const char *algorithm_version, char *message, size_t message_len) {
    return guarded(output->path, message, message_len, [&] {
        TID1500_MeasurementReport report;
        check(report.createNewMeasurementReport(CMR_CID7021::ImagingMeasurementReport),
              "cannot create the measurement report");
        check(report.getObservationContext().addDeviceObserver(text(output->sop_instance_uid), "lungct", "lungct",
                                                               "lungct"),
              "Device Observer");
        check(report.addProcedureReported(CMR_CID100::CTUnspecifiedBodyRegion), "Procedure Reported");
        addImageLibrary(report, *source);
        for (size_t i = 0; i < group_count; ++i) {
            addGroup(report, *source, segmentation, groups[i], algorithm_name, algorithm_version);
        }
        if (study_measurement_count > 0) {
            addStudyGroup(report, study_tracking_id, study_tracking_uid, study_measurements, study_measurement_count);
        }
        DSRDocument document;
        check(document.setTreeFromRootTemplate(report), "the measurement report is incomplete");
        check(document.createNewSeriesInStudy(text(source->study_instance_uid)), "Study Instance UID");
        check(document.setSeriesDescription(text(output->series_description)), "Series Description");
        check(document.setSeriesNumber(std::to_string(output->series_number)), "Series Number");
        check(document.setInstanceNumber("1"), "Instance Number");
        check(document.setManufacturer("lungct"), "Manufacturer");
        check(document.setManufacturerModelName("lungct"), "Manufacturer's Model Name");
        check(document.setDeviceSerialNumber("1"), "Device Serial Number");
        check(document.setSoftwareVersions(text(output->software_version)), "Software Versions");
        // The evidence (PS3.3 C.17.2.1): every instance the report references, the source images
        // and the Segmentation.
        DSRSOPInstanceReferenceList &evidence = document.getCurrentRequestedProcedureEvidence();
        for (size_t k = 0; k < source->slice_count; ++k) {
            for (const std::string &uid : sliceReferences(*source, k)) {
                check(evidence.addItem(text(source->study_instance_uid), text(source->series_instance_uid),
                                       text(source->sop_class_uid), uid),
                      "a source image's evidence");
            }
        }
        check(evidence.addItem(text(source->study_instance_uid), text(segmentation.series_instance_uid),
                               text(segmentation.sop_class_uid), text(segmentation.sop_instance_uid)),
              "the Segmentation's evidence");
        DcmFileFormat file;
        check(document.write(*file.getDataset()), "cannot write the measurement report");
        completeCommon(*file.getDataset(), *source, *output);
        save(file, output->path);
    });
}
