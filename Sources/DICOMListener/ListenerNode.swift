import AppSupport
import DICOMNetwork
import Foundation

/// `lungct listen`: a DICOM node that receives CT images, analyses each study once it has been
/// idle, and sends the DICOM results back. The listener serves associations on a thread of its
/// own; `run` analyses ready studies one after another on the calling thread. A study's
/// analysis runs in a process of its own, so a hostile study costs itself only.
public final class ListenerNode: StorageListenerDelegate, @unchecked Sendable {
    private let options: ListenOptions
    private let inbox: ListenerInbox
    private let log: ListenerLog
    private let allowed: Set<String>
    private var listener: StorageListener!
    private let state = NSLock()
    private var stopping = false
    private var child: ChildProcess?
    /// Per association in progress: images stored and refused.
    private var stored = 0
    private var refusedCount = 0

    public init(_ options: ListenOptions) throws(LungCTError) {
        self.options = options
        inbox = try ListenerInbox(folder: options.folder, maxBytes: options.maxStorageBytes)
        log = ListenerLog(path: options.folder + "/listen.log")
        allowed = Set(options.allowedCallers)
        do {
            listener = try StorageListener(
                port: options.port, aeTitle: options.aeTitle, spoolFolder: inbox.spoolFolder, delegate: self)
        } catch {
            throw .usage("listen: \(error.message)")
        }
    }

    /// Opens the port, then serves until `stop`, then drains: every study with images not yet
    /// analysed is analysed and sent before it returns. Throws when the port cannot be opened.
    public func run() throws(LungCTError) {
        do {
            try listener.open()
        } catch {
            log("cannot listen on port \(options.port): \(error.message)")
            throw .usage("listen: port \(options.port): \(error.message)")
        }
        log(
            "listening as \(ListenerLog.shown(options.aeTitle)) on port \(options.port); results to "
                + (options.destination.map { "\($0)" } ?? "the folder only") + "; a study is analysed after "
                + "\(options.idleSeconds) s without images")
        checkDestination()
        let failure = Slots<NetworkError?>(count: 1, initial: nil)
        let served = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [listener] in
            do throws(NetworkError) { try listener!.run() } catch { failure.set(0, error) }
            served.signal()
        }
        while served.wait(timeout: .now() + 0.2) == .timedOut {
            if isStopping { continue }
            for study in inbox.takeReady(idle: options.idleSeconds) { analyse(study) }
        }
        if let error = failure.get(0) {
            log("cannot serve: \(error.message)")
            throw .internalFailure("listen: the listener stopped: \(error.message)")
        }
        let left = inbox.takeReady(idle: nil)
        log("stopped listening; \(left.count) stud\(left.count == 1 ? "y" : "ies") left to analyse")
        for study in left { analyse(study) }
        log("stopped")
    }

    /// The first SIGINT or SIGTERM: stop accepting, finish what was received. Returns false
    /// when a stop was already asked for (the caller then ends at once, killing the analysis).
    public func stop() -> Bool {
        let first = state.withLock {
            defer { stopping = true }
            return !stopping
        }
        if first {
            log("stopping: no new associations; the studies received are analysed and sent first")
            listener.stop()
        }
        return first
    }

    /// Ends the analysis in progress at once (the second signal).
    public func killAnalysis() {
        if let analysis = state.withLock({ child }) { kill(analysis.pid, SIGKILL) }
    }

    private var isStopping: Bool { state.withLock { stopping } }

    private func checkDestination() {
        guard let destination = options.destination else { return }
        do {
            try StorageSender.echo(destination, callingAE: options.aeTitle)
            log("destination \(destination) answers C-ECHO")
        } catch {
            log("destination \(destination) does not answer C-ECHO (results are kept and sending is tried): \(error)")
        }
    }

    // MARK: One study

    private func analyse(_ study: ListenerInbox.Study) {
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: inbox.results + "/" + study.key)) ?? []
        let output = inbox.results + "/" + study.key + "/run-\(runs.filter { !$0.hasSuffix(".log") }.count + 1)"
        try? FileManager.default.createDirectory(
            atPath: inbox.results + "/" + study.key, withIntermediateDirectories: true)
        log("\(study.key): analysing (\(study.series.count) series) into \(output)")
        let started = Date()
        let outcome = StudyRun(launcher: options.analysis).run(inbox.incoming + "/" + study.key, into: output) {
            analysis in state.withLock { child = analysis }
        }
        state.withLock { child = nil }
        inbox.add(resultsAt: output)
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        switch outcome {
        case .failed(let reason):
            log("\(study.key): analysis failed after \(seconds) s: \(reason)")
        case .analysed(let objects, let probability, let warnings):
            let figure = probability.map { String(format: "study probability %.3f", $0) } ?? "no study probability"
            log(
                "\(study.key): analysed in \(seconds) s: \(figure), \(warnings) warning(s), \(objects.count) DICOM objects"
            )
            send(objects, of: study)
        }
    }

    private func send(_ objects: [String], of study: ListenerInbox.Study) {
        guard let destination = options.destination, !objects.isEmpty else { return }
        do {
            let count = try StorageSender.send(objects, to: destination, callingAE: options.aeTitle)
            let after = String(format: "%.1f", Date().timeIntervalSince(study.lastImage))
            log("\(study.key): sent \(count) objects to \(destination), \(after) s after its last image")
        } catch {
            log("\(study.key): sending to \(destination) failed (results kept in the folder): \(error)")
        }
    }

    // MARK: StorageListenerDelegate (the listener's thread)

    public func accept(callingAE: String, peerHost: String) -> Bool {
        let accepted = allowed.isEmpty || allowed.contains(callingAE)
        log(
            "association from \(ListenerLog.shown(callingAE)) at \(peerHost) "
                + (accepted ? "accepted" : "refused: calling AE title not in --allow"))
        return accepted
    }

    public func stored(_ object: ReceivedObject) -> StoreStatus {
        let (status, reason) = inbox.file(object)
        if let reason {
            refused(callingAE: object.callingAE, sopInstanceUID: "", status: status.rawValue, reason: reason)
        } else {
            state.withLock { stored += 1 }
        }
        return status
    }

    public func refused(callingAE: String, sopInstanceUID: String, status: UInt16, reason: String) {
        state.withLock { refusedCount += 1 }
        log(
            "image from \(ListenerLog.shown(callingAE)) refused with status \(String(format: "%04X", status)): \(reason)"
        )
    }

    public func associationEnded(callingAE: String, peerHost: String, how: String) {
        let (images, refusals) = state.withLock {
            defer { (stored, refusedCount) = (0, 0) }
            return (stored, refusedCount)
        }
        let who =
            callingAE.isEmpty && peerHost.isEmpty ? "a connection" : "association from \(ListenerLog.shown(callingAE))"
        log("\(who) \(how): \(images) images stored, \(refusals) refused")
    }
}
