// See jpegscan.h.
#include "jpegscan.h"

#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>

#include <cstdlib>
#include <cstring>

namespace {

// The first UID of DCMTK's JPEG family (Baseline, process 1) and the last (Lossless SV1).
const char *const jpegPrefix = "1.2.840.10008.1.2.4.";
const long firstJpeg = 50;
const long lastJpeg = 70;

bool isJpegSyntax(const char *uid) {
    if (uid == nullptr || std::strncmp(uid, jpegPrefix, std::strlen(jpegPrefix)) != 0) return false;
    char *end = nullptr;
    long number = std::strtol(uid + std::strlen(jpegPrefix), &end, 10);
    return end != nullptr && *end == '\0' && number >= firstJpeg && number <= lastJpeg;
}

Uint16 readUint16(const Uint8 *data) { return static_cast<Uint16>((data[0] << 8) | data[1]); }

// scanJpegDataForBitDepth's walk: true where it would stay on FF01 forever, false where it
// returns (a frame header, an invalid marker, the end of the fragment).
bool walkLoops(const Uint8 *data, Uint32 length) {
    Uint32 offset = 0;
    while (offset + 4 < length) {
        const Uint16 marker = readUint16(data + offset);
        switch (marker) {
            case 0xff01: return true;  // TEM: DCMTK's `break` without a step
            case 0xffc0: case 0xffc1: case 0xffc2: case 0xffc3: case 0xffc5: case 0xffc6: case 0xffc7:
            case 0xffc9: case 0xffca: case 0xffcb: case 0xffcd: case 0xffce: case 0xffcf:
                return false;  // SOF: the bit depth is found
            case 0xffd0: case 0xffd1: case 0xffd2: case 0xffd3: case 0xffd4: case 0xffd5: case 0xffd6:
            case 0xffd7: case 0xffd8: case 0xffd9:
                offset += 2;  // RST, SOI, EOI: no length
                break;
            case 0xffff:
                offset += 1;  // a fill byte
                break;
            default:
                if ((marker >= 0xffc4 && marker <= 0xfffe)) {
                    offset += readUint16(data + offset + 2) + 2;  // DHT, DAC, SOS, DQT, ..., APPn, JPGn, COM
                } else if (data[offset] == 0xff && data[offset + 1] > 2 && data[offset + 1] <= 0xbf) {
                    offset += 2;  // reserved markers
                } else {
                    return false;  // an invalid marker: DCMTK gives up
                }
        }
    }
    return false;
}

} // namespace

bool lct::jpegBitDepthScanLoops(DcmDataset *ds) {
    const char *uid = DcmXfer(ds->getOriginalXfer()).getXferID();
    if (!isJpegSyntax(uid)) return false;
    DcmElement *element = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) return false;
    if (element->ident() != EVR_PixelData) return false;
    DcmPixelSequence *fragments = nullptr;
    const DcmRepresentationParameter *parameters = nullptr;
    if (static_cast<DcmPixelData *>(element)->getEncapsulatedRepresentation(ds->getOriginalXfer(), parameters,
                                                                           fragments).bad() ||
        fragments == nullptr) {
        return false;
    }
    // Item 0 is the offset table; DCMTK scans the first fragment of a frame, any of the others.
    for (unsigned long index = 1; index < fragments->card(); ++index) {
        DcmPixelItem *item = nullptr;
        Uint8 *data = nullptr;
        if (fragments->getItem(item, index).bad() || item == nullptr) continue;
        if (item->getUint8Array(data).bad() || data == nullptr) continue;
        if (walkLoops(data, item->getLength())) return true;
    }
    return false;
}
