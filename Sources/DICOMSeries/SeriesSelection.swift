import AppSupport
import VolumeCore

/// What a group of images is, for the purpose of choosing what to analyse.
public enum SeriesKind: String, Sendable, Codable {
    case ctVolume = "CT volume"
    case radiograph = "radiograph"
    case other = "other"
}

/// One series (or part of one) found in the input, with the verdict on it.
public struct SeriesCandidate: Sendable {
    public var group: SeriesGroup
    public var kind: SeriesKind
    /// The loading plan for CT volumes that can be loaded.
    public var plan: StackPlan?
    /// Why this series can never be chosen (localizer, not decodable, refused geometry...).
    public var rejection: String?
    /// Why another series was preferred; set by `SeriesSelection.choose`.
    public var notChosenBecause: String?

    public var isChosen: Bool { rejection == nil && notChosenBecause == nil }

    /// Whether `--series NAME` names this series: its Series Instance UID, in full or shortened
    /// as shown, or its label.
    public func isNamed(_ name: String) -> Bool {
        group.seriesInstanceUID == name || shortUID(group.seriesInstanceUID) == name || group.label == name
    }
}

/// Rules for choosing the one series to analyse, documented in the README:
/// 1. CT volumes before radiographs; other objects are never chosen;
/// 2. axial before sagittal or coronal (the slice normal closest to the patient's S–I axis);
/// 3. ORIGINAL before DERIVED (0008,0008) Image Type;
/// 4. more slices;
/// 5. thinner slices (smaller spacing);
/// 6. a lung reconstruction kernel where one is recognised (`SeriesSelection.lungKernels`);
/// 7. then the lower series number and UID, so the choice is repeatable.
public enum SeriesSelection {
    /// Substrings of (0018,1210) Convolution Kernel that vendors use for sharp lung
    /// reconstructions: Siemens B60f/B70f/Bl57/Br60, GE LUNG, Philips YC/L, Canon FC51–FC56/FC86.
    public static let lungKernels = [
        "LUNG", "B60", "B70", "B80", "BL57", "BL64", "BR60", "BR64", "I70", "YC", "FC51", "FC52", "FC53", "FC55",
        "FC56", "FC86",
    ]

    /// Classifies each group and rejects what can never be analysed, with the reason.
    public static func candidates(from groups: [SeriesGroup]) -> [SeriesCandidate] {
        groups.map { group in
            let header = group.first
            var candidate = SeriesCandidate(group: group, kind: .other, plan: nil, rejection: nil)
            if header.isLocalizer {
                candidate.rejection = "localizer ((0008,0008) Image Type LOCALIZER)"
                return candidate
            }
            if header.sopClassUID.hasPrefix(SOPClass.secondaryCapturePrefix) {
                candidate.rejection = "secondary capture (\(header.sopClassName)): a picture, not measured data"
                return candidate
            }
            if header.numberOfFrames > 1 && header.frameIndex == nil {
                candidate.rejection =
                    "multi-frame object (\(header.numberOfFrames) frames, \(header.sopClassName)): of multi-frame objects, lungct reads Enhanced CT and Legacy Converted Enhanced CT only"
                return candidate
            }
            if let reason = group.headers.lazy.compactMap(TransferSyntax.whyNotDecodable).first {
                candidate.rejection = reason
                return candidate
            }
            switch header.modality {
            case "CT":
                candidate.kind = .ctVolume
                switch SliceStack.plan(group.headers) {
                case .success(var plan):
                    if header.modalityInferred {
                        plan.warnings.append(
                            "(0008,0060) Modality is missing; taken as CT from (0008,0016) SOP Class UID \(header.sopClassName)"
                        )
                    }
                    candidate.plan = plan
                case .failure(let refusal): candidate.rejection = refusal.reason
                }
            case "CR", "DX", "DR", "RG", "DF":
                candidate.kind = .radiograph
                if group.headers.count > 1 {
                    // Several radiographs in one series: the first is analysed, the rest named.
                    candidate.group.headers = [group.headers[0]]
                }
            default:
                candidate.rejection =
                    "modality \(header.modality.isEmpty ? "missing" : header.modality) is neither CT nor a radiograph"
            }
            return candidate
        }
    }

    /// Marks every candidate but the best one with the rule that ranked it lower.
    public static func choose(_ candidates: inout [SeriesCandidate]) {
        let eligible = candidates.indices.filter { candidates[$0].rejection == nil }
        guard let best = eligible.min(by: { isPreferred(candidates[$0], over: candidates[$1]) }) else { return }
        for index in eligible where index != best {
            candidates[index].notChosenBecause = reason(candidates[index], loses: candidates[best])
        }
    }

    /// Sort keys, in rule order; smaller is better.
    static func keys(_ c: SeriesCandidate) -> [Double] {
        let header = c.group.first
        let normal = header.sliceNormal ?? Vector3(0, 0, 1)
        let axial = abs(normal.z) >= max(abs(normal.x), abs(normal.y))
        let original = header.imageType.first != "DERIVED"
        let slices = Double(c.plan?.geometry.size.z ?? c.group.headers.count)
        let spacing = c.plan?.geometry.spacing.z ?? 0
        let kernel = header.convolutionKernel.uppercased()
        let lung = lungKernels.contains { kernel.contains($0) }
        return [
            c.kind == .ctVolume ? 0 : 1,
            axial ? 0 : 1,
            original ? 0 : 1,
            -slices,
            spacing,
            lung ? 0 : 1,
            Double(header.seriesNumber ?? Int.max),
        ]
    }

    static func isPreferred(_ a: SeriesCandidate, over b: SeriesCandidate) -> Bool {
        let ka = keys(a)
        let kb = keys(b)
        if ka != kb { return ka.lexicographicallyPrecedes(kb) }
        return a.group.seriesInstanceUID + String(a.group.part) < b.group.seriesInstanceUID + String(b.group.part)
    }

    /// The first rule on which `loser` ranks below `winner`, in words.
    static func reason(_ loser: SeriesCandidate, loses winner: SeriesCandidate) -> String {
        let l = keys(loser)
        let w = keys(winner)
        let index = l.indices.first { l[$0] != w[$0] } ?? l.count
        switch index {
        case 0: return "a radiograph, and a CT volume (\(winner.group.label)) is present"
        case 1: return "not axial; an axial series (\(winner.group.label)) is present"
        case 2: return "DERIVED image type; an ORIGINAL series (\(winner.group.label)) is present"
        case 3: return "fewer slices (\(Int(-l[3])) vs \(Int(-w[3])) in \(winner.group.label))"
        case 4:
            return "thicker slices (\(formatMM(l[4])) vs \(formatMM(w[4])) in \(winner.group.label))"
        case 5: return "not a lung kernel; \(winner.group.label) has one (\(winner.group.first.convolutionKernel))"
        default: return "equivalent to \(winner.group.label), which has the lower series number or UID"
        }
    }

    static func formatMM(_ value: Double) -> String {
        "\(value.rounded(places: ReportPrecision.millimetres)) mm"
    }
}
