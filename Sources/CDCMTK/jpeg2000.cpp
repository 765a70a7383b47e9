// The OpenJPEG side of jpeg2000.h: a codestream in memory, decoded strictly, checked against
// the DICOM header before the image is allocated, copied out as DICOM's native layout.
#include "jpeg2000.h"

#include <openjpeg.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace lct {
namespace {

// JPEG 2000 Image Compression (Lossless Only) and JPEG 2000 Image Compression (PS3.5 A.4.4).
constexpr const char *jpeg2000LosslessUID = "1.2.840.10008.1.2.4.90";
constexpr const char *jpeg2000UID = "1.2.840.10008.1.2.4.91";

// The JP2 file signature box (ISO/IEC 15444-1 I.5.1): a JP2 file, not a bare codestream.
constexpr uint8_t jp2Signature[12] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};

void setMessage(char *message, size_t len, const std::string &text) {
    if (message == nullptr || len == 0) return;
    std::snprintf(message, len, "%s", text.c_str());
}

// A codestream in memory as an OpenJPEG stream: OpenJPEG reads, skips and seeks through these.
struct MemoryStream {
    const uint8_t *data;
    size_t size;
    size_t offset;
};

OPJ_SIZE_T readStream(void *buffer, OPJ_SIZE_T count, void *user) {
    auto *stream = static_cast<MemoryStream *>(user);
    if (stream->offset >= stream->size) return static_cast<OPJ_SIZE_T>(-1);  // OpenJPEG's end of stream
    const size_t n = std::min(static_cast<size_t>(count), stream->size - stream->offset);
    std::memcpy(buffer, stream->data + stream->offset, n);
    stream->offset += n;
    return n;
}

OPJ_OFF_T skipStream(OPJ_OFF_T count, void *user) {
    auto *stream = static_cast<MemoryStream *>(user);
    if (count < 0) {
        const size_t back = std::min(static_cast<size_t>(-count), stream->offset);
        stream->offset -= back;
        return -static_cast<OPJ_OFF_T>(back);
    }
    const size_t n = std::min(static_cast<size_t>(count), stream->size - stream->offset);
    stream->offset += n;
    return static_cast<OPJ_OFF_T>(n);
}

OPJ_BOOL seekStream(OPJ_OFF_T position, void *user) {
    auto *stream = static_cast<MemoryStream *>(user);
    if (position < 0 || static_cast<uint64_t>(position) > stream->size) return OPJ_FALSE;
    stream->offset = static_cast<size_t>(position);
    return OPJ_TRUE;
}

// OpenJPEG reports through callbacks; the last error is kept for the message.
void keepError(const char *text, void *user) {
    auto *last = static_cast<std::string *>(user);
    *last = text;
    while (!last->empty() && (last->back() == '\n' || last->back() == ' ')) last->pop_back();
}
void ignoreMessage(const char *, void *) {}

struct CodecDeleter {
    void operator()(opj_codec_t *codec) const { opj_destroy_codec(codec); }
};
struct StreamDeleter {
    void operator()(opj_stream_t *stream) const { opj_stream_destroy(stream); }
};
struct ImageDeleter {
    void operator()(opj_image_t *image) const { opj_image_destroy(image); }
};

// Why the codestream's image (as its SIZ marker declares it) is not the frame the header
// describes, or an empty string when it is.
std::string layoutMismatch(const opj_image_t &image, const lct_dicom_header &header) {
    const uint32_t width = image.x1 - image.x0;
    const uint32_t height = image.y1 - image.y0;
    if (width != header.columns || height != header.rows) {
        return "its codestream is " + std::to_string(width) + "×" + std::to_string(height) + " pixels but (0028,0011) Columns × (0028,0010) Rows say " +
               std::to_string(header.columns) + "×" + std::to_string(header.rows);
    }
    if (image.numcomps != header.samples_per_pixel) {
        return "its codestream has " + std::to_string(image.numcomps) + " components but (0028,0002) Samples per Pixel is " +
               std::to_string(header.samples_per_pixel);
    }
    for (uint32_t c = 0; c < image.numcomps; ++c) {
        const opj_image_comp_t &comp = image.comps[c];
        if (comp.dx != 1 || comp.dy != 1 || comp.w != width || comp.h != height) {
            return "its codestream's component " + std::to_string(c) + " is subsampled, which DICOM does not allow";
        }
        if (comp.prec == 0 || comp.prec > header.bits_allocated || comp.prec > 16) {
            return "its codestream's precision is " + std::to_string(comp.prec) + " bits but (0028,0100) Bits Allocated is " +
                   std::to_string(header.bits_allocated);
        }
        if (comp.prec != image.comps[0].prec || comp.sgnd != image.comps[0].sgnd) {
            return "its codestream's components differ in precision or sign";
        }
    }
    return "";
}

// Copies the decoded components into DICOM's native layout: samples interleaved (Planar
// Configuration 0), each truncated to bits_allocated bits (the precision fits, so no value changes).
void copyOut(const opj_image_t &image, const lct_dicom_header &header, void *dst) {
    const size_t pixels = static_cast<size_t>(header.rows) * header.columns;
    const size_t samples = image.numcomps;
    for (size_t c = 0; c < samples; ++c) {
        const OPJ_INT32 *values = image.comps[c].data;
        if (header.bits_allocated == 8) {
            auto *out = static_cast<uint8_t *>(dst);
            for (size_t i = 0; i < pixels; ++i) out[i * samples + c] = static_cast<uint8_t>(values[i]);
        } else {
            auto *out = static_cast<uint16_t *>(dst);
            for (size_t i = 0; i < pixels; ++i) out[i * samples + c] = static_cast<uint16_t>(values[i]);
        }
    }
}

}  // namespace

