// What listener.cpp and sender.cpp share: messages into caller buffers, the exception guard of
// every entry point, and AE titles as DICOM pads them.
#ifndef LCT_NET_NETWORK_H
#define LCT_NET_NETWORK_H

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "cdicomnetwork.h"

namespace lct_net {

inline void say(char *buffer, size_t size, const std::string &message) {
    if (buffer == nullptr || size == 0) return;
    std::strncpy(buffer, message.c_str(), size - 1);
    buffer[size - 1] = '\0';
}

// An AE title or UID as compared: leading and trailing spaces removed.
inline std::string trimmed(const char *value) {
    std::string text = value ? value : "";
    size_t first = text.find_first_not_of(' ');
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

// Runs `body` (which returns a status) with every C++ exception turned into LCT_NET_INTERNAL and
// "`what`: <the exception>" in the caller's buffer.
template <typename Body> int guarded(const char *what, char *buffer, size_t size, Body body) {
    try {
        return body();
    } catch (const std::exception &failure) {
        say(buffer, size, std::string(what) + ": " + failure.what());
        return LCT_NET_INTERNAL;
    }
}

// DCMTK as Debian builds it leaves Nagle's algorithm on unless TCP_NODELAY=1 is in the
// environment; with it on, every small PDU waits for the peer's delayed ACK (about 40 ms), so a
// 300-image series takes seconds longer. Set unless the user set it.
inline void noNagle() { setenv("TCP_NODELAY", "1", 0); }

}  // namespace lct_net

#endif
