// The DCMTK side of cdcmtk.h. Nothing here decides anything about series or HU: it reads
// attributes, decodes pixels and writes files, and reports every failure as a status code
// with a message that names the file.
#include "cdcmtk.h"
#include "framegroups.h"
#include "jpeg2000.h"
#include "jpegscan.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcistrmf.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmfg/fgfact.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstring>
#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <sys/stat.h>

namespace {

// DCMTK's codec registry is global; registration must happen once, before any thread
// decodes. std::call_once makes the first caller do it.
std::once_flag codecsOnce;

void registerCodecs() {
    std::call_once(codecsOnce, [] {
        // DCMTK logs warnings for many harmless quirks of real files on stderr; lungct
        // reports problems itself, so only fatal library messages are let through.
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
        DcmRLEEncoderRegistration::registerCodecs();
        // dcmfg's factory is a singleton created on first use without a lock (fgfact.cc in
        // DCMTK 3.6.7); the header scan reads functional groups on every core, so create it here.
        FGFactory::instance();
    });
}

void setMessage(char *message, size_t len, const std::string &text) {
    if (message == nullptr || len == 0) return;
    std::snprintf(message, len, "%s", text.c_str());
}

// The one place where C++ exceptions stop: runs `body` and turns anything it throws into a
// status and a message naming the file, so no exception ever crosses into Swift.
template <typename Body>
int guarded(const char *path, char *message, size_t len, Body body) {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        setMessage(message, len, std::string(path) + ": out of memory in DCMTK");
    } catch (const std::exception &error) {
        setMessage(message, len, std::string(path) + ": " + error.what());
    } catch (...) {
        setMessage(message, len, std::string(path) + ": unknown C++ exception in DCMTK");
    }
    return LCT_DCM_INTERNAL;
}

void copyString(DcmItem *item, const DcmTagKey &key, char *dst, size_t len, bool allValues) {
    dst[0] = '\0';
    OFString value;
    OFCondition status = allValues ? item->findAndGetOFStringArray(key, value)
                                   : item->findAndGetOFString(key, value);
    if (status.good()) {
        std::snprintf(dst, len, "%s", value.c_str());
    }
}

int getInt(DcmItem *item, const DcmTagKey &key, int32_t *dst) {
    Sint32 value = 0;
    if (item->findAndGetSint32(key, value).good()) {
        *dst = value;
        return 1;
    }
    OFString text;
    if (item->findAndGetOFString(key, text).good() && !text.empty()) {
        char *end = nullptr;
        long parsed = std::strtol(text.c_str(), &end, 10);
        if (end != text.c_str()) {
            *dst = static_cast<int32_t>(parsed);
            return 1;
        }
    }
    return 0;
}

int getDoubles(DcmItem *item, const DcmTagKey &key, double *dst, unsigned long count) {
    for (unsigned long i = 0; i < count; ++i) {
        Float64 value = 0;
        if (item->findAndGetFloat64(key, value, i).bad()) return 0;
        dst[i] = value;
    }
    return 1;
}

// (0028,0120) Pixel Padding Value is US or SS depending on (0028,0103) Pixel Representation
// (PS3.3 C.7.5.1.1.2); in implicit VR files DCMTK's dictionary says "xs", so read both ways.
int getPadding(DcmItem *item, const DcmTagKey &key, bool isSigned, int32_t *dst) {
    DcmElement *element = nullptr;
    if (item->findAndGetElement(key, element).bad() || element == nullptr || element->getLength() < 2) return 0;
    Uint16 raw = 0;
    if (element->getUint16(raw).good()) {
        *dst = isSigned ? static_cast<int32_t>(static_cast<Sint16>(raw)) : static_cast<int32_t>(raw);
        return 1;
    }
    Sint16 signedRaw = 0;
    if (element->getSint16(signedRaw).good()) {
        *dst = isSigned ? static_cast<int32_t>(signedRaw) : static_cast<int32_t>(static_cast<Uint16>(signedRaw));
        return 1;
    }
    return 0;
}

// The fragments of encapsulated pixel data as read from the file (item 0 is the Basic Offset
// Table), or null when the pixel data is native.
DcmPixelSequence *encapsulatedFragments(DcmDataset *ds, DcmElement *pixels) {
    if (!DcmXfer(ds->getOriginalXfer()).isEncapsulated() || pixels->ident() != EVR_PixelData) return nullptr;
    DcmPixelSequence *sequence = nullptr;
    if (OFstatic_cast(DcmPixelData *, pixels)->getEncapsulatedRepresentation(ds->getOriginalXfer(), nullptr, sequence).bad()) {
        return nullptr;
    }
    return sequence;
}