bool isJpeg2000(const char *xfer) {
    return std::strcmp(xfer, jpeg2000LosslessUID) == 0 || std::strcmp(xfer, jpeg2000UID) == 0;
}

int decodeJpeg2000(const uint8_t *data, size_t size, const char *what, lct_dicom_header *header, void *dst,
                   size_t dst_bytes, char *message, size_t message_len) {
    const std::string name(what);
    if (header->bits_allocated != 8 && header->bits_allocated != 16) {
        setMessage(message, message_len, name + ": (0028,0100) Bits Allocated " + std::to_string(header->bits_allocated) +
                                             " cannot hold JPEG 2000 samples here (8 or 16)");
        return LCT_DCM_DECODE_FAILED;
    }
    const size_t frameBytes = static_cast<size_t>(header->rows) * header->columns * header->samples_per_pixel *
                              (header->bits_allocated / 8);
    if (frameBytes != dst_bytes) {
        setMessage(message, message_len, name + ": the frame buffer does not match the header's frame size");
        return LCT_DCM_BAD_SIZE;
    }
    const bool isJP2 = size >= sizeof jp2Signature && std::memcmp(data, jp2Signature, sizeof jp2Signature) == 0;
    std::unique_ptr<opj_codec_t, CodecDeleter> codec(opj_create_decompress(isJP2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
    std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE));
    if (!codec || !stream) {
        setMessage(message, message_len, name + ": OpenJPEG could not start a decoder (out of memory?)");
        return LCT_DCM_INTERNAL;
    }
    std::string lastError;
    opj_set_error_handler(codec.get(), keepError, &lastError);
    opj_set_warning_handler(codec.get(), ignoreMessage, nullptr);
    opj_set_info_handler(codec.get(), ignoreMessage, nullptr);
    opj_dparameters_t parameters;
    opj_set_default_decoder_parameters(&parameters);
    // Strict: a codestream that ends early fails, rather than decoding what is there and
    // leaving the rest of the image at zero (OpenJPEG's default, since 2.5.0 switchable).
    if (!opj_setup_decoder(codec.get(), &parameters) || !opj_decoder_set_strict_mode(codec.get(), OPJ_TRUE)) {
        setMessage(message, message_len, name + ": OpenJPEG could not set up its decoder: " + lastError);
        return LCT_DCM_INTERNAL;
    }
    MemoryStream memory{data, size, 0};
    opj_stream_set_user_data(stream.get(), &memory, nullptr);
    opj_stream_set_user_data_length(stream.get(), size);
    opj_stream_set_read_function(stream.get(), readStream);
    opj_stream_set_skip_function(stream.get(), skipStream);
    opj_stream_set_seek_function(stream.get(), seekStream);

    opj_image_t *raw = nullptr;
    const bool headerRead = opj_read_header(stream.get(), codec.get(), &raw);
    std::unique_ptr<opj_image_t, ImageDeleter> image(raw);
    if (!headerRead || !image) {
        setMessage(message, message_len, name + ": not a readable JPEG 2000 codestream (" + (lastError.empty() ? "no SIZ marker" : lastError) + ")");
        return LCT_DCM_DECODE_FAILED;
    }
    // Checked before opj_decode allocates the components: a codestream claiming 60000×60000
    // pixels in a 512×512 frame is refused here at no cost.
    if (std::string mismatch = layoutMismatch(*image, *header); !mismatch.empty()) {
        setMessage(message, message_len, name + ": " + mismatch + "; not decoded");
        return LCT_DCM_BAD_SIZE;
    }
    if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get())) {
        setMessage(message, message_len, name + ": OpenJPEG cannot decode its JPEG 2000 codestream (" +
                                             (lastError.empty() ? "damaged or truncated" : lastError) + ")");
        return LCT_DCM_DECODE_FAILED;
    }
    for (uint32_t c = 0; c < image->numcomps; ++c) {
        if (image->comps[c].data == nullptr) {
            setMessage(message, message_len, name + ": OpenJPEG decoded no samples for component " + std::to_string(c));
            return LCT_DCM_DECODE_FAILED;
        }
    }
    copyOut(*image, *header, dst);
    // What the samples now are: the codestream's precision and sign (PS3.5 8.2.4 expects them to
    // match the header; where a writer disagreed, the codestream is what was encoded).
    header->bits_stored = static_cast<uint16_t>(image->comps[0].prec);
    header->high_bit = static_cast<uint16_t>(image->comps[0].prec - 1);
    header->pixel_representation = image->comps[0].sgnd ? 1 : 0;
    if (image->numcomps == 3 && (std::strcmp(header->photometric, "YBR_ICT") == 0 || std::strcmp(header->photometric, "YBR_RCT") == 0)) {
        // OpenJPEG undoes the codestream's component transform (its COD marker says so).
        std::snprintf(header->photometric, sizeof header->photometric, "RGB");
    }
    header->planar_configuration = 0;
    return LCT_DCM_OK;
}

}  // namespace lct
