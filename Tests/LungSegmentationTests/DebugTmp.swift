import Foundation
import LungSegmentation
import NIfTIIO
import Phantom
import Testing
import VolumeCore

@Test func debugDump() throws {
    let p = phantom(size: 128, slices: 60, spacing: 5, lesions: 4, seed: 1)
    let result = LungSegmenter.segment(p.ct)
    try NIfTI.write(p.ct, to: "/tmp/dbg_ct.nii")
    try NIfTI.write(result.labels, to: "/tmp/dbg_seg.nii")
    try NIfTI.write(p.lungs, to: "/tmp/dbg_truth.nii")
    try NIfTI.write(p.lesionMask, to: "/tmp/dbg_lesion.nii")
    let folder = sharedData("ct/lung-masks")!
    let (ct, _) = try NIfTI.read("\(folder)/id002-128x128x64.nii.gz")
    let hu = ct.asFloat.map { Int16(max(-1024, min(3071, $0.rounded()))) }
    try NIfTI.write(hu, to: "/tmp/dbg2_ct.nii")
    try NIfTI.write(LungSegmenter.segment(hu).labels, to: "/tmp/dbg2_seg.nii")
    let (mask, _) = try NIfTI.read("\(folder)/id002-128x128x64-msk.nii.gz")
    try NIfTI.write(mask.asFloat.map { $0 > 127 ? UInt8(1) : 0 }, to: "/tmp/dbg2_truth.nii")
}
