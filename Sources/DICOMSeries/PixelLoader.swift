internal import CDCMTK
import Dispatch
import Foundation
import VolumeCore

/// Decoding constants.
public enum PixelConstants {
    /// The HU given to voxels that (0028,0120) Pixel Padding Value marks as "not measured"
    /// (outside the reconstruction circle) and to voxels a tilt correction shifts in from
    /// outside the image: air, so body and lung masks treat them as outside the patient.
    public static let paddingHU: Double = -1024
}

public enum SeriesLoader {
    /// Loads the planned slices as one HU volume: decodes slices (files, or an enhanced CT's
    /// frames in runs, `DecodeRuns`) in parallel through DCMTK, JPEG 2000 through OpenJPEG,
    /// applies HU = stored × (0028,1053) Rescale Slope + (0028,1052) Rescale Intercept per slice
    /// (PS3.3 C.11.1.1.2) with the signedness of (0028,0103) Pixel Representation, maps
    /// (0028,0120) Pixel Padding Value to `PixelConstants.paddingHU`, fills planned gaps and
    /// corrects gantry tilt. A rescale outside `RescaleLimits` throws `.implausibleValue`.
    public static func load(_ plan: StackPlan) throws(DICOMError) -> HUVolume {
        let first = plan.slices[0]
        let label = first.path
        do {
            try VolumeLimits.checkAllocation(plan.geometry.size, bytesPerVoxel: 2, source: label)
        } catch {
            throw DICOMError(.tooLarge, path: label, message: error.description)
        }
        try checkDecodable(plan.slices)

        // Planning refused an implausible rescale already; checked again here, before any
        // conversion to integers, for plans whose headers were changed since.
        var integral = true
        for header in plan.slices { integral = try Rescale(header).isIntegral && integral }
        if integral, var volume = try loadInt16(plan) {
            finish(&volume.voxels, plan: plan)
            return .int16(volume)
        }
        var volume = try loadFloat(plan)
        finish(&volume.voxels, plan: plan)
        return .float32(volume)
    }

    /// Refuses pixel formats lungct does not load as CT, before any decoding.
    static func checkDecodable(_ slices: [DICOMHeader]) throws(DICOMError) {
        for header in slices {
            if let reason = TransferSyntax.whyNotDecodable(header) {
                throw DICOMError(.unsupported, path: header.path, message: "\(header.path): \(reason)")
            }
            if header.samplesPerPixel != 1 || !header.photometricInterpretation.hasPrefix("MONOCHROME") {
                throw DICOMError(
                    .unsupported, path: header.path,
                    message:
                        "\(header.path): \(header.photometricInterpretation) with \(header.samplesPerPixel) samples per pixel is not a CT image"
                )
            }
            if header.bitsAllocated != 8 && header.bitsAllocated != 16 {
                throw DICOMError(
                    .unsupported, path: header.path,
                    message:
                        "\(header.path): (0028,0100) Bits Allocated \(header.bitsAllocated) is not supported (8 or 16)")
            }
        }
    }

