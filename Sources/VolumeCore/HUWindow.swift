import Foundation

/// A display or network input window on the HU scale: values from `center − width/2` to
/// `center + width/2` map to 0...1, below and above are clipped.
public struct HUWindow: Sendable, Hashable, Codable, CustomStringConvertible {
    public var center: Double
    public var width: Double

    public init(center: Double, width: Double) {
        precondition(width > 0, "a window needs a positive width")
        self.center = center
        self.width = width
    }

    /// The usual lung window, level −600 HU, width 1500 HU (the lung preset of 3D Slicer and
    /// most PACS viewers; Radiopaedia, "Windowing (CT)": W 1500, L −600): air is dark gray,
    /// aerated lung mid-gray, soft tissue near white. The overview draws CT in it and the
    /// slice model sees CT through it.
    public static let lung = HUWindow(center: -600, width: 1500)
    /// The usual mediastinal (soft tissue) window, level 40 HU, width 400 HU.
    public static let mediastinum = HUWindow(center: 40, width: 400)

    /// A window by name ("lung", "mediastinum") or as "L,W" (e.g. "-600,1500").
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "lung": self = .lung
        case "mediastinum", "soft-tissue": self = .mediastinum
        default:
            let parts = text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, parts[1] > 0 else { return nil }
            self.init(center: parts[0], width: parts[1])
        }
    }

    public var lower: Double { center - width / 2 }
    public var upper: Double { center + width / 2 }

    /// The value in 0...1.
    @inlinable public func normalized(_ hu: Double) -> Double {
        min(1, max(0, (hu - (center - width / 2)) / width))
    }

    public var description: String { "L \(center) / W \(width) HU" }
}
