internal import DICOMSeries
import VolumeCore

extension RadiographLoader {
    /// (0008,0060) Modality values lungct reads as a radiograph: CR and DX (PS3.3 C.7.3.1.1.1),
    /// DR (not a defined term, but written by some detectors), RG (radiographic imaging),
    /// OT (secondary captures of films) and none at all.
    static let radiographModalities: Set<String> = ["CR", "DX", "DR", "RG", "OT", ""]

    /// A single-frame DICOM radiograph (CR, DX) through DCMTK.
    ///
    /// Gray values are the stored values, sign-extended or masked to (0028,0101) Bits Stored;
    /// (0028,1052)/(0028,1053) Rescale is not applied (radiographs have no physical unit like HU)
    /// but is used to bring the window into stored values. MONOCHROME1 (PS3.3 C.7.6.3.1.2:
    /// minimum value shown white) is inverted as (lowest + highest representable) − value, so
    /// higher is always brighter and the scale stays 0...2^bits − 1. RGB images are converted
    /// to gray (interleaved samples are assumed: `DICOMHeader` does not expose (0028,0006)
    /// Planar Configuration yet).
    ///
    /// Spacing is (0028,0030) Pixel Spacing, else (0018,1164) Imager Pixel Spacing, which is
    /// measured at the detector and so includes the geometric magnification (about 10 % for a
    /// PA chest). Origin and direction stay at 0 and identity: a projection image has no
    /// position in patient space.
    ///
    /// `knownDICOM` is true when the file has the Part 10 "DICM" marker; without it, a file
    /// DCMTK cannot parse is reported as being in no format lungct reads.
    static func loadDICOM(_ path: String, knownDICOM: Bool) throws(RadiographError) -> RadiographImage {
        let header = try radiographHeader(path, knownDICOM: knownDICOM)
        // The window is given in rescaled values and undone through the rescale: a corrupt
        // slope or intercept would turn every gray value into nan.
        if let problem = header.rescaleProblem {
            throw RadiographError(
                .unsupported, path: path, message: "\(problem): the header is corrupt; refusing the image")
        }
        var findings = lossyFindings(header)

        // Window, rescale, VOI LUT and a monochrome photometric interpretation are attributes
        // that decompression leaves as they are, so the header decides before any pixel is decoded.
        var window = storedWindow(header)
        if window == nil && header.hasVOILUTSequence && header.photometricInterpretation.hasPrefix("MONOCHROME") {
            if let image = renderedThroughVOILUT(header, findings: &findings) { return image }
        }

        let stored: [Int32]
        let decoded: DICOMHeader
        do {
            (stored, decoded) = try SeriesLoader.readStoredValues(header)
        } catch {
            throw RadiographError(.undecodable, path: path, message: error.description)
        }
        let bits = max(1, min(decoded.bitsStored, decoded.bitsAllocated))
        let gray = try dicomGray(
            stored, decoded: decoded, header: header, bits: bits, path: path, window: &window, findings: &findings)
        let spacing = dicomSpacing(decoded)
        return assemble(
            gray: gray, width: header.columns, height: header.rows, bitDepth: bits, source: "dicom", spacing: spacing,
            findings: findings, window: window)
    }

    /// Reads the header and refuses, before any pixel is decoded, what is not a radiograph lungct
    /// reads or would not fit in memory. A file DCMTK cannot parse is of unknown format unless it
    /// has the Part 10 marker (`knownDICOM`).
    static func radiographHeader(_ path: String, knownDICOM: Bool) throws(RadiographError) -> DICOMHeader {
        let header: DICOMHeader
        do {
            header = try DICOMHeader.read(path: path)
        } catch {
            if !knownDICOM || error.kind == .notDICOM { throw unknownFormat(path, detail: "DCMTK: \(error.message)") }
            throw RadiographError(.undecodable, path: path, message: error.description)
        }
        if !knownDICOM && !header.hasPixelData && header.rows == 0 {
            // DCMTK reads almost any bytes as a preamble-less dataset; nothing image-like came out.
            throw unknownFormat(path, detail: "DCMTK found no image attributes")
        }
        try checkRadiograph(header)
        let samples = header.samplesPerPixel
        // Peak per pixel: DCMTK's decoded copy and lungct's raw bytes (bits/8 each, per sample),
        // the Int32 stored values, and the Float plane.
        let bytesPerPixel = samples * (2 * header.bitsAllocated / 8 + 4) + 4
        try checkSize(width: header.columns, height: header.rows, bytesPerPixel: bytesPerPixel, path: path)
        return header
    }