void fillHeader(DcmFileFormat &file, lct_dicom_header *out) {
    std::memset(out, 0, sizeof(*out));
    DcmDataset *ds = file.getDataset();
    DcmMetaInfo *meta = file.getMetaInfo();

    copyString(ds, DCM_SOPClassUID, out->sop_class_uid, sizeof out->sop_class_uid, false);
    copyString(ds, DCM_SOPInstanceUID, out->sop_instance_uid, sizeof out->sop_instance_uid, false);
    copyString(ds, DCM_StudyInstanceUID, out->study_instance_uid, sizeof out->study_instance_uid, false);
    copyString(ds, DCM_SeriesInstanceUID, out->series_instance_uid, sizeof out->series_instance_uid, false);
    copyString(ds, DCM_FrameOfReferenceUID, out->frame_of_reference_uid, sizeof out->frame_of_reference_uid, false);
    copyString(ds, DCM_Modality, out->modality, sizeof out->modality, false);
    copyString(ds, DCM_ImageType, out->image_type, sizeof out->image_type, true);
    copyString(ds, DCM_SeriesDescription, out->series_description, sizeof out->series_description, false);
    copyString(ds, DCM_ConvolutionKernel, out->convolution_kernel, sizeof out->convolution_kernel, true);
    copyString(ds, DCM_Manufacturer, out->manufacturer, sizeof out->manufacturer, false);
    copyString(ds, DCM_PhotometricInterpretation, out->photometric, sizeof out->photometric, false);
    copyString(ds, DCM_BodyPartExamined, out->body_part, sizeof out->body_part, false);
    copyString(ds, DCM_ViewPosition, out->view_position, sizeof out->view_position, false);
    copyString(ds, DCM_PatientPosition, out->patient_position, sizeof out->patient_position, false);
    copyString(ds, DCM_LossyImageCompression, out->lossy_compression, sizeof out->lossy_compression, false);
    copyString(ds, DCM_BurnedInAnnotation, out->burned_in_annotation, sizeof out->burned_in_annotation, false);
    copyString(ds, DCM_PatientName, out->patient_name, sizeof out->patient_name, false);
    copyString(ds, DCM_PatientID, out->patient_id, sizeof out->patient_id, false);
    copyString(ds, DCM_StudyDate, out->study_date, sizeof out->study_date, false);
    copyString(ds, DCM_PatientBirthDate, out->patient_birth_date, sizeof out->patient_birth_date, false);

    if (meta != nullptr) {
        copyString(meta, DCM_MediaStorageSOPClassUID, out->media_storage_sop_class_uid,
                   sizeof out->media_storage_sop_class_uid, false);
        copyString(meta, DCM_TransferSyntaxUID, out->transfer_syntax_uid, sizeof out->transfer_syntax_uid, false);
    }
    if (out->transfer_syntax_uid[0] == '\0') {
        // A raw data set without meta header: report the syntax DCMTK detected.
        DcmXfer xfer(ds->getOriginalXfer());
        std::snprintf(out->transfer_syntax_uid, sizeof out->transfer_syntax_uid, "%s", xfer.getXferID());
    }

    out->has_series_number = getInt(ds, DCM_SeriesNumber, &out->series_number);
    out->has_instance_number = getInt(ds, DCM_InstanceNumber, &out->instance_number);
    out->has_acquisition_number = getInt(ds, DCM_AcquisitionNumber, &out->acquisition_number);
    out->has_temporal_position = getInt(ds, DCM_TemporalPositionIdentifier, &out->temporal_position);

    ds->findAndGetUint16(DCM_Rows, out->rows);
    ds->findAndGetUint16(DCM_Columns, out->columns);
    ds->findAndGetUint16(DCM_BitsAllocated, out->bits_allocated);
    ds->findAndGetUint16(DCM_BitsStored, out->bits_stored);
    ds->findAndGetUint16(DCM_HighBit, out->high_bit);
    ds->findAndGetUint16(DCM_PixelRepresentation, out->pixel_representation);
    if (ds->findAndGetUint16(DCM_SamplesPerPixel, out->samples_per_pixel).bad()) out->samples_per_pixel = 1;
    ds->findAndGetUint16(DCM_PlanarConfiguration, out->planar_configuration);
    out->has_number_of_frames = getInt(ds, DCM_NumberOfFrames, &out->number_of_frames);
    if (!out->has_number_of_frames) out->number_of_frames = 1;
    out->has_functional_groups =
        ds->tagExists(DCM_SharedFunctionalGroupsSequence) || ds->tagExists(DCM_PerFrameFunctionalGroupsSequence);
    out->has_pixel_data = ds->tagExists(DCM_PixelData) ? 1 : 0;
    DcmElement *pixels = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, pixels).good() && pixels != nullptr) {
        // A lazily loaded value still knows its length; encapsulated data has undefined length.
        out->pixel_data_length = pixels->getLengthField();
        DcmPixelSequence *fragments = encapsulatedFragments(ds, pixels);
        if (fragments != nullptr && fragments->card() > 0) out->fragment_count = fragments->card() - 1;
    }

    out->has_pixel_spacing = getDoubles(ds, DCM_PixelSpacing, out->pixel_spacing, 2);
    out->has_imager_pixel_spacing = getDoubles(ds, DCM_ImagerPixelSpacing, out->imager_pixel_spacing, 2);
    out->has_slice_thickness = getDoubles(ds, DCM_SliceThickness, &out->slice_thickness, 1);
    out->has_image_position = getDoubles(ds, DCM_ImagePositionPatient, out->image_position, 3);
    out->has_image_orientation = getDoubles(ds, DCM_ImageOrientationPatient, out->image_orientation, 6);
    out->has_rescale_slope = getDoubles(ds, DCM_RescaleSlope, &out->rescale_slope, 1);
    out->has_rescale_intercept = getDoubles(ds, DCM_RescaleIntercept, &out->rescale_intercept, 1);
    out->has_gantry_tilt = getDoubles(ds, DCM_GantryDetectorTilt, &out->gantry_tilt, 1);
    out->has_window = getDoubles(ds, DCM_WindowCenter, &out->window_center, 1) &&
                      getDoubles(ds, DCM_WindowWidth, &out->window_width, 1);
    out->has_voi_lut_sequence = ds->tagExists(DCM_VOILUTSequence) ? 1 : 0;
    const bool isSigned = out->pixel_representation == 1;
    out->has_pixel_padding_value = getPadding(ds, DCM_PixelPaddingValue, isSigned, &out->pixel_padding_value);
    out->has_pixel_padding_range_limit =
        getPadding(ds, DCM_PixelPaddingRangeLimit, isSigned, &out->pixel_padding_range_limit);
}

