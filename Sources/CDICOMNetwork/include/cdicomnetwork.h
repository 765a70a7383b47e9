/*
 * cdicomnetwork.h: the narrow C interface over DCMTK's dcmnet through which `lungct listen`
 * talks DICOM: a storage SCP (DcmSCP: C-STORE of CT images and C-ECHO) that hands every
 * received object to its caller, and a storage SCU (DcmStorageSCU: C-STORE of files, C-ECHO)
 * that sends the results to a destination.
 *
 * DCMTK is C++; Swift stays out of C++ interop mode, so this header is plain C. Every C++
 * exception and every OFCondition is caught inside the .cpp files and turned into a status
 * code plus a message. Only the Swift module DICOMNetwork imports this.
 */
#ifndef CDICOMNETWORK_H
#define CDICOMNETWORK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes returned by the functions below. */
enum {
    LCT_NET_OK = 0,
    LCT_NET_FAILED = 1,    /* the network said no: see the message */
    LCT_NET_INTERNAL = 2   /* a C++ exception or allocation failure */
};

/** DIMSE statuses a `stored` callback answers with (PS3.4 Annex B.2.3 and PS3.7 C.4.2). */
enum {
    LCT_NET_STATUS_SUCCESS = 0x0000,
    LCT_NET_STATUS_OUT_OF_RESOURCES = 0xA700,  /* Refused: Out of Resources (storage bound) */
    LCT_NET_STATUS_DATASET_MISMATCH = 0xA900,  /* Error: Data Set does not match SOP Class */
    LCT_NET_STATUS_CANNOT_UNDERSTAND = 0xC000  /* Error: Cannot understand */
};

/** One object received by C-STORE, written as a DICOM file (with meta header) to a spool
 *  file. Every string is as the peer sent it (trailing spaces removed) and untrusted. */
typedef struct lct_net_received {
    const char *calling_ae;
    const char *peer_host;
    const char *sop_class_uid;     /* from the C-STORE request */
    const char *sop_instance_uid;  /* from the C-STORE request */
    const char *study_instance_uid;
    const char *series_instance_uid;
    const char *modality;
    const char *spool_path;        /* where the object is; the callee moves it away or not */
    uint64_t bytes;                /* size of the spool file */
} lct_net_received;

/** What the listener calls, from the thread that runs `lct_net_listener_run`. */
typedef struct lct_net_callbacks {
    void *context;
    /** 1 to accept an association request, 0 to refuse it (calling AE title not recognised). */
    int (*accept_calling)(void *context, const char *calling_ae, const char *peer_host);
    /** A C-STORE arrived and was checked (its dataset parses, and its SOP Class and Instance
     *  equal the request's). Returns the DIMSE status of the response. The spool file is
     *  deleted afterwards if it is still there. */
    uint16_t (*stored)(void *context, const lct_net_received *object);
    /** An object refused before `stored`: the request's SOP Instance UID, the status sent, why. */
    void (*refused)(void *context, const char *calling_ae, const char *sop_instance_uid, uint16_t status,
                    const char *reason);
    /** An association ended (released, aborted or failed), with what it brought. */
    void (*association_ended)(void *context, const char *calling_ae, const char *peer_host, const char *how);
} lct_net_callbacks;

typedef struct lct_net_listener lct_net_listener;

/** A C-STORE / C-ECHO SCP on `port` with AE title `ae_title` (associations calling another
 *  AE title are refused), accepting CT Image, Enhanced CT and Legacy Converted Enhanced CT
 *  in the transfer syntaxes lungct decodes. Received objects are spooled in `spool_folder`,
 *  which must exist. NULL on failure, with the reason in `error`. */
lct_net_listener *lct_net_listener_create(uint16_t port, const char *ae_title, const char *spool_folder,
                                          lct_net_callbacks callbacks, char *error, size_t error_size);

/** Opens the port (binds and listens): LCT_NET_FAILED, with the reason, when it cannot. */
int lct_net_listener_open(lct_net_listener *listener, char *error, size_t error_size);

/** Serves associations on the opened port one after the other until `lct_net_listener_stop`;
 *  a malformed or failed association ends that association only. Returns LCT_NET_OK after a
 *  stop. */
int lct_net_listener_run(lct_net_listener *listener, char *error, size_t error_size);

/** Asks a running listener to stop after its current association (or within a second when
 *  idle). Safe from any thread; only an atomic store. */
void lct_net_listener_stop(lct_net_listener *listener);

void lct_net_listener_free(lct_net_listener *listener);

/** Sends `files` (DICOM files) by C-STORE over one association from `calling_ae` to
 *  `called_ae` at host:port, each in its own transfer syntax. `sent` is how many were stored
 *  with a success or warning status. LCT_NET_OK when every file was; the first problem in
 *  `error` otherwise. `timeout_seconds` bounds connecting and each network wait. */
int lct_net_send(const char *host, uint16_t port, const char *calling_ae, const char *called_ae,
                 const char *const *files, int count, int timeout_seconds, int *sent, char *error,
                 size_t error_size);

/** C-ECHO from `calling_ae` to `called_ae` at host:port: LCT_NET_OK when the peer answers. */
int lct_net_echo(const char *host, uint16_t port, const char *calling_ae, const char *called_ae,
                 int timeout_seconds, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
