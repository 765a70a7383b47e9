import AppSupport
import Foundation
import NIfTIIO
import VolumeCore

/// What `lungct convert` wrote.
public struct ConversionResult: Codable, Sendable {
    public var input: String
    public var output: String
    public var series: String?
    public var type: String
    public var size: [Int]
    public var spacingMM: [Double]
    public var orientation: String
    public var seconds: Double
    /// The series' corrections and warnings (what was assumed or repaired on the way).
    public var warnings: [String]
}

public enum Converter {
    /// Writes the chosen (or named) series of `input` as a NIfTI volume in HU at `output`:
    /// int16 when every value is an exact integer HU, float32 otherwise. Radiographs are written
    /// as a one-slice float32 volume of their gray values.
    public static func convert(input: String, output: String, series: String? = nil) throws(LungCTError)
        -> ConversionResult
    {
        let start = Date()
        var inspection = try Inspection.inspect(input)
        let image = try inspection.load(series: series)
        let geometry: Geometry
        let type: String
        do {
            switch image {
            case .ct(.int16(let volume)):
                try NIfTI.write(volume, to: output, description: "lungct HU")
                (geometry, type) = (volume.geometry, "int16")
            case .ct(.float32(let volume)):
                try NIfTI.write(volume, to: output, description: "lungct HU")
                (geometry, type) = (volume.geometry, "float32")
            case .radiograph(let picture):
                try NIfTI.write(picture.volume, to: output, description: "lungct radiograph")
                (geometry, type) = (picture.volume.geometry, "float32")
            }
        } catch {
            throw .outputFailed(error.description)
        }
        return ConversionResult(
            input: input, output: output, series: series ?? inspection.report.chosen, type: type,
            size: [geometry.size.x, geometry.size.y, geometry.size.z],
            spacingMM: [geometry.spacing.x, geometry.spacing.y, geometry.spacing.z].map {
                $0.rounded(places: ReportPrecision.millimetres)
            },
            orientation: geometry.orientationCode, seconds: Date().timeIntervalSince(start),
            warnings: warnings(of: inspection, series: series))
    }

    /// The corrections and warnings of the converted series' entry.
    static func warnings(of inspection: Inspection, series: String?) -> [String] {
        let entry =
            inspection.report.series.first { $0.id == series || $0.seriesUID == series }
            ?? inspection.report.series.first { $0.status == .chosen }
        return (entry?.corrections ?? []).map { "corrected: \($0)" } + (entry?.warnings ?? [])
    }
}