// True when the file has the "DICM" magic after its 128-byte preamble (PS3.10 7.1).
bool hasDICMPrefix(const char *path) {
    std::FILE *file = std::fopen(path, "rb");
    if (file == nullptr) return false;
    char magic[4] = {0, 0, 0, 0};
    bool found = std::fseek(file, 128, SEEK_SET) == 0 && std::fread(magic, 1, 4, file) == 4 &&
                 std::memcmp(magic, "DICM", 4) == 0;
    std::fclose(file);
    return found;
}

int loadStatus(const OFCondition &status, const char *path, char *message, size_t len) {
    if (status.good()) return LCT_DCM_OK;
    // DCMTK also accepts files without the Part 10 preamble (a bare data set), so a text file
    // fails as a "premature end of stream". Without the DICM magic, say it is not DICOM;
    // with it, the file is DICOM but damaged (typically truncated).
    if (!hasDICMPrefix(path)) {
        setMessage(message, len, std::string(path) + ": not a DICOM file (" + status.text() + ")");
        return LCT_DCM_NOT_DICOM;
    }
    std::string text = std::string(path) + ": " + status.text();
    if (status == EC_StreamNotifyClient) text += " (the file is truncated)";
    setMessage(message, len, text);
    return LCT_DCM_READ_FAILED;
}

// Values longer than this stay on disk when a file is loaded: DCMTK notes where they are and
// reads them only when asked.
constexpr Uint32 lazyValueLength = 4096;

// Inflated bytes counted per read while checking a deflated data set: the memory the count needs.
constexpr offile_off_t inflateChunk = 1 << 20;

// A deflated data set (PS3.5 A.5: the File Meta Information, then raw deflate) cannot be read
// lazily: DCMTK inflates all of it while parsing, so a 4 MB file whose Pixel Data inflates to
// 4 GB costs 4 GB. Before DCMTK parses one, this reads the meta group as DcmFileFormat does
// (same class, same stream, so the same offset and transfer syntax), installs the zlib filter
// DCMTK would install, and counts the inflated bytes by skipping through them in constant
// memory. Beyond `limit` the file is refused; anything else (no meta group, an undeflated or
// corrupt stream) is left to loadFile to read or report, since it inflates no more than counted.
int checkInflatedSize(const char *path, uint64_t limit, char *message, size_t len) {
    DcmInputFileStream stream(path);
    if (stream.status().bad()) return LCT_DCM_OK;
    DcmMetaInfo meta;
    meta.transferInit();
    OFCondition status = meta.read(stream, EXS_Unknown, EGL_noChange, lazyValueLength);
    meta.transferEnd();
    const char *uid = nullptr;
    if (status.bad() || meta.findAndGetString(DCM_TransferSyntaxUID, uid).bad() || uid == nullptr) return LCT_DCM_OK;
    const E_StreamCompression compression = DcmXfer(uid).getStreamCompression();
    if (compression == ESC_none || compression == ESC_unsupported) return LCT_DCM_OK;
    if (stream.installCompressionFilter(compression).bad()) return LCT_DCM_OK;
    uint64_t inflated = 0;
    while (stream.good() && !stream.eos()) {
        const offile_off_t skipped = stream.skip(inflateChunk);
        if (skipped <= 0) break;
        inflated += static_cast<uint64_t>(skipped);
        if (inflated > limit) {
            setMessage(message, len,
                       std::string(path) + ": its deflated data set inflates to more than " +
                           std::to_string(limit >> 20) +
                           " MB, more than any image lungct reads needs; not read (a deflate bomb, or not a single image)");
            return LCT_DCM_TOO_LARGE;
        }
    }
    return LCT_DCM_OK;
}

