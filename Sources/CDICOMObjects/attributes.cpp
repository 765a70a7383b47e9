// Completing a file another writer made: attributes it lacks, added in place.
#include "objects.h"

#include <cstdio>

using namespace lctobj;

extern "C" int lct_obj_add_missing_attributes(const char *path, const char *const *keywords,
                                              const char *const *values, size_t count, char *message,
                                              size_t message_len) {
    return guarded(path, message, message_len, [&] {
        DcmFileFormat file;
        OFCondition status = file.loadFile(path);
        if (status.bad()) throw Failure(LCT_OBJ_READ_FAILED, std::string("cannot read: ") + status.text());
        // The file is rewritten in place: nothing may still be read from it lazily.
        check(file.loadAllDataIntoMemory(), "cannot read the whole file");
        DcmDataset &dataset = *file.getDataset();
        for (size_t i = 0; i < count; ++i) {
            DcmTag tag;
            if (DcmTag::findTagFromName(keywords[i], tag).bad()) {
                throw Failure(LCT_OBJ_INVALID, std::string("no attribute called ") + keywords[i]);
            }
            if (dataset.tagExists(tag)) continue;
            check(dataset.putAndInsertString(tag, text(values[i]).c_str()), std::string("cannot set ") + keywords[i]);
        }
        const std::string partial = std::string(path) + ".partial";
        status = file.saveFile(partial.c_str(), EXS_Unknown);
        if (status.bad()) {
            std::remove(partial.c_str());
            throw Failure(LCT_OBJ_WRITE_FAILED, std::string("cannot write: ") + status.text());
        }
        if (std::rename(partial.c_str(), path) != 0) {
            std::remove(partial.c_str());
            throw Failure(LCT_OBJ_WRITE_FAILED, "cannot move the completed file into place");
        }
    });
}
