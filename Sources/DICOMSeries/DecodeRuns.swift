import Dispatch
import Foundation

/// How the input slices of a plan are shared among workers: one unit of work per single-frame
/// file, and a multi-frame object's frames in runs of consecutive frames, so that a worker opens
/// (and parses) the object once per run rather than once per frame, while every core still
/// gets frames to decode.
enum DecodeRuns {
    /// Runs per multi-frame object, per core: a few more than one, so that a core that finishes
    /// early takes another run instead of waiting for the slowest.
    static let runsPerCore = 4

    /// Input slice indices grouped into units of work, in input order within each.
    static func units(_ slices: [DICOMHeader], cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> [[Int]] {
        var units: [[Int]] = []
        var framesByFile: [String: [Int]] = [:]
        var files: [String] = []
        for (input, header) in slices.enumerated() {
            guard header.frameIndex != nil else {
                units.append([input])
                continue
            }
            if framesByFile[header.path] == nil { files.append(header.path) }
            framesByFile[header.path, default: []].append(input)
        }
        let runs = max(1, cores * runsPerCore)
        for file in files {
            let frames = (framesByFile[file] ?? []).sorted {
                (slices[$0].frameIndex ?? 0) < (slices[$1].frameIndex ?? 0)
            }
            let length = max(1, (frames.count + runs - 1) / runs)
            units += stride(from: 0, to: frames.count, by: length).map {
                Array(frames[$0..<min($0 + length, frames.count)])
            }
        }
        return units
    }
}

extension SeriesLoader {
    /// Decodes each input slice on a worker and hands it to `store` with its output plane index
    /// and the open file it comes from. Stops reporting at the first error; returns whether every
    /// `store` call succeeded.
    static func decodeAll(
        _ plan: StackPlan,
        store: @escaping @Sendable (_ plane: Int, _ header: DICOMHeader, _ file: PixelFile) throws(DICOMError) -> Bool
    ) -> Result<Bool, DICOMError> {
        var planeOfInput = [Int](repeating: -1, count: plan.slices.count)
        for (output, source) in plan.sources.enumerated() {
            if case .slice(let input) = source { planeOfInput[input] = output }
        }
        let outputs = planeOfInput
        let units = DecodeRuns.units(plan.slices)
        let results = ConcurrentResults<Result<Bool, DICOMError>>(count: plan.slices.count)
        DispatchQueue.concurrentPerform(iterations: units.count) { unit in
            let inputs = units[unit]
            do throws(DICOMError) {
                let file = try PixelFile(for: plan.slices[inputs[0]])
                for input in inputs {
                    results[input] = .success(try store(outputs[input], plan.slices[input], file))
                }
            } catch {
                for input in inputs where results[input] == nil { results[input] = .failure(error) }
            }
        }
        var allFit = true
        for result in results.values {
            switch result {
            case .failure(let error): return .failure(error)
            case .success(let fit): allFit = allFit && fit
            case nil: allFit = false
            }
        }
        return .success(allFit)
    }
}