// Loads `path` with its large values (Pixel Data above all) left on disk. The header scan thus
// stays a header scan while still seeing whether (7FE0,0010) is present, which
// loadFileUntilTag would hide; the pixel reader then reads uncompressed pixel data once,
// straight into the caller's buffer (getPartialValue), with no intermediate copy in DCMTK.
// A deflated data set is inflated whole (it cannot be read lazily), once counted within `limit`.
int loadLazily(DcmFileFormat &file, const char *path, uint64_t limit, char *message, size_t len) {
    registerCodecs();
    if (int code = checkInflatedSize(path, limit, message, len); code != LCT_DCM_OK) return code;
    OFCondition status = file.loadFile(path, EXS_Unknown, EGL_noChange, lazyValueLength, ERM_autoDetect);
    return loadStatus(status, path, message, len);
}

}  // namespace

namespace {

bool sameFile(const struct stat &a, const struct stat &b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
           a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// Where a native, little-endian, undeflated Pixel Data value lies in the file, as the parse left
// it on disk (DcmElement::getInputStream: the stream factory of a value not yet loaded), with the
// file as it was before and after the parse; nothing when either differs. Byte for byte what
// getPartialValue would copy, on a little-endian host.
void notePixelDataPlace(DcmFileFormat &file, const struct stat &before, const char *path, lct_dicom_header *out) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    DcmDataset *ds = file.getDataset();
    const DcmXfer xfer(ds->getOriginalXfer());
    if (xfer.isEncapsulated() || xfer.getStreamCompression() != ESC_none || !xfer.isLittleEndian()) return;
    DcmElement *pixels = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, pixels).bad() || pixels == nullptr) return;
    if (pixels->getLengthField() == DCM_UndefinedLength) return;
    auto *stream = dynamic_cast<const DcmInputFileStreamFactory *>(pixels->getInputStream());
    struct stat after {};
    if (stream == nullptr || stream->getOffset() <= 0 || ::stat(path, &after) != 0 || !sameFile(before, after)) return;
    out->pixel_data_offset = static_cast<uint64_t>(stream->getOffset());
    out->file_device = static_cast<uint64_t>(after.st_dev);
    out->file_inode = static_cast<uint64_t>(after.st_ino);
    out->file_size = static_cast<uint64_t>(after.st_size);
    out->file_modified_ns = static_cast<int64_t>(after.st_mtim.tv_sec) * 1000000000 + after.st_mtim.tv_nsec;
#else
    (void)file, (void)before, (void)path, (void)out;
#endif
}

}  // namespace

extern "C" int lct_dcm_read_header(const char *path, uint64_t max_inflated_bytes, lct_dicom_header *out,
                                   char *message, size_t message_len) {
    return guarded(path, message, message_len, [&]() -> int {
        DcmFileFormat file;
        struct stat before {};
        const bool stated = ::stat(path, &before) == 0;
        int code = loadLazily(file, path, max_inflated_bytes, message, message_len);
        if (code != LCT_DCM_OK) return code;
        fillHeader(file, out);
        if (stated) notePixelDataPlace(file, before, path, out);
        return LCT_DCM_OK;
    });
}

struct lct_dcm_pixel_file {
    std::string path;
    DcmFileFormat file;
};