    /// A finding when the pixels were lossily compressed, by the transfer syntax or before, as
    /// (0028,2110) Lossy Image Compression records.
    static func lossyFindings(_ header: DICOMHeader) -> [QualityFinding] {
        let lossySyntax = TransferSyntax.lossy.contains(header.transferSyntaxUID)
        guard lossySyntax || header.lossyCompressionFlag else { return [] }
        let why =
            lossySyntax
            ? "its transfer syntax \(header.transferSyntaxName) is lossy"
            : "(0028,2110) Lossy Image Compression says it was lossily compressed before"
        return [
            QualityFinding(
                code: QualityFinding.Code.lossyCompression,
                message:
                    "The DICOM pixels are not the original ones: \(why). Faint opacities and fine texture can be smoothed, so the score may differ from one on the original radiograph."
            )
        ]
    }

    /// (0028,1050) Window Center and (0028,1051) Window Width in stored values: the window
    /// applies to rescaled values (PS3.3 C.11.2.1.2), so (0028,1052) Rescale Intercept and
    /// (0028,1053) Rescale Slope are undone. Nil without a window or with a zero slope.
    static func storedWindow(_ header: DICOMHeader) -> (center: Double, width: Double)? {
        guard let w = header.window else { return nil }
        let slope = header.rescaleSlope ?? 1
        let intercept = header.rescaleIntercept ?? 0
        return slope != 0 ? ((w.center - intercept) / slope, w.width / abs(slope)) : nil
    }

