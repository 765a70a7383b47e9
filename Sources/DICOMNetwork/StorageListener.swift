internal import CDICOMNetwork
import Foundation

/// One object a peer stored: where it was spooled and what it says it is. Every string came
/// from the network and is untrusted (never a path without sanitising).
public struct ReceivedObject: Sendable {
    public var callingAE: String
    public var peerHost: String
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var modality: String
    /// The spool file; `stored` moves it away to keep it (it is deleted otherwise).
    public var spoolPath: String
    public var bytes: UInt64

    public init(
        callingAE: String, peerHost: String, sopClassUID: String, sopInstanceUID: String, studyInstanceUID: String,
        seriesInstanceUID: String, modality: String, spoolPath: String, bytes: UInt64
    ) {
        self.callingAE = callingAE
        self.peerHost = peerHost
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
        self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.modality = modality
        self.spoolPath = spoolPath
        self.bytes = bytes
    }
}

/// The answer to one C-STORE.
public enum StoreStatus: UInt16, Sendable {
    case success = 0x0000
    case outOfResources = 0xA700
    case datasetMismatch = 0xA900
    case cannotUnderstand = 0xC000
}

/// What a listener tells its owner, called on the listener's thread, one association at a time.
public protocol StorageListenerDelegate: AnyObject, Sendable {
    /// Whether an association from `callingAE` is accepted.
    func accept(callingAE: String, peerHost: String) -> Bool
    /// An object arrived and parses; the status to answer with.
    func stored(_ object: ReceivedObject) -> StoreStatus
    /// An object was refused before `stored` (unreadable, or not what the request said).
    func refused(callingAE: String, sopInstanceUID: String, status: UInt16, reason: String)
    /// An association or a connection ended (`how`: released, aborted, failed: ...).
    func associationEnded(callingAE: String, peerHost: String, how: String)
}

/// A C-STORE (CT images) and C-ECHO SCP over DCMTK's DcmSCP: `run` serves associations one
/// after another on the calling thread until `stop`.
public final class StorageListener: @unchecked Sendable {
    private let handle: OpaquePointer
    private let box: Unmanaged<DelegateBox>

    public init(port: UInt16, aeTitle: String, spoolFolder: String, delegate: StorageListenerDelegate)
        throws(NetworkError)
    {
        let box = Unmanaged.passRetained(DelegateBox(delegate))
        var callbacks = lct_net_callbacks()
        callbacks.context = box.toOpaque()
        callbacks.accept_calling = { context, calling, host in
            DelegateBox.of(context).delegate.accept(callingAE: text(calling), peerHost: text(host)) ? 1 : 0
        }
        callbacks.stored = { context, object in
            guard let object else { return StoreStatus.cannotUnderstand.rawValue }
            return DelegateBox.of(context).delegate.stored(ReceivedObject(object.pointee)).rawValue
        }
        callbacks.refused = { context, calling, instance, status, reason in
            DelegateBox.of(context).delegate.refused(
                callingAE: text(calling), sopInstanceUID: text(instance), status: status, reason: text(reason))
        }
        callbacks.association_ended = { context, calling, host, how in
            DelegateBox.of(context).delegate.associationEnded(
                callingAE: text(calling), peerHost: text(host), how: text(how))
        }
        var message = [CChar](repeating: 0, count: 1024)
        guard let handle = lct_net_listener_create(port, aeTitle, spoolFolder, callbacks, &message, message.count)
        else {
            box.release()
            throw NetworkError(message: String(cString: message))
        }
        self.handle = handle
        self.box = box
    }

    deinit {
        lct_net_listener_free(handle)
        box.release()
    }

    /// Opens the port: throws when it cannot be opened (in use, privileged). After it returns,
    /// peers can connect (their associations wait for `run`).
    public func open() throws(NetworkError) {
        try reportingFailure { lct_net_listener_open(handle, $0, $1) }
    }

    /// Serves the opened port until `stop` (returns normally).
    public func run() throws(NetworkError) {
        try reportingFailure { lct_net_listener_run(handle, $0, $1) }
    }

    /// Stops after the current association, or within a second when idle; any thread.
    public func stop() { lct_net_listener_stop(handle) }
}

private final class DelegateBox {
    let delegate: StorageListenerDelegate
    init(_ delegate: StorageListenerDelegate) { self.delegate = delegate }
    static func of(_ context: UnsafeMutableRawPointer?) -> DelegateBox {
        Unmanaged<DelegateBox>.fromOpaque(context!).takeUnretainedValue()
    }
}

/// A C string from the network, shown as text (invalid UTF-8 repaired, never trusted).
private func text(_ pointer: UnsafePointer<CChar>?) -> String {
    pointer.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) } ?? ""
}

extension ReceivedObject {
    fileprivate init(_ object: lct_net_received) {
        self.init(
            callingAE: text(object.calling_ae), peerHost: text(object.peer_host),
            sopClassUID: text(object.sop_class_uid), sopInstanceUID: text(object.sop_instance_uid),
            studyInstanceUID: text(object.study_instance_uid), seriesInstanceUID: text(object.series_instance_uid),
            modality: text(object.modality), spoolPath: text(object.spool_path), bytes: object.bytes)
    }
}
