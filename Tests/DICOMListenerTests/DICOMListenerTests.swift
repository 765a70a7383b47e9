import DICOMNetwork
import Foundation
import Phantom
import TestSupport
import Testing

@testable import DICOMListener

// The listener's parts without external tools: lungct's own SCU sending to its own SCP, the
// filing of received objects, and the parsing of what the user types.

/// Records what a listener is told.
final class RecordingDelegate: StorageListenerDelegate, @unchecked Sendable {
    let lock = NSLock()
    var objects: [ReceivedObject] = []
    var callers: [String] = []
    var endings: [String] = []
    let folder: String
    init(folder: String) { self.folder = folder }

    func accept(callingAE: String, peerHost: String) -> Bool {
        lock.withLock { callers.append(callingAE) }
        return callingAE != "BANNED"
    }
    func stored(_ object: ReceivedObject) -> StoreStatus {
        let kept = folder + "/\(lock.withLock { objects.count }).dcm"
        try? FileManager.default.moveItem(atPath: object.spoolPath, toPath: kept)
        lock.withLock { objects.append(object) }
        return .success
    }
    func refused(callingAE: String, sopInstanceUID: String, status: UInt16, reason: String) {}
    func associationEnded(callingAE: String, peerHost: String, how: String) { lock.withLock { endings.append(how) } }
}

/// A listener serving on a free port on a thread of its own, stopped by `defer`.
func servingListener(_ delegate: RecordingDelegate, spool: String) throws -> (StorageListener, UInt16) {
    let port = try freeTCPPort()
    let listener = try StorageListener(port: port, aeTitle: "LUNGCT", spoolFolder: spool, delegate: delegate)
    try listener.open()
    Thread.detachNewThread { try? listener.run() }
    let peer = DICOMPeer(aeTitle: "LUNGCT", host: "127.0.0.1", port: port)
    _ = waitFor(seconds: 10) { (try? StorageSender.echo(peer, callingAE: "TEST")) != nil }
    return (listener, port)
}

@Test func ownSenderStoresAPhantomSeriesInOwnListener() throws {
    let work = try temporaryDirectory()
    let (phantom, options) = testPhantom(size: 32, slices: 3, spacing: 10)
    let files = try PhantomWriter.write(phantom, options: options, layout: PhantomLayout(), to: work + "/ct").dicomFiles
    try FileManager.default.createDirectory(atPath: work + "/kept", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: work + "/spool", withIntermediateDirectories: true)
    let delegate = RecordingDelegate(folder: work + "/kept")
    let (listener, port) = try servingListener(delegate, spool: work + "/spool")
    defer { listener.stop() }
    let peer = DICOMPeer(aeTitle: "LUNGCT", host: "127.0.0.1", port: port)

    #expect(try StorageSender.send(files, to: peer, callingAE: "SENDER") == files.count)
    let objects = delegate.lock.withLock { delegate.objects }
    #expect(objects.count == files.count)
    #expect(Set(objects.map(\.sopClassUID)) == ["1.2.840.10008.5.1.4.1.1.2"])
    #expect(Set(objects.map(\.studyInstanceUID)).count == 1)
    #expect(objects.allSatisfy { $0.callingAE == "SENDER" && $0.modality == "CT" && $0.bytes > 0 })
    let kept = try FileManager.default.contentsOfDirectory(atPath: work + "/kept")
    #expect(kept.count == files.count, "each object arrived as a file")
    #expect(try FileManager.default.contentsOfDirectory(atPath: work + "/spool").isEmpty, "nothing left in the spool")

    // A refused caller and a wrong called AE title get no association; the listener goes on.
    #expect(throws: NetworkError.self) { try StorageSender.echo(peer, callingAE: "BANNED") }
    var elsewhere = peer
    elsewhere.aeTitle = "SOMEONE"
    #expect(throws: NetworkError.self) { try StorageSender.echo(elsewhere, callingAE: "SENDER") }
    try StorageSender.echo(peer, callingAE: "SENDER")
}

