import AppSupport
import Dispatch
import Foundation
import ModelRuntime
import VolumeCore

/// What the HU lesion network found in a CT: the maps on the input grid, the report's part and
/// each slice's figures.
public struct LesionAnalysis: Sendable {
    /// Per voxel: the probability of a COVID-19-type lesion, 1 − P(background) (for the
    /// shipped model P(ground glass) + P(consolidation)) in steps of 1 / `probabilitySteps`, 0
    /// outside the lungs.
    public var probability: Volume<Float>
    /// Per voxel: 0 none, else the likelier lesion class (1 ground glass, 2 consolidation for
    /// the shipped model) where the lesion probability is at least `LesionScoring.maskThreshold`,
    /// inside the lungs only.
    public var mask: Volume<UInt8>
    public var report: LesionReport
    /// Every axial slice with lung, inferior to superior.
    public var slices: [LesionReport.Slice]
    /// The steps' durations in seconds, under "grid", "network", "map" and "panel".
    public var timings: [(step: String, seconds: Double)]
}

/// Running the lesion network on a CT: LPS view, the model's grid over the lungs, every plane
/// with lung through the network, the class probabilities back on the view and the input grid,
/// kept inside the lungs; then the lesion mask and the panel.
public enum LesionScoring {
    /// A voxel is lesion from this lesion probability on: the class boundary of the softmax
    /// (lesion as likely as not).
    public static let maskThreshold: Float = 0.5

    /// The lesion probability is kept in steps of 1/4096, rounded down: far finer than anything
    /// the network's output means, and a map whose low bits are not noise compresses to a
    /// fortieth (probability.nii.gz of a 512×512×300 CT: 25 MB → 0.7 MB) in half the time.
    /// A power of two, so scaling is exact, and `maskThreshold` a multiple of the step, so a
    /// voxel is lesion exactly when its stored probability is at least the threshold.
    public static let probabilitySteps: Float = 4096

    /// The lesion maps, panel and scores of a CT and its lung labels (same grid, any
    /// orientation); nil when there is no lung.
    public static func analyze(hu: Volume<Int16>, labels: Volume<UInt8>, model: LoadedModel) throws(LungCTError)
        -> LesionAnalysis?
    {
        guard let spec = model.description.grid else {
            throw .modelInvalid("\(model.path): not a lesion model (no lesion grid)")
        }
        var timings: [(step: String, seconds: Double)] = []
        var lap = Date()
        func done(_ step: String) {
            timings.append((step, Date().timeIntervalSince(lap)))
            lap = Date()
        }
        let view = try LPSView(hu: hu, labels: labels)
        guard let grid = LesionGrid(lungs: view.lungs, spec: spec) else { return nil }
        let huOnGrid = grid.resample(view.hu)
        let planes = LesionInference.planes(withLung: grid.resample(labels: view.lungs))
        done("grid")
        let classes = LesionInference.probabilities(model, hu: huOnGrid, grid: grid, planes: planes)
        done("network")
        let onView = mapOnView(classes, grid: grid, lungs: view.lungs)
        done("map")
        let names = Array(model.description.classes.dropFirst())
        let measured = LesionPanel.measureWithSlices(
            hu: view.hu, lungs: view.lungs, lesions: onView.mask, classes: names)
        let slices = sliceFigures(measured.slices, highest: onView.highest, view: view)
        let report = LesionReport(
            model: .init(
                name: URL(fileURLWithPath: model.path).lastPathComponent, sha256: model.sha256, grid: spec,
                classes: model.description.classes),
            maskLabels: Dictionary(
                uniqueKeysWithValues: [("0", "none")] + names.enumerated().map { (String($0 + 1), $1) }),
            panel: measured.panel,
            severity: .init(
                total: measured.panel.total.severity, maximum: 30, zones: measured.panel.zones,
                method: "six zones (\(LesionPanel.zoneDefinition)) × 0–5 points by the fraction involved: 0 none, "
                    + "1 < 5 %, 2 5–25 %, 3 25–50 %, 4 50–75 %, 5 > 75 % (Pan et al., Radiology 2020, per lobe)"),
            score: CovidPatternScore(measured.panel),
            topSlices: Array(
                slices.filter { $0.lesionML > 0 }.sorted { $0.lesionML > $1.lesionML }.prefix(
                    Analyzer.reportedTopSlices)),
            definitions: [
                "peripheralFraction": LesionPanel.peripheryDefinition, "zones": LesionPanel.zoneDefinition,
                "bilateral": LesionPanel.bilateralDefinition,
                "lesion": "lesion probability 1 − P(\(model.description.classes[0])) ≥ \(maskThreshold) inside the "
                    + "lungs; its class is the likelier of the lesion classes",
            ],
            notes: [
                "grid \(grid.size.x)×\(grid.size.y)×\(grid.size.z) at \(spec.pixelMM) mm pixels and \(spec.sliceStepMM) mm "
                    + "planes over the lungs (+\(spec.marginMM) mm), \(spec.channels) planes per input, lung window "
                    + "\(Int(spec.windowLowHU))..\(Int(spec.windowHighHU)) HU; \(planes.count) planes through the network"
            ])
        done("panel")
        return LesionAnalysis(
            probability: try view.onInputGrid(onView.probability), mask: try view.onInputGrid(onView.mask),
            report: report, slices: slices, timings: timings)
    }

