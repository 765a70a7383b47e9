// The storage SCU of `lungct listen`: DCMTK's DcmStorageSCU sends the result files over one
// association, proposing each file's own transfer syntax; and a C-ECHO through DcmSCU.
#include "cdicomnetwork.h"
#include "network.h"

#include <cstdio>
#include <exception>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/dstorscu.h>
#include <dcmtk/oflog/oflog.h>

namespace {

void configure(DcmSCU &scu, const char *host, uint16_t port, const char *calling_ae, const char *called_ae,
               int timeout_seconds) {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    scu.setAETitle(calling_ae);
    scu.setPeerHostName(host);
    scu.setPeerPort(port);
    scu.setPeerAETitle(called_ae);
    scu.setConnectionTimeout(timeout_seconds);
    scu.setACSETimeout(static_cast<Uint32>(timeout_seconds));
    scu.setDIMSETimeout(static_cast<Uint32>(timeout_seconds));
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
}

// Counts the instances the peer stored (success or warning status) and keeps the first refusal.
class CountingStorageSCU : public DcmStorageSCU {
  public:
    int stored = 0;
    std::string firstRefusal;

  protected:
    void notifySOPInstanceSent(const TransferEntry &entry) override {
        Uint16 status = entry.ResponseStatusCode;
        bool good = entry.RequestSent && (status == 0x0000 || (status & 0xF000) == 0xB000);
        if (good) {
            stored++;
        } else if (firstRefusal.empty()) {
            char code[8];
            std::snprintf(code, sizeof code, "%04X", status);
            firstRefusal = std::string(entry.Filename.getCharPointer()) + ": refused with status " + code;
        }
    }
};

std::string peer(const char *called_ae, const char *host, uint16_t port) {
    return std::string(called_ae) + "@" + host + ":" + std::to_string(port);
}

}  // namespace

extern "C" int lct_net_send(const char *host, uint16_t port, const char *calling_ae, const char *called_ae,
                            const char *const *files, int count, int timeout_seconds, int *sent, char *error,
                            size_t error_size) {
    *sent = 0;
    return lct_net::guarded("sending failed", error, error_size, [&] {
        CountingStorageSCU scu;
        configure(scu, host, port, calling_ae, called_ae, timeout_seconds);
        scu.setHaltOnUnsuccessfulStoreMode(OFFalse);
        for (int index = 0; index < count; index++) {
            OFCondition added = scu.addDicomFile(files[index], ERM_fileOnly, OFFalse);
            if (added.bad()) {
                lct_net::say(error, error_size, std::string(files[index]) + ": cannot be sent: " + added.text());
                return LCT_NET_FAILED;
            }
        }
        OFCondition result = scu.addPresentationContexts();
        if (result.good()) result = scu.initNetwork();
        if (result.good()) result = scu.negotiateAssociation();
        if (result.good()) result = scu.sendSOPInstances();
        if (scu.isConnected()) scu.releaseAssociation();
        *sent = scu.stored;
        if (result.bad()) {
            lct_net::say(error, error_size, peer(called_ae, host, port) + ": " + result.text());
            return LCT_NET_FAILED;
        }
        if (scu.stored < count) {
            std::string why = scu.firstRefusal.empty() ? "not every file was sent" : scu.firstRefusal;
            lct_net::say(error, error_size, peer(called_ae, host, port) + ": " + why);
            return LCT_NET_FAILED;
        }
        return LCT_NET_OK;
    });
}

extern "C" int lct_net_echo(const char *host, uint16_t port, const char *calling_ae, const char *called_ae,
                            int timeout_seconds, char *error, size_t error_size) {
    return lct_net::guarded("echo failed", error, error_size, [&] {
        DcmSCU scu;
        configure(scu, host, port, calling_ae, called_ae, timeout_seconds);
        OFList<OFString> syntaxes;
        syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
        OFCondition result = scu.addPresentationContext(UID_VerificationSOPClass, syntaxes);
        if (result.good()) result = scu.initNetwork();
        if (result.good()) result = scu.negotiateAssociation();
        if (result.good()) result = scu.sendECHORequest(0);
        if (scu.isConnected()) scu.releaseAssociation();
        if (result.bad()) {
            lct_net::say(error, error_size, peer(called_ae, host, port) + ": " + result.text());
            return LCT_NET_FAILED;
        }
        return LCT_NET_OK;
    });
}