@Test func receivedObjectsAreFiledUnderDigestsNeverUnderTheirUIDs() throws {
    let work = try temporaryDirectory()
    let inbox = try ListenerInbox(folder: work, maxBytes: 10_000)
    func received(study: String, series: String, instance: String, bytes: Int) throws -> ReceivedObject {
        let spool = inbox.spoolFolder + "/in-\(UUID().uuidString).dcm"
        try Data(repeating: 7, count: bytes).write(to: URL(fileURLWithPath: spool))
        return ReceivedObject(
            callingAE: "A", peerHost: "127.0.0.1", sopClassUID: "1.2.840.10008.5.1.4.1.1.2", sopInstanceUID: instance,
            studyInstanceUID: study, seriesInstanceUID: series, modality: "CT", spoolPath: spool,
            bytes: UInt64(bytes))
    }
    let hostile = try received(study: "../../../etc", series: "/tmp/x\u{0}y", instance: "..", bytes: 1000)
    #expect(inbox.file(hostile).0 == .success)
    let filed = try #require(FileManager.default.enumerator(atPath: inbox.incoming)?.allObjects as? [String])
    let image = try #require(filed.first { $0.hasSuffix(".dcm") })
    #expect(image.split(separator: "/").count == 3)
    #expect(image.hasPrefix(ListenerInbox.key("study", "../../../etc") + "/series-"))
    #expect(!image.contains(".."))
    #expect(FileManager.default.fileExists(atPath: inbox.incoming + "/" + image))

    // The same instance again replaces the first copy; the bound counts it once.
    #expect(
        inbox.file(try received(study: "../../../etc", series: "/tmp/x\u{0}y", instance: "..", bytes: 1000)).0
            == .success)
    #expect(inbox.usedBytes == 1000)
    let tooBig = try received(study: "1.2", series: "1.2.3", instance: "1.2.3.4", bytes: 9500)
    #expect(inbox.file(tooBig).0 == .outOfResources)
    let noStudy = try received(study: "", series: "1.2.3", instance: "1.2.3.5", bytes: 10)
    #expect(inbox.file(noStudy).0 == .cannotUnderstand)
}

@Test func aStudyIsReadyOnceIdleAndAgainAfterNewImages() throws {
    let work = try temporaryDirectory()
    let inbox = try ListenerInbox(folder: work, maxBytes: nil)
    let start = Date()
    func file(_ instance: String, at seconds: Double) throws {
        let spool = inbox.spoolFolder + "/\(instance).dcm"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: spool))
        let object = ReceivedObject(
            callingAE: "A", peerHost: "", sopClassUID: "1.2.840.10008.5.1.4.1.1.2", sopInstanceUID: instance,
            studyInstanceUID: "1.2.9", seriesInstanceUID: "1.2.9.1", modality: "CT", spoolPath: spool, bytes: 3)
        #expect(inbox.file(object, now: start.addingTimeInterval(seconds)).0 == .success)
    }
    try file("1.2.9.1.1", at: 0)
    try file("1.2.9.1.2", at: 2)
    #expect(inbox.takeReady(idle: 3, now: start.addingTimeInterval(4)).isEmpty, "2 s after the last image")
    let ready = inbox.takeReady(idle: 3, now: start.addingTimeInterval(5.5))
    #expect(ready.map(\.pending) == [2])
    #expect(inbox.takeReady(idle: 3, now: start.addingTimeInterval(60)).isEmpty, "taken once")
    try file("1.2.9.1.3", at: 61)
    #expect(inbox.takeReady(idle: nil, now: start.addingTimeInterval(61)).count == 1, "a drain takes it at once")
}

@Test func peersAndAETitlesAreCheckedAsTyped() throws {
    #expect(
        try DICOMPeer.parse("ORTHANC@pacs.example:4242").get()
            == DICOMPeer(aeTitle: "ORTHANC", host: "pacs.example", port: 4242))
    #expect(try DICOMPeer.parse("A@::1:104").get().host == "::1")
    for bad in [
        "ORTHANC@pacs", "@pacs:4242", "ORTHANC@:4242", "ORTHANC@pacs:0", "ORTHANC@pacs:70000", "A\\B@h:1",
        "SEVENTEEN_CHARS_X@h:1", "ORTHANC@pa cs:1",
    ] {
        #expect(throws: PeerSyntaxError.self, "\(bad)") { try DICOMPeer.parse(bad).get() }
    }
    #expect(AETitle.isValid("LUNGCT"))
    #expect(!AETitle.isValid("   "))
    #expect(!AETitle.isValid("LÜNGCT"))
}