namespace {

// The frame's place in the message: "FILE" for a single-frame object, "FILE, frame N of M"
// (1-based, as viewers count) otherwise.
std::string frameName(const std::string &path, uint32_t frame, int32_t frames) {
    if (frames <= 1) return path;
    return path + ", frame " + std::to_string(frame + 1) + " of " + std::to_string(frames);
}

// Native pixel data: the frame's bytes straight from their offset in the file.
int readNativeFrame(DcmElement *element, const std::string &name, uint32_t frame, void *dst, size_t dst_bytes,
                    char *message, size_t len) {
    const uint64_t offset = static_cast<uint64_t>(frame) * dst_bytes;
    const uint64_t available = element->getLength();
    if (available < offset + dst_bytes) {
        setMessage(message, len,
                   name + ": pixel data holds " + std::to_string(available) + " bytes, header needs " +
                       std::to_string(offset + dst_bytes) + " (truncated file?)");
        return LCT_DCM_BAD_SIZE;
    }
    OFCondition status =
        element->getPartialValue(dst, static_cast<Uint32>(offset), static_cast<Uint32>(dst_bytes));
    if (status.bad()) {
        setMessage(message, len, name + ": cannot read (7FE0,0010) Pixel Data: " + status.text() + " (truncated file?)");
        return LCT_DCM_READ_FAILED;
    }
    return LCT_DCM_OK;
}

// The most a JPEG 2000 frame's codestream may hold, as a multiple of the frame's decoded size
// (plus a fixed allowance for markers): lossless coding of noise expands by a few per cent at
// most, so a frame of many times its image's size is a damaged or hostile file.
constexpr size_t maximumCodestreamRatio = 4;
constexpr size_t codestreamAllowance = 64 << 10;

// The fragments that hold `frame` (PS3.5 A.4): all of them for a single frame; else from the
// Basic Offset Table, or one fragment per frame when the table is empty (DCMTK's
// determineStartFragment). Returns [first, end) as item indices, or false.
bool frameFragments(DcmPixelSequence *sequence, uint32_t frame, int32_t frames, Uint32 *first, Uint32 *end) {
    const Uint32 items = static_cast<Uint32>(sequence->card());
    if (frames <= 1) {
        *first = 1;
        *end = items;
        return items > 1;
    }
    if (DcmCodec::determineStartFragment(frame, frames, sequence, *first).bad()) return false;
    if (frame + 1 < static_cast<uint32_t>(frames)) {
        if (DcmCodec::determineStartFragment(frame + 1, frames, sequence, *end).bad()) return false;
    } else {
        *end = items;
    }
    return *first >= 1 && *first < *end && *end <= items;
}

// A JPEG 2000 frame: its fragments joined into one codestream, decoded by OpenJPEG.
int readJpeg2000Frame(DcmDataset *ds, DcmElement *element, const std::string &name, uint32_t frame,
                      lct_dicom_header *header, void *dst, size_t dst_bytes, char *message, size_t len) {
    DcmPixelSequence *sequence = encapsulatedFragments(ds, element);
    Uint32 first = 0, end = 0;
    if (sequence == nullptr || !frameFragments(sequence, frame, header->number_of_frames, &first, &end)) {
        setMessage(message, len,
                   name + ": its JPEG 2000 fragments cannot be matched to frames (no fragment, or a Basic Offset "
                          "Table that does not point at fragments); not decoded");
        return LCT_DCM_BAD_SIZE;
    }
    const size_t limit = dst_bytes * maximumCodestreamRatio + codestreamAllowance;
    std::string codestream;
    for (Uint32 index = first; index < end; ++index) {
        DcmPixelItem *item = nullptr;
        Uint8 *bytes = nullptr;
        if (sequence->getItem(item, index).bad() || item == nullptr) return LCT_DCM_READ_FAILED;
        const size_t length = item->getLength();
        if (codestream.size() + length > limit) {
            setMessage(message, len,
                       name + ": its JPEG 2000 codestream holds more than " + std::to_string(limit) +
                           " bytes, far more than a frame of " + std::to_string(dst_bytes) + " bytes needs; not decoded");
            return LCT_DCM_BAD_SIZE;
        }
        if (length == 0) continue;
        OFCondition status = item->getUint8Array(bytes);
        if (status.bad() || bytes == nullptr) {
            setMessage(message, len, name + ": cannot read a JPEG 2000 fragment: " + status.text() + " (truncated file?)");
            return LCT_DCM_READ_FAILED;
        }
        codestream.append(reinterpret_cast<const char *>(bytes), length);
    }
    return lct::decodeJpeg2000(reinterpret_cast<const uint8_t *>(codestream.data()), codestream.size(), name.c_str(),
                               header, dst, dst_bytes, message, len);
}

// A single-frame encapsulated image in a syntax DCMTK decodes: the whole data set is converted to
// native (the photometric interpretation can change: YBR_FULL_422 JPEG becomes RGB).
int readDecompressedImage(DcmFileFormat &file, const std::string &name, lct_dicom_header *header, void *dst,
                          size_t dst_bytes, char *message, size_t len) {
    DcmDataset *ds = file.getDataset();
    DcmXfer original(ds->getOriginalXfer());
    OFCondition status = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (status.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit)) {
        setMessage(message, len,
                   name + ": cannot decode transfer syntax " + original.getXferName() + " (" + original.getXferID() +
                       "): " + status.text());
        return LCT_DCM_DECODE_FAILED;
    }
    fillHeader(file, header);
    DcmElement *element = nullptr;
    status = ds->findAndGetElement(DCM_PixelData, element);
    if (status.bad() || element == nullptr) {
        setMessage(message, len, name + ": cannot read (7FE0,0010) Pixel Data: " + status.text());
        return LCT_DCM_READ_FAILED;
    }
    const size_t available = element->getLength();
    if (available < dst_bytes) {
        setMessage(message, len,
                   name + ": pixel data holds " + std::to_string(available) + " bytes, header needs " +
                       std::to_string(dst_bytes) + " (truncated file?)");
        return LCT_DCM_BAD_SIZE;
    }
    Uint8 *bytes = nullptr;
    status = element->getUint8Array(bytes);
    if (status.bad() || bytes == nullptr) {
        // 16-bit data is held as OW; ask for it as words, which is the same memory.
        Uint16 *words = nullptr;
        status = element->getUint16Array(words);
        bytes = reinterpret_cast<Uint8 *>(words);
    }
    if (status.bad() || bytes == nullptr) {
        setMessage(message, len, name + ": cannot read (7FE0,0010) Pixel Data: " + status.text());
        return LCT_DCM_READ_FAILED;
    }
    std::memcpy(dst, bytes, dst_bytes);
    return LCT_DCM_OK;
}

