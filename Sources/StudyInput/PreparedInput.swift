import AppSupport
import Foundation

/// An input already looked at and loaded, handed to `Analyzer.analyze` through
/// `AnalysisOptions.prepared`: a batch decodes the next study while the current one is
/// analysed, and reads a series from a list of files rather than from one folder.
public struct PreparedInput: Sendable {
    public var inspection: Inspection
    public var image: LoadedImage
    /// How long inspecting and loading took (reported as the "load" timing).
    public var loadSeconds: Double

    public init(inspection: Inspection, image: LoadedImage, loadSeconds: Double) {
        self.inspection = inspection
        self.image = image
        self.loadSeconds = loadSeconds
    }
}