    /// PS3.3 C.11.2.1.1: without a window, the (0028,3010) VOI LUT is how the image is meant to
    /// be seen. DCMTK decodes and renders the pixels itself: they are not decoded here first.
    /// Returns the rendered image, or nil with a finding when the LUT cannot be applied (the
    /// stored values are then used).
    static func renderedThroughVOILUT(_ header: DICOMHeader, findings: inout [QualityFinding]) -> RadiographImage? {
        do {
            let rendered = try SeriesLoader.renderThroughVOILUT(header)
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.voiLUTApplied,
                    message:
                        "The image carries a (0028,3010) VOI LUT and no window; lungct shows and scores it through that LUT (rendered by DCMTK"
                        + (header.photometricInterpretation == "MONOCHROME1"
                            ? ", MONOCHROME1 inverted so that higher values are brighter)." : ")."))
            )
            var image = assemble(
                gray: rendered.map { Float($0) }, width: header.columns, height: header.rows, bitDepth: 16,
                source: "dicom", spacing: dicomSpacing(header), findings: findings)
            image.voiLUTApplied = true
            return image
        } catch {
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.voiLUTUnusable,
                    message:
                        "The image carries a (0028,3010) VOI LUT that could not be applied (\(error.message)); lungct normalises it between its own percentiles instead."
                ))
            return nil
        }
    }

    /// The gray plane from the decoded stored values, by the decoded (0028,0004) Photometric
    /// Interpretation: MONOCHROME2 as stored, MONOCHROME1 inverted (and its window with it), RGB
    /// converted to gray. `bits` is the decoded Bits Stored, at most Bits Allocated.
    static func dicomGray(
        _ stored: [Int32], decoded: DICOMHeader, header: DICOMHeader, bits: Int, path: String,
        window: inout (center: Double, width: Double)?, findings: inout [QualityFinding]
    ) throws(RadiographError) -> [Float] {
        let photometric = decoded.photometricInterpretation
        switch photometric {
        case "MONOCHROME1", "MONOCHROME2":
            guard stored.count == header.rows * header.columns else {
                throw RadiographError(
                    .undecodable, path: path, message: "expected one sample per pixel, got \(stored.count) values")
            }
            guard photometric == "MONOCHROME1" else { return stored.map { Float($0) } }
            // Lowest + highest representable value: 2^bits − 1 unsigned, −1 two's complement.
            let total: Int32 = decoded.isSigned ? -1 : Int32((1 << bits) - 1)
            if let w = window { window = (Double(total) - w.center, w.width) }
            findings.append(
                QualityFinding(
                    code: QualityFinding.Code.monochrome1Inverted,
                    message:
                        "The image is MONOCHROME1 (low values shown white); lungct inverted it so that higher values are brighter, as for every other input."
                ))
            return stored.map { Float(total - $0) }
        case "RGB":
            let fullScale = Double((1 << bits) - 1)
            let conversion = stored.withUnsafeBufferPointer { buffer in
                GrayConversion.convert(buffer, channels: 3, fullScale: fullScale)
            }
            findings += GrayConversion.findings(conversion.analysis, storage: .rgb, fullScale: fullScale)
            return conversion.gray
        default:
            throw unsupportedPhotometric(photometric, path: path)
        }
    }

    static func unknownFormat(_ path: String, detail: String) -> RadiographError {
        RadiographError(
            .unknownFormat, path: path,
            message:
                "not a PNG (no PNG signature), JPEG (no FF D8 start marker) or DICOM file (\(detail)); lungct reads radiographs in these three formats only"
        )
    }

    /// Refuses what lungct does not read as a radiograph, before any pixel is decoded.
    static func checkRadiograph(_ header: DICOMHeader) throws(RadiographError) {
        let path = header.path
        guard header.hasPixelData else {
            throw RadiographError(
                .unsupported, path: path,
                message: "the DICOM file has no (7FE0,0010) Pixel Data (a report, a DICOMDIR or a presentation state?)")
        }
        guard radiographModalities.contains(header.modality) else {
            throw RadiographError(
                .unsupported, path: path,
                message:
                    "(0008,0060) Modality is \(header.modality), not a radiograph: lungct reads CR and DX files as radiographs, and analyses CT series as volumes from their folder"
            )
        }
        guard header.numberOfFrames == 1 else {
            throw RadiographError(
                .unsupported, path: path,
                message:
                    "the file holds \(header.numberOfFrames) frames; lungct reads single-frame radiographs, so extract the frame to analyse (for example with dcmconv or gdcmtool)"
            )
        }
        guard TransferSyntax.decodable.contains(header.transferSyntaxUID) else {
            throw RadiographError(
                .unsupported, path: path,
                message:
                    "transfer syntax \(header.transferSyntaxName) (\(header.transferSyntaxUID)) cannot be decoded with DCMTK's free codecs; convert the file to an uncompressed syntax first (for example with gdcmconv --raw)"
            )
        }
        guard header.bitsAllocated == 8 || header.bitsAllocated == 16 else {
            throw RadiographError(
                .unsupported, path: path,
                message: "(0028,0100) Bits Allocated is \(header.bitsAllocated); lungct reads 8- and 16-bit radiographs"
            )
        }
        let photometric = header.photometricInterpretation
        switch (header.samplesPerPixel, photometric) {
        case (1, "MONOCHROME1"), (1, "MONOCHROME2"), (3, "RGB"):
            break
        case (3, let ybr) where ybr.hasPrefix("YBR_") && !uncompressedSyntaxes.contains(header.transferSyntaxUID):
            // JPEG-compressed colour is stored as YBR; DCMTK's decoders return it as RGB,
            // which is checked again after decoding.
            break
        default:
            throw unsupportedPhotometric("\(photometric) with \(header.samplesPerPixel) samples per pixel", path: path)
        }
    }

    /// Syntaxes whose pixels are stored as they are, so a YBR photometric stays YBR when read.
    static let uncompressedSyntaxes: Set<String> = [
        TransferSyntax.implicitLittleEndian, TransferSyntax.explicitLittleEndian,
        TransferSyntax.deflatedExplicitLittleEndian, TransferSyntax.explicitBigEndian,
    ]

    static func unsupportedPhotometric(_ what: String, path: String) -> RadiographError {
        RadiographError(
            .unsupported, path: path,
            message:
                "(0028,0004) Photometric Interpretation \(what) is not supported; lungct reads MONOCHROME1, MONOCHROME2 and RGB radiographs (convert the file, for example with dcmconv or gdcmconv)"
        )
    }

    /// (0028,0030) Pixel Spacing, else (0018,1164) Imager Pixel Spacing; both are row\column.
    static func dicomSpacing(_ header: DICOMHeader) -> Spacing {
        for candidate in [header.pixelSpacing, header.imagerPixelSpacing] {
            guard let s = candidate, plausibleSpacing.contains(s.row), plausibleSpacing.contains(s.column) else {
                continue
            }
            return Spacing(column: s.column, row: s.row, known: true, finding: nil)
        }
        return .assumed(
            because:
                "The DICOM file has neither a usable (0028,0030) Pixel Spacing nor (0018,1164) Imager Pixel Spacing")
    }
}
