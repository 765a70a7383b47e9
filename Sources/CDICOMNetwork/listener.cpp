// The storage SCP of `lungct listen`: DCMTK's DcmSCP, serving one association at a time, with
// C-STORE of CT images streamed to a spool file and handed to the caller, and C-ECHO.
#include "cdicomnetwork.h"
#include "network.h"

#include <atomic>
#include <cstdio>
#include <exception>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scp.h>
#include <dcmtk/oflog/oflog.h>

namespace {

// The SOP classes lungct analyses (PS3.4 B.5) and the transfer syntaxes its reader decodes.
const char *const ctClasses[] = {UID_CTImageStorage, UID_EnhancedCTImageStorage,
                                 UID_LegacyConvertedEnhancedCTImageStorage};
const char *const transferSyntaxes[] = {
    UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
    UID_BigEndianExplicitTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess14TransferSyntax, UID_JPEGProcess1TransferSyntax,
    UID_JPEGProcess2_4TransferSyntax, UID_JPEGLSLosslessTransferSyntax, UID_JPEGLSLossyTransferSyntax,
    UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax, UID_RLELosslessTransferSyntax};

std::string text(DcmItem &item, const DcmTagKey &key) {
    OFString value;
    if (item.findAndGetOFString(key, value).bad()) return "";
    return std::string(value.c_str());
}

}  // namespace

struct lct_net_listener : public DcmSCP {
    lct_net_callbacks callbacks;
    std::string spool;
    std::string ownTitle;
    std::atomic<bool> stopping{false};
    unsigned long counter = 0;

    OFBool stopAfterCurrentAssociation() override { return stopping.load(); }
    OFBool stopAfterConnectionTimeout() override { return stopping.load(); }

    // How the current association ends, said once when DCMTK terminates it; empty when the
    // caller has said it already (a refused calling AE title).
    std::string ending;
    bool sawAssociation = false;
    bool timedOut = false;

    OFBool checkCalledAETitleAccepted(const OFString &calledAE) override {
        bool ours = lct_net::trimmed(calledAE.c_str()) == ownTitle;
        if (!ours) ending = "refused: it called another AE title than this node's";
        return ours;
    }

    OFBool checkCallingAETitleAccepted(const OFString &callingAE) override {
        std::string calling = lct_net::trimmed(callingAE.c_str());
        bool accepted = callbacks.accept_calling(callbacks.context, calling.c_str(), getPeerIP().c_str()) != 0;
        if (!accepted) ending.clear();
        return accepted;
    }

    void notifyAbortRequest() override { ending = "aborted by the peer"; }
    void notifyDIMSEError(const OFCondition &cond) override { ending = std::string("failed: ") + cond.text(); }
    void notifyConnectionTimeout() override { timedOut = true; }
    void notifyAssociationTermination() override {
        sawAssociation = true;
        if (ending.empty()) return;
        std::string calling = lct_net::trimmed(getPeerAETitle().c_str());
        callbacks.association_ended(callbacks.context, calling.c_str(), getPeerIP().c_str(), ending.c_str());
    }

    // DcmSCP drops a connection that never became an association (garbage bytes, a handshake
    // that timed out) silently and goes on; it is said here, the listener going on too.
    OFCondition waitForAssociationRQ(T_ASC_Network *network) override {
        ending = "released";
        sawAssociation = timedOut = false;
        OFCondition result = DcmSCP::waitForAssociationRQ(network);
        if (!sawAssociation && !timedOut && !stopping.load())
            callbacks.association_ended(callbacks.context, "", "",
                                        "failed before an association (not a DICOM association request)");
        return result;
    }

    OFCondition handleIncomingCommand(T_DIMSE_Message *message, const DcmPresentationContextInfo &info) override {
        if (message->CommandField != DIMSE_C_STORE_RQ) return DcmSCP::handleIncomingCommand(message, info);
        T_DIMSE_C_StoreRQ &request = message->msg.CStoreRQ;
        std::string path = spool + "/receiving-" + std::to_string(++counter) + ".dcm";
        OFCondition received = receiveSTORERequest(request, info.presentationContextID, OFString(path.c_str()));
        if (received.bad()) {
            std::remove(path.c_str());
            return received;
        }
        Uint16 status = examine(request, path);
        std::remove(path.c_str());
        return sendSTOREResponse(info.presentationContextID, request, status);
    }