    /// The class probabilities (grid arrays, one per lesion class) interpolated onto the lung
    /// voxels of the view, trilinearly as `LesionGrid.onView` does: the lesion probability (their
    /// sum, clamped to 0...1), the mask (`maskThreshold`, likelier class) and each slice's highest
    /// lesion probability. Separably, slices on both cores: each view slice's plane between its
    /// two grid planes, each row with lung between its two grid rows, then each lung voxel
    /// between its two grid points.
    static func mapOnView(_ classes: [[Float]], grid: LesionGrid, lungs: Volume<UInt8>)
        -> (probability: Volume<Float>, mask: Volume<UInt8>, highest: [Float])
    {
        let size = lungs.size
        let (xs, ys, zs) = (grid.axisSamples(0), grid.axisSamples(1), grid.axisSamples(2))
        let n = grid.size
        let classCount = classes.count
        let gridValues = classes.flatMap { $0 }
        var probability = [Float](repeating: 0, count: size.count)
        var mask = [UInt8](repeating: 0, count: size.count)
        let highest = Slots(count: size.z, initial: Float(0))
        probability.withUnsafeMutableBufferPointer { p in
            mask.withUnsafeMutableBufferPointer { m in
                gridValues.withUnsafeBufferPointer { g in
                    lungs.voxels.withUnsafeBufferPointer { l in
                        let (pOut, mOut) = (VoxelPointer(p.baseAddress!), VoxelPointer(m.baseAddress!))
                        let (values, lung) = (
                            VoxelPointer(reading: g.baseAddress!), VoxelPointer(reading: l.baseAddress!)
                        )
                        DispatchQueue.concurrentPerform(iterations: size.z) { z in
                            guard let sz = zs[z] else { return }
                            let slice = SliceInterpolation(
                                values: values, classCount: classCount, grid: n, planes: sz)
                            var top: Float = 0
                            for y in 0..<size.y {
                                let row = (z * size.y + y) * size.x
                                guard let sy = ys[y], (0..<size.x).contains(where: { lung[row + $0] != 0 }) else {
                                    continue
                                }
                                slice.interpolateRow(sy)
                                for x in 0..<size.x where lung[row + x] != 0 {
                                    guard let sx = xs[x] else { continue }
                                    let (total, bestClass) = slice.lesion(at: sx)
                                    pOut[row + x] = total
                                    if total >= maskThreshold { mOut[row + x] = UInt8(bestClass) }
                                    top = max(top, total)
                                }
                            }
                            highest.set(z, top)
                        }
                    }
                }
            }
        }
        return (
            Volume(geometry: lungs.geometry, voxels: probability), Volume(geometry: lungs.geometry, voxels: mask),
            (0..<size.z).map { highest.get($0) }
        )
    }

    /// Each view slice with lung: its index and S position on the input grid, its lesion volume
    /// and its highest lesion probability.
    static func sliceFigures(_ counts: [SliceLesionCounts], highest: [Float], view: LPSView) -> [LesionReport.Slice] {
        let size = view.hu.size
        let voxelML = view.hu.geometry.voxelVolume / 1000
        return counts.indices.filter { counts[$0].lung != [0, 0] }.map { z in
            let point = view.hu.geometry.physicalPoint(i: Double(size.x / 2), j: Double(size.y / 2), k: Double(z))
            return LesionReport.Slice(
                z: CovidScoring.inputSliceIndex(of: point, in: view.inputGeometry),
                positionMM: point.z.rounded(places: ReportPrecision.slicePosition),
                lesionML: (Double(counts[z].lesion.reduce(0, +)) * voxelML).rounded(
                    places: LesionReport.millilitrePlaces),
                maxProbability: Double(highest[z]).rounded(places: ReportPrecision.probability))
        }
    }
}
