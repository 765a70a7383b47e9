// The Secondary Capture Image (PS3.3 A.8.1) of overview.png, built from dcmdata elements:
// dcmiod has no Secondary Capture class. Modules: Patient, General Study, General Series,
// General Equipment, SC Equipment, General Image, Image Pixel, SC Image, SOP Common, and
// Common Instance Reference (the source series, as the Segmentation and the map reference it).
#include "objects.h"

#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmiod/modcommoninstanceref.h>

#include <set>

using namespace lctobj;

namespace {
void put(DcmItem &dataset, const DcmTagKey &tag, const std::string &value) {
    check(dataset.putAndInsertString(tag, value.c_str()), std::string("cannot set ") + DcmTag(tag).getTagName());
}
void put16(DcmItem &dataset, const DcmTagKey &tag, Uint16 value) {
    check(dataset.putAndInsertUint16(tag, value), std::string("cannot set ") + DcmTag(tag).getTagName());
}
}  // namespace

extern "C" int lct_obj_write_secondary_capture(const lct_obj_source *source, const lct_obj_output *output,
                                               const uint8_t *rgb, uint16_t rows, uint16_t columns, char *message,
                                               size_t message_len) {
    return guarded(output->path, message, message_len, [&] {
        DcmFileFormat file;
        DcmDataset &d = *file.getDataset();
        put(d, DCM_SpecificCharacterSet, "ISO_IR 192");
        put(d, DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
        put(d, DCM_ImageType, "DERIVED\\SECONDARY");
        put(d, DCM_Modality, "OT");
        put(d, DCM_SeriesNumber, std::to_string(output->series_number));
        put(d, DCM_InstanceNumber, "1");
        put(d, DCM_SeriesDescription, text(output->series_description));
        put(d, DCM_Manufacturer, "lungct");
        put(d, DCM_SoftwareVersions, text(output->software_version));
        // (0008,0064) Conversion Type WSD: a workstation made the picture (PS3.3 C.8.6.1).
        put(d, DCM_ConversionType, "WSD");
        put(d, DCM_SecondaryCaptureDeviceManufacturer, "lungct");
        put(d, DCM_SecondaryCaptureDeviceManufacturerModelName, "lungct");
        put(d, DCM_SecondaryCaptureDeviceSoftwareVersions, text(output->software_version));
        put(d, DCM_PatientOrientation, "");
        // (0018,0015) Body Part Examined: a chest is no paired body part, so (0020,0060)
        // Laterality (Type 2C in General Series) is absent.
        put(d, DCM_BodyPartExamined, "CHEST");
        put(d, DCM_BurnedInAnnotation, "NO");
        put(d, DCM_LossyImageCompression, "00");
        put16(d, DCM_SamplesPerPixel, 3);
        put(d, DCM_PhotometricInterpretation, "RGB");
        put16(d, DCM_PlanarConfiguration, 0);
        put16(d, DCM_Rows, rows);
        put16(d, DCM_Columns, columns);
        put16(d, DCM_BitsAllocated, 8);
        put16(d, DCM_BitsStored, 8);
        put16(d, DCM_HighBit, 7);
        put16(d, DCM_PixelRepresentation, 0);
        OFString date, time;
        DcmDate::getCurrentDate(date);
        DcmTime::getCurrentTime(time);
        put(d, DCM_ContentDate, date);
        put(d, DCM_ContentTime, time);
        put(d, DCM_InstanceCreationDate, date);
        put(d, DCM_InstanceCreationTime, time);
        const size_t bytes = size_t(rows) * columns * 3;
        check(d.putAndInsertUint8Array(DCM_PixelData, rgb, OFstatic_cast(unsigned long, bytes)), "cannot set the pixels");
        completeCommon(d, *source, *output);
        // The overview is drawn from the source slices: each is a Source Image (General Image),
        // which the Common Instance Reference Module then lists by series.
        unsigned long item = 0;
        std::set<std::string> listed;  // a slice next to an interpolated one is listed once
        for (size_t k = 0; k < source->slice_count; ++k) {
            for (const std::string &uid : sliceReferences(*source, k)) {
                if (!listed.insert(uid).second) continue;
                DcmItem *image = nullptr;
                check(d.findOrCreateSequenceItem(DCM_SourceImageSequence, image, OFstatic_cast(long, item++)),
                      "cannot add a Source Image");
                put(*image, DCM_ReferencedSOPClassUID, text(source->sop_class_uid));
                put(*image, DCM_ReferencedSOPInstanceUID, uid);
            }
        }
        IODCommonInstanceReferenceModule references;
        addSourceReferences(references, *source);
        check(references.write(d), "cannot write the Common Instance Reference Module");
        save(file, output->path);
    });
}