    /// Decodes every input slice into its output plane as int16 HU. Returns nil if some
    /// value does not fit int16, so the caller can load as float32 instead.
    static func loadInt16(_ plan: StackPlan) throws(DICOMError) -> Volume<Int16>? {
        let planeSize = plan.geometry.size.x * plan.geometry.size.y
        let (voxels, fits) = try decodePlanes(plan, as: Int16.self) { base, header, file throws(DICOMError) in
            // 16-bit samples are read straight into their output plane and rescaled in
            // place: no second buffer for a 512×512 slice.
            let (raw, decoded, scratch) = try readIntoPlaneOrScratch(
                header, from: file, plane: UnsafeMutableRawPointer(base), count: planeSize)
            defer { scratch?.deallocate() }
            let samples = SampleDecoder(decoded)
            // The rescale decoded with, not only the one planned with: the file may have been
            // rewritten since (a frame's comes from its functional groups, read by the scan).
            // A fractional one now sends the series to float32.
            let rescale = try Rescale(decoded)
            guard rescale.isIntegral else { return false }
            // Within `RescaleLimits`, so these conversions are exact and no product below wraps.
            let slope = Int32(rescale.slope)
            let intercept = Int32(rescale.intercept)
            let padding = Padding(decoded)
            let paddingHU = Int32(PixelConstants.paddingHU)
            // Branch-free loop (the range is checked once, after it) so the compiler can
            // vectorise it; a value outside int16 sends the whole series to float32.
            var low = Int32.max
            var high = Int32.min
            if padding.active || !samples.wide {
                for index in 0..<planeSize {
                    let value = samples.value(raw, index)
                    let hu = padding.contains(value) ? paddingHU : value &* slope &+ intercept
                    low = min(low, hu)
                    high = max(high, hu)
                    base[index] = Int16(truncatingIfNeeded: hu)
                }
            } else {
                // The common case (16-bit samples, no padding): the samples were read into
                // the plane itself, so they are rescaled where they lie.
                guard raw == UnsafeRawPointer(base) else { preconditionFailure("16-bit samples are read in place") }
                (low, high) = rescaleInPlace(
                    base, count: planeSize, samples: samples, slope: slope, intercept: intercept)
            }
            return low >= Int32(Int16.min) && high <= Int32(Int16.max)
        }
        return fits ? Volume(geometry: plan.geometry, voxels: voxels) : nil
    }

    /// HU = sample × slope + intercept for 16-bit samples read into `plane`, written over them
    /// as int16 (wrapping; the caller refuses the plane when the range says a value did not
    /// fit): the range of the HU. One pointer for reading and writing, so the compiler sees
    /// that each element is read before it is written and vectorises the loop; the
    /// alternative, two pointers to the same memory, fails its overlap check at run time and
    /// runs element by element.
    static func rescaleInPlace(
        _ plane: UnsafeMutablePointer<Int16>, count: Int, samples: SampleDecoder, slope: Int32, intercept: Int32
    ) -> (low: Int32, high: Int32) {
        if slope == 1 { return offsetInPlace(plane, count: count, samples: samples, intercept: intercept) }
        var low = Int32.max
        var high = Int32.min
        if samples.signed {
            let shift = Int16(samples.shift)
            for index in 0..<count {
                let hu = Int32((plane[index] &<< shift) &>> shift) &* slope &+ intercept
                low = min(low, hu)
                high = max(high, hu)
                plane[index] = Int16(truncatingIfNeeded: hu)
            }
        } else {
            let mask = Int32(samples.mask)
            for index in 0..<count {
                let hu = (Int32(plane[index]) & mask) &* slope &+ intercept
                low = min(low, hu)
                high = max(high, hu)
                plane[index] = Int16(truncatingIfNeeded: hu)
            }
        }
        return (low, high)
    }

    /// `rescaleInPlace` for a slope of 1, the common case: HU = sample + intercept in 16-bit
    /// lanes, twice as many a vector as 32-bit ones and with the minimum and maximum that
    /// baseline x86-64 (SSE2) has only for 16 bits; the range is the samples' range plus the
    /// intercept, and each result has the same low 16 bits as the 32-bit sum.
    static func offsetInPlace(
        _ plane: UnsafeMutablePointer<Int16>, count: Int, samples: SampleDecoder, intercept: Int32
    )
        -> (low: Int32, high: Int32)
    {
        let add = Int16(truncatingIfNeeded: intercept)
        if samples.signed {
            let shift = Int16(samples.shift)
            var (low, high) = (Int16.max, Int16.min)
            for index in 0..<count {
                let value = (plane[index] &<< shift) &>> shift
                low = min(low, value)
                high = max(high, value)
                plane[index] = value &+ add
            }
            return (Int32(low) + intercept, Int32(high) + intercept)
        }
        // Signed and unsigned integers of one width may alias (the same memory, read as UInt16).
        let words = UnsafeMutableRawPointer(plane).assumingMemoryBound(to: UInt16.self)
        let (mask, unsignedAdd) = (samples.mask, UInt16(bitPattern: add))
        var (low, high) = (UInt16.max, UInt16.min)
        for index in 0..<count {
            let value = words[index] & mask
            low = min(low, value)
            high = max(high, value)
            words[index] = value &+ unsignedAdd
        }
        return (Int32(low) + intercept, Int32(high) + intercept)
    }