// One frame of a multi-frame object in a syntax DCMTK decodes, without decoding the others.
int readDecompressedFrame(DcmDataset *ds, DcmElement *element, const std::string &name, uint32_t frame,
                          lct_dicom_header *header, void *dst, size_t dst_bytes, char *message, size_t len) {
    Uint32 startFragment = 0;
    OFString colorModel;
    OFCondition status = OFstatic_cast(DcmPixelData *, element)->getUncompressedFrame(
        ds, frame, startFragment, dst, static_cast<Uint32>(dst_bytes), colorModel);
    if (status.bad()) {
        DcmXfer original(ds->getOriginalXfer());
        setMessage(message, len,
                   name + ": cannot decode transfer syntax " + original.getXferName() + " (" + original.getXferID() +
                       "): " + status.text());
        return LCT_DCM_DECODE_FAILED;
    }
    if (!colorModel.empty()) std::snprintf(header->photometric, sizeof header->photometric, "%s", colorModel.c_str());
    return LCT_DCM_OK;
}

}  // namespace

extern "C" int lct_dcm_open_pixels(const char *path, uint64_t max_inflated_bytes, lct_dcm_pixel_file **out,
                                   char *message, size_t message_len) {
    *out = nullptr;
    return guarded(path, message, message_len, [&]() -> int {
        auto opened = std::make_unique<lct_dcm_pixel_file>();
        opened->path = path;
        int code = loadLazily(opened->file, path, max_inflated_bytes, message, message_len);
        if (code != LCT_DCM_OK) return code;
        if (!opened->file.getDataset()->tagExists(DCM_PixelData)) {
            setMessage(message, message_len, std::string(path) + ": no (7FE0,0010) Pixel Data");
            return LCT_DCM_NO_PIXELS;
        }
        *out = opened.release();
        return LCT_DCM_OK;
    });
}

extern "C" int lct_dcm_read_frame(lct_dcm_pixel_file *file, uint32_t frame, void *dst, size_t dst_bytes,
                                  lct_dicom_header *header, char *message, size_t message_len) {
    const char *path = file->path.c_str();
    return guarded(path, message, message_len, [&]() -> int {
        DcmDataset *ds = file->file.getDataset();
        fillHeader(file->file, header);
        const std::string name = frameName(file->path, frame, header->number_of_frames);
        if (frame >= static_cast<uint32_t>(std::max(header->number_of_frames, 1))) {
            setMessage(message, message_len, name + ": no such frame");
            return LCT_DCM_BAD_SIZE;
        }
        DcmElement *element = nullptr;
        OFCondition status = ds->findAndGetElement(DCM_PixelData, element);
        if (status.bad() || element == nullptr) {
            setMessage(message, message_len, name + ": cannot read (7FE0,0010) Pixel Data: " + status.text());
            return LCT_DCM_READ_FAILED;
        }
        DcmXfer original(ds->getOriginalXfer());
        if (!original.isEncapsulated()) {
            return readNativeFrame(element, name, frame, dst, dst_bytes, message, message_len);
        }
        if (lct::isJpeg2000(original.getXferID())) {
            return readJpeg2000Frame(ds, element, name, frame, header, dst, dst_bytes, message, message_len);
        }
        // lct_dcm_render_voi_lut decodes only files this function has read, so this covers it too.
        if (lct::jpegBitDepthScanLoops(ds)) {
            setMessage(message, message_len,
                       name + ": its JPEG data has a TEM marker (FF01) where DCMTK's decoder " +
                           "would loop forever: a damaged file, not decoded");
            return LCT_DCM_DECODE_FAILED;
        }
        if (header->number_of_frames <= 1) {
            return readDecompressedImage(file->file, name, header, dst, dst_bytes, message, message_len);
        }
        return readDecompressedFrame(ds, element, name, frame, header, dst, dst_bytes, message, message_len);
    });
}

