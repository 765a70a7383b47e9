import DICOMNetwork

/// What `lungct listen` was asked to do.
public struct ListenOptions: Sendable {
    /// The TCP port and AE title the listener answers on.
    public var port: UInt16
    public var aeTitle: String
    /// Calling AE titles accepted; empty: any.
    public var allowedCallers: [String] = []
    /// Where the DICOM results are sent by C-STORE; nil: kept in the folder only.
    public var destination: DICOMPeer?
    /// The listener's folder: incoming/ (received images), results/ (analyses), listen.log.
    public var folder: String
    /// A study is analysed once none of its series has received an image for this long.
    public var idleSeconds = 3.0
    /// The most the folder may hold (received images and results); nil: no bound. An image that
    /// would pass it is refused with status A700 (out of resources).
    public var maxStorageBytes: UInt64?
    /// How an analysis is started: each runs in a process of its own.
    public var analysis: AnalysisLauncher

    public init(port: UInt16, aeTitle: String, folder: String, analysis: AnalysisLauncher) {
        self.port = port
        self.aeTitle = aeTitle
        self.folder = folder
        self.analysis = analysis
    }
}

/// The process that analyses one study (the CLI: its own executable, `analyze`), so that a
/// study that crashes or hangs the analysis costs that study only, never the listener.
public struct AnalysisLauncher: Sendable {
    public var executable: String
    /// Arguments before the study folder (the CLI: ["analyze"]).
    public var arguments: [String]
    /// Arguments after the output folder (model choice).
    public var extraArguments: [String]
    /// Wall-clock seconds a study's analysis may take before its process is killed.
    public var timeoutSeconds: Double

    public init(executable: String, arguments: [String], extraArguments: [String], timeoutSeconds: Double) {
        self.executable = executable
        self.arguments = arguments
        self.extraArguments = extraArguments
        self.timeoutSeconds = timeoutSeconds
    }
}