    static func loadFloat(_ plan: StackPlan) throws(DICOMError) -> Volume<Float> {
        let planeSize = plan.geometry.size.x * plan.geometry.size.y
        let (voxels, _) = try decodePlanes(plan, as: Float.self) { base, header, file throws(DICOMError) in
            // Float samples are wider than the stored ones, so they always go through scratch.
            let (raw, decoded, scratch) = try readIntoPlaneOrScratch(header, from: file, plane: nil, count: planeSize)
            defer { scratch?.deallocate() }
            let samples = SampleDecoder(decoded)
            let rescale = try Rescale(decoded)
            let slope = rescale.slope
            let intercept = rescale.intercept
            let padding = Padding(decoded)
            for index in 0..<planeSize {
                let value = samples.value(raw, index)
                base[index] = Float(
                    padding.contains(value) ? PixelConstants.paddingHU : Double(value) * slope + intercept)
            }
            return true
        }
        return Volume(geometry: plan.geometry, voxels: voxels)
    }

    /// Allocates the volume's storage and lets `convert` fill each input slice's output plane
    /// (given its first voxel) on a worker. Returns the voxels and whether every call said the
    /// values fit.
    static func decodePlanes<V: BitwiseCopyable>(
        _ plan: StackPlan, as: V.Type,
        convert:
            @escaping @Sendable (_ base: UnsafeMutablePointer<V>, _ header: DICOMHeader, _ file: PixelFile)
            throws(DICOMError) -> Bool
    ) throws(DICOMError) -> ([V], Bool) {
        // Every plane is written by the decoder (or by interpolation afterwards), so the
        // storage need not be zero-filled first: that would be a 150 MB pass for nothing.
        let count = plan.geometry.size.count
        var voxels = [V](unsafeUninitializedCapacity: count) { buffer, initialized in
            HugePages.advise(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
        let planeSize = plan.geometry.size.x * plan.geometry.size.y
        let outcome = voxels.withUnsafeMutableBufferPointer { buffer in
            let output = SendablePointer(buffer.baseAddress!)
            return decodeAll(plan) { plane, header, file throws(DICOMError) in
                try convert(output.pointer + plane * planeSize, header, file)
            }
        }
        switch outcome {
        case .failure(let error): throw error
        case .success(let fits): return (voxels, fits)
        }
    }

    /// Reads one slice's stored samples from `file`: into `plane` when it is given and the
    /// samples are 16-bit (the same size as the int16 output), else into a new scratch buffer
    /// that the caller deallocates.
    static func readIntoPlaneOrScratch(
        _ header: DICOMHeader, from file: PixelFile, plane: UnsafeMutableRawPointer?, count: Int
    ) throws(DICOMError) -> (UnsafeRawPointer, DICOMHeader, UnsafeMutableRawBufferPointer?) {
        let bytes = count * header.samplesPerPixel * (header.bitsAllocated / 8)
        if let plane, header.bitsAllocated == 16, header.samplesPerPixel == 1 {
            let decoded = try file.read(header, into: UnsafeMutableRawBufferPointer(start: plane, count: bytes))
            try checkLayout(decoded, planned: header)
            return (UnsafeRawPointer(plane), decoded, nil)
        }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 8)
        do {
            let decoded = try file.read(header, into: scratch)
            try checkLayout(decoded, planned: header)
            return (UnsafeRawPointer(scratch.baseAddress!), decoded, scratch)
        } catch {
            scratch.deallocate()
            throw error
        }
    }

    /// Refuses a slice whose pixel layout, as decoded, is not the one its buffer was sized
    /// for: the file was replaced between the scan and the load.
    static func checkLayout(_ decoded: DICOMHeader, planned: DICOMHeader) throws(DICOMError) {
        guard
            decoded.rows == planned.rows, decoded.columns == planned.columns,
            decoded.bitsAllocated == planned.bitsAllocated, decoded.samplesPerPixel == planned.samplesPerPixel
        else {
            throw DICOMError(
                .inconsistentSeries, path: planned.path,
                message:
                    "\(planned.imageName): its pixel layout changed after the series was scanned (\(planned.rows)×\(planned.columns), \(planned.bitsAllocated) bits, then \(decoded.rows)×\(decoded.columns), \(decoded.bitsAllocated) bits); not loaded"
            )
        }
    }

    /// The stored values of one single-frame image (all samples), sign-extended or masked to
    /// (0028,0101) Bits Stored, with the header refreshed after decompression.
    public static func readStoredValues(_ header: DICOMHeader) throws(DICOMError) -> ([Int32], DICOMHeader) {
        let count = header.rows * header.columns * header.samplesPerPixel
        let (raw, decoded, scratch) = try readIntoPlaneOrScratch(
            header, from: try PixelFile(path: header.path), plane: nil, count: header.rows * header.columns)
        defer { scratch?.deallocate() }
        let samples = SampleDecoder(decoded)
        return ((0..<count).map { samples.value(raw, $0) }, decoded)
    }

    /// A single-frame monochrome image as a viewer displays it through its first (0028,3010)
    /// VOI LUT Sequence item (PS3.3 C.11.2.1.1), rendered by DCMTK: modality transformation,
    /// VOI LUT, then presentation (MONOCHROME1 inverted), as rows × columns values from 0
    /// (black) to 65535 (white). The corresponding C function is `lct_dcm_render_voi_lut`.
    public static func renderThroughVOILUT(_ header: DICOMHeader) throws(DICOMError) -> [UInt16] {
        let count = header.rows * header.columns
        var message = [CChar](repeating: 0, count: 1024)
        var status: Int32 = 0
        let values = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = lct_dcm_render_voi_lut(
                header.path, DeflateLimits.maximumInflatedBytes, buffer.baseAddress, count, &message, message.count)
            // Filled whole on success; zeros otherwise, so the array is never uninitialised.
            if status != 0 { buffer.initialize(repeating: 0) }
            initialized = count
        }
        try check(status, path: header.path, message: message)
        return values
    }