extern "C" void lct_dcm_close_pixels(lct_dcm_pixel_file *file) { delete file; }

extern "C" int lct_dcm_read_pixels(const char *path, uint64_t max_inflated_bytes, void *dst, size_t dst_bytes,
                                   lct_dicom_header *header, char *message, size_t message_len) {
    lct_dcm_pixel_file *file = nullptr;
    int code = lct_dcm_open_pixels(path, max_inflated_bytes, &file, message, message_len);
    if (code != LCT_DCM_OK) return code;
    code = lct_dcm_read_frame(file, 0, dst, dst_bytes, header, message, message_len);
    lct_dcm_close_pixels(file);
    return code;
}

extern "C" int lct_dcm_read_frame_values(const char *path, uint64_t max_inflated_bytes, lct_frame_values *out,
                                         size_t frame_count, char *message, size_t message_len) {
    return guarded(path, message, message_len, [&]() -> int {
        DcmFileFormat file;
        int code = loadLazily(file, path, max_inflated_bytes, message, message_len);
        if (code != LCT_DCM_OK) return code;
        std::string problem = lct::readFrameValues(*file.getDataset(), out, frame_count);
        if (!problem.empty()) {
            setMessage(message, message_len, std::string(path) + ": " + problem);
            return LCT_DCM_BAD_SIZE;
        }
        return LCT_DCM_OK;
    });
}

extern "C" int lct_dcm_render_voi_lut(const char *path, uint64_t max_inflated_bytes, uint16_t *dst,
                                      size_t dst_count, char *message, size_t message_len) {
    return guarded(path, message, message_len, [&]() -> int {
        registerCodecs();
        // DicomImage loads the whole file itself: the same check first.
        if (int code = checkInflatedSize(path, max_inflated_bytes, message, message_len); code != LCT_DCM_OK) {
            return code;
        }
        DicomImage image(path, 0, 0, 1);
        if (image.getStatus() != EIS_Normal) {
            setMessage(message, message_len,
                       std::string(path) + ": DCMTK cannot render the image: " + DicomImage::getString(image.getStatus()));
            return LCT_DCM_DECODE_FAILED;
        }
        if (!image.isMonochrome()) {
            setMessage(message, message_len, std::string(path) + ": a VOI LUT applies to monochrome images only");
            return LCT_DCM_DECODE_FAILED;
        }
        if (static_cast<size_t>(image.getWidth()) * image.getHeight() != dst_count) {
            setMessage(message, message_len, std::string(path) + ": the rendered image's size differs from its header's");
            return LCT_DCM_BAD_SIZE;
        }
        if (image.getVoiLutCount() == 0 || !image.setVoiLut(0)) {
            setMessage(message, message_len, std::string(path) + ": (0028,3010) VOI LUT Sequence holds no usable LUT");
            return LCT_DCM_READ_FAILED;
        }
        if (!image.getOutputData(dst, dst_count * sizeof(uint16_t), 16, 0, 0)) {
            setMessage(message, message_len, std::string(path) + ": DCMTK could not render the image through its VOI LUT");
            return LCT_DCM_DECODE_FAILED;
        }
        return LCT_DCM_OK;
    });
}

namespace {

void putString(DcmDataset *ds, const DcmTagKey &key, const char *value) {
    if (value != nullptr && value[0] != '\0') ds->putAndInsertString(key, value);
}

std::string joinNumbers(const double *values, int count) {
    std::string text;
    char buffer[64];
    for (int i = 0; i < count; ++i) {
        // DS holds at most 16 characters (PS3.5 6.2); %.10g stays within it for these values.
        std::snprintf(buffer, sizeof buffer, "%.10g", values[i]);
        if (i > 0) text += "\\";
        text += buffer;
    }
    return text;
}

}  // namespace