    // Checks the received file and gives it to the caller; the DIMSE status to answer with.
    Uint16 examine(const T_DIMSE_C_StoreRQ &request, const std::string &path) {
        std::string calling = lct_net::trimmed(getPeerAETitle().c_str());
        auto refuse = [&](Uint16 status, const std::string &reason) {
            callbacks.refused(callbacks.context, calling.c_str(), request.AffectedSOPInstanceUID, status,
                              reason.c_str());
            return status;
        };
        DcmFileFormat file;
        OFCondition loaded = file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                                   ERM_autoDetect, DCM_PixelData);
        if (loaded.bad()) return refuse(LCT_NET_STATUS_CANNOT_UNDERSTAND, std::string("unreadable: ") + loaded.text());
        DcmDataset &data = *file.getDataset();
        std::string sopClass = text(data, DCM_SOPClassUID), sopInstance = text(data, DCM_SOPInstanceUID);
        if (sopClass != request.AffectedSOPClassUID || sopInstance != request.AffectedSOPInstanceUID)
            return refuse(LCT_NET_STATUS_DATASET_MISMATCH,
                          "the dataset's SOP Class or Instance UID differs from the C-STORE request's");
        std::string study = text(data, DCM_StudyInstanceUID), series = text(data, DCM_SeriesInstanceUID);
        std::string modality = text(data, DCM_Modality), peer = getPeerIP().c_str();
        FILE *spooled = std::fopen(path.c_str(), "rb");
        uint64_t bytes = 0;
        if (spooled) {
            if (std::fseek(spooled, 0, SEEK_END) == 0) bytes = static_cast<uint64_t>(std::ftell(spooled));
            std::fclose(spooled);
        }
        lct_net_received object{calling.c_str(),  peer.c_str(),     sopClass.c_str(), sopInstance.c_str(),
                                study.c_str(),    series.c_str(),   modality.c_str(), path.c_str(),
                                bytes};
        return callbacks.stored(callbacks.context, &object);
    }
};

extern "C" lct_net_listener *lct_net_listener_create(uint16_t port, const char *ae_title, const char *spool_folder,
                                                     lct_net_callbacks callbacks, char *error, size_t error_size) {
    try {
        // lungct logs each event itself; DCMTK's own lines would interleave with them.
        lct_net::noNagle();
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        auto *listener = new lct_net_listener();
        listener->callbacks = callbacks;
        listener->spool = spool_folder;
        listener->ownTitle = lct_net::trimmed(ae_title);
        listener->setPort(port);
        listener->setAETitle(ae_title);
        listener->setConnectionBlockingMode(DUL_NOBLOCK);
        listener->setConnectionTimeout(1);
        listener->setACSETimeout(30);
        listener->setDIMSETimeout(60);
        listener->setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        listener->setHostLookupEnabled(OFFalse);
        OFCondition added = listener->setEnableVerification();
        OFList<OFString> syntaxes;
        for (const char *syntax : transferSyntaxes) syntaxes.push_back(syntax);
        for (const char *sopClass : ctClasses)
            if (added.good()) added = listener->addPresentationContext(sopClass, syntaxes);
        if (added.bad()) {
            lct_net::say(error, error_size, std::string("cannot configure the listener: ") + added.text());
            delete listener;
            return nullptr;
        }
        return listener;
    } catch (const std::exception &failure) {
        lct_net::say(error, error_size, std::string("cannot create the listener: ") + failure.what());
        return nullptr;
    }
}

extern "C" int lct_net_listener_open(lct_net_listener *listener, char *error, size_t error_size) {
    return lct_net::guarded("cannot open the port", error, error_size, [&] {
        OFCondition opened = listener->openListenPort();
        if (opened.good()) return LCT_NET_OK;
        lct_net::say(error, error_size, opened.text());
        return LCT_NET_FAILED;
    });
}

extern "C" int lct_net_listener_run(lct_net_listener *listener, char *error, size_t error_size) {
    return lct_net::guarded("the listener failed", error, error_size, [&] {
        OFCondition result = listener->acceptAssociations();
        if (result.good() || listener->stopping.load()) return LCT_NET_OK;
        lct_net::say(error, error_size, result.text());
        return LCT_NET_FAILED;
    });
}

extern "C" void lct_net_listener_stop(lct_net_listener *listener) { listener->stopping.store(true); }

extern "C" void lct_net_listener_free(lct_net_listener *listener) { delete listener; }