    /// Interpolated slices and tilt correction, after every input slice is in place.
    static func finish<V: HUVoxel>(_ voxels: inout [V], plan: StackPlan) {
        let planeSize = plan.geometry.size.x * plan.geometry.size.y
        var planeOfInput = [Int](repeating: 0, count: plan.slices.count)
        for (output, source) in plan.sources.enumerated() {
            if case .slice(let input) = source { planeOfInput[input] = output }
        }
        for (output, source) in plan.sources.enumerated() {
            guard case .interpolated(let lower, let upper, let weight) = source else { continue }
            let a = planeOfInput[lower] * planeSize
            let b = planeOfInput[upper] * planeSize
            let o = output * planeSize
            for index in 0..<planeSize {
                let value = (1 - weight) * voxels[a + index].doubleValue + weight * voxels[b + index].doubleValue
                voxels[o + index] = V(fromDouble: value)
            }
        }
        guard !plan.tiltShifts.isEmpty else { return }
        let nx = plan.geometry.size.x
        let ny = plan.geometry.size.y
        var plane = [V](repeating: V(fromDouble: 0), count: planeSize)
        for (k, shift) in plan.tiltShifts.enumerated() where shift.columns != 0 || shift.rows != 0 {
            let base = k * planeSize
            for j in 0..<ny {
                for i in 0..<nx {
                    // Output voxel (i, j) lies at input index (i - shift.columns, j - shift.rows).
                    let x = Double(i) - shift.columns
                    let y = Double(j) - shift.rows
                    let x0 = Int(x.rounded(.down))
                    let y0 = Int(y.rounded(.down))
                    let fx = x - Double(x0)
                    let fy = y - Double(y0)
                    func sample(_ xi: Int, _ yj: Int) -> Double {
                        guard xi >= 0, xi < nx, yj >= 0, yj < ny else { return PixelConstants.paddingHU }
                        return voxels[base + yj * nx + xi].doubleValue
                    }
                    let value =
                        (1 - fy) * ((1 - fx) * sample(x0, y0) + fx * sample(x0 + 1, y0))
                        + fy * ((1 - fx) * sample(x0, y0 + 1) + fx * sample(x0 + 1, y0 + 1))
                    plane[j * nx + i] = V(fromDouble: value)
                }
            }
            for index in 0..<planeSize { voxels[base + index] = plane[index] }
        }
    }
}
