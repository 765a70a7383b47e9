import AppSupport
import ArgumentParser
import DICOMListener
import DICOMNetwork
import Foundation

struct Listen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive CT images over DICOM, analyse each study when it is idle, send the DICOM results back.",
        discussion: """
            A C-STORE SCP (CT Image, Enhanced CT, Legacy Converted Enhanced CT, in every transfer \
            syntax lungct reads; C-ECHO too). Received images are filed in OUT/incoming/ under names \
            made from the SHA-256 of their UIDs. Once a study has received no image for \
            --idle-seconds, it is analysed as `lungct analyze --dicom` would, in a process of its \
            own, into OUT/results/STUDY/run-N/, and the Segmentation, Parametric Map, SR and \
            Secondary Capture are sent by C-STORE to --send-to. The DICOM objects carry the source's \
            patient module so that the PACS files them with the study (report.json stays \
            de-identified). One log line per event on stderr and in OUT/listen.log. SIGINT or SIGTERM: \
            no new associations, the studies received are analysed and sent, then exit 0; a second \
            signal ends at once. Research use only, not for clinical use. Example:

              lungct listen --port 11112 --ae-title LUNGCT --allow ORTHANC --send-to ORTHANC@pacs:4242 -o /data/lungct
            """)

    @Option(help: "TCP port to listen on.")
    var port: UInt16

    @Option(name: .customLong("ae-title"), help: "This node's AE title (associations calling another are refused).")
    var aeTitle = "LUNGCT"

    @Option(name: .customLong("allow"), help: "A calling AE title to accept (repeat for more); default: any.")
    var allowed: [String] = []

    @Option(
        name: .customLong("send-to"), help: "Where results go by C-STORE: AE@HOST:PORT (default: kept in OUT only).")
    var sendTo: String?

    @Option(name: .shortAndLong, help: "The listener's folder (created if missing).")
    var output: String

    @Option(name: .customLong("idle-seconds"), help: "Analyse a study after this many seconds without a new image.")
    var idleSeconds = 3.0

    @Option(
        name: .customLong("max-storage-gb"), help: "Refuse images (status A700) once OUT would hold more than this.")
    var maxStorageGB: Double?

    @Option(name: .customLong("case-timeout"), help: "Seconds a study's analysis may take before it is killed.")
    var caseTimeout = 600.0

    @OptionGroup var models: ModelOptions

    func validate() throws {
        guard AETitle.isValid(aeTitle) else { throw ValidationError("--ae-title: 1 to 16 printable characters") }
        for title in allowed where !AETitle.isValid(title) {
            throw ValidationError("--allow \(title): 1 to 16 printable characters")
        }
        if let sendTo, case .failure(let error) = DICOMPeer.parse(sendTo) {
            throw ValidationError("--send-to \(error)")
        }
        guard port > 0 else { throw ValidationError("--port must be 1 to 65535") }
        guard idleSeconds.isFinite, (0...86_400).contains(idleSeconds) else {
            throw ValidationError("--idle-seconds must be 0 to 86400")
        }
        guard caseTimeout.isFinite, caseTimeout > 0 else { throw ValidationError("--case-timeout must be above 0") }
        if let maxStorageGB, !(maxStorageGB.isFinite && maxStorageGB > 0 && maxStorageGB < 1e9) {
            throw ValidationError("--max-storage-gb must be above 0")
        }
    }

    func run() throws {
        _ = try models.load()  // a missing or damaged model is said now, not at the first study
        var extra: [String] = models.noModel ? ["--no-model"] : []
        if let model = models.model { extra += ["--model", URL(fileURLWithPath: model).standardizedFileURL.path] }
        let launcher = AnalysisLauncher(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            arguments: [Analyze.configuration.commandName ?? "analyze"], extraArguments: extra,
            timeoutSeconds: caseTimeout)
        var options = ListenOptions(port: port, aeTitle: aeTitle, folder: output, analysis: launcher)
        options.allowedCallers = allowed
        options.destination = try sendTo.map { try DICOMPeer.parse($0).get() }
        options.idleSeconds = idleSeconds
        options.maxStorageBytes = maxStorageGB.map { UInt64($0 * 1_073_741_824) }
        let node = try ListenerNode(options)
        let signals = Self.stopOnSignals(node)
        try node.run()
        withExtendedLifetime(signals) {}
    }

    /// The first SIGINT or SIGTERM drains (no new associations, received studies analysed and
    /// sent); the second kills the analysis in progress and ends at once.
    static func stopOnSignals(_ node: ListenerNode) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if !node.stop() {
                    node.killAnalysis()
                    _exit(ExitCode.interrupted.rawValue)
                }
            }
            source.resume()
            return source
        }
    }
}