extern "C" int lct_dcm_write_image(const char *path, const lct_image_description *d, const void *pixels,
                                   size_t pixel_bytes, lct_transfer_syntax syntax, char *message,
                                   size_t message_len) {
    return guarded(path, message, message_len, [&]() -> int {
        registerCodecs();
        DcmFileFormat file;
        DcmDataset *ds = file.getDataset();
        putString(ds, DCM_SOPClassUID, d->sop_class_uid);
        putString(ds, DCM_SOPInstanceUID, d->sop_instance_uid);
        putString(ds, DCM_StudyInstanceUID, d->study_instance_uid);
        putString(ds, DCM_SeriesInstanceUID, d->series_instance_uid);
        putString(ds, DCM_FrameOfReferenceUID, d->frame_of_reference_uid);
        putString(ds, DCM_Modality, d->modality);
        putString(ds, DCM_ImageType, d->image_type);
        putString(ds, DCM_SeriesDescription, d->series_description);
        putString(ds, DCM_ConvolutionKernel, d->convolution_kernel);
        putString(ds, DCM_PatientName, d->patient_name);
        putString(ds, DCM_PatientID, d->patient_id);
        putString(ds, DCM_PatientPosition, d->patient_position);
        putString(ds, DCM_StudyDate, d->study_date);
        ds->putAndInsertString(DCM_SeriesNumber, std::to_string(d->series_number).c_str());
        ds->putAndInsertString(DCM_InstanceNumber, std::to_string(d->instance_number).c_str());
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        putString(ds, DCM_PhotometricInterpretation, d->photometric);
        ds->putAndInsertUint16(DCM_Rows, d->rows);
        ds->putAndInsertUint16(DCM_Columns, d->columns);
        ds->putAndInsertUint16(DCM_BitsAllocated, d->bits_allocated);
        ds->putAndInsertUint16(DCM_BitsStored, d->bits_stored);
        ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(d->bits_stored - 1));
        ds->putAndInsertUint16(DCM_PixelRepresentation, d->pixel_representation);
        ds->putAndInsertString(DCM_PixelSpacing, joinNumbers(d->pixel_spacing, 2).c_str());
        if (d->slice_thickness > 0) ds->putAndInsertString(DCM_SliceThickness, joinNumbers(&d->slice_thickness, 1).c_str());
        if (d->has_geometry) {
            ds->putAndInsertString(DCM_ImagePositionPatient, joinNumbers(d->image_position, 3).c_str());
            ds->putAndInsertString(DCM_ImageOrientationPatient, joinNumbers(d->image_orientation, 6).c_str());
        }
        if (d->has_rescale) {
            ds->putAndInsertString(DCM_RescaleIntercept, joinNumbers(&d->rescale_intercept, 1).c_str());
            ds->putAndInsertString(DCM_RescaleSlope, joinNumbers(&d->rescale_slope, 1).c_str());
            ds->putAndInsertString(DCM_RescaleType, "HU");
        }
        OFCondition status;
        if (d->bits_allocated == 8) {
            status = ds->putAndInsertUint8Array(DCM_PixelData, static_cast<const Uint8 *>(pixels),
                                                static_cast<unsigned long>(pixel_bytes));
        } else {
            status = ds->putAndInsertUint16Array(DCM_PixelData, static_cast<const Uint16 *>(pixels),
                                                 static_cast<unsigned long>(pixel_bytes / 2));
        }
        if (status.bad()) {
            setMessage(message, message_len, std::string(path) + ": cannot store pixel data: " + status.text());
            return LCT_DCM_WRITE_FAILED;
        }

        E_TransferSyntax xfer = EXS_LittleEndianExplicit;
        DJ_RPLossless losslessParams(1, 0);  // first-order prediction, no point transform
        DJLSRepresentationParameter jlsParams(0, OFTrue);
        const DcmRepresentationParameter *params = nullptr;
        switch (syntax) {
        case LCT_TS_EXPLICIT_LE: xfer = EXS_LittleEndianExplicit; break;
        case LCT_TS_IMPLICIT_LE: xfer = EXS_LittleEndianImplicit; break;
        case LCT_TS_RLE: xfer = EXS_RLELossless; break;
        case LCT_TS_JPEG_LOSSLESS: xfer = EXS_JPEGProcess14SV1; params = &losslessParams; break;
        case LCT_TS_JPEG_LS_LOSSLESS: xfer = EXS_JPEGLSLossless; params = &jlsParams; break;
        case LCT_TS_JPEG_BASELINE: xfer = EXS_JPEGProcess1; break;
        }
        DcmXfer target(xfer);
        if (target.isEncapsulated()) {
            status = ds->chooseRepresentation(xfer, params);
            if (status.bad() || !ds->canWriteXfer(xfer)) {
                setMessage(message, message_len,
                           std::string(path) + ": cannot encode as " + target.getXferName() + ": " + status.text());
                return LCT_DCM_WRITE_FAILED;
            }
        }
        status = file.saveFile(path, xfer);
        if (status.bad()) {
            setMessage(message, message_len, std::string(path) + ": cannot write: " + status.text());
            return LCT_DCM_WRITE_FAILED;
        }
        return LCT_DCM_OK;
    });
}

extern "C" void lct_dcm_new_uid(char *out, size_t out_len) {
    char buffer[100];
    dcmGenerateUniqueIdentifier(buffer, SITE_INSTANCE_UID_ROOT);
    std::snprintf(out, out_len, "%s", buffer);
}

extern "C" void lct_dcm_uid_name(const char *uid, char *out, size_t out_len) {
    const char *name = dcmFindNameOfUID(uid, "");
    std::snprintf(out, out_len, "%s", name);
}
