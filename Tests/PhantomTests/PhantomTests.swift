import Phantom
import TestSupport
import Testing
import VolumeCore

/// An adult chest: 96×96 pixels, 40 slices over 300 mm.
func makePhantom(size: Int = 96, slices: Int = 40, lesions: Int = 2, seed: UInt64 = 7) -> Phantom {
    testPhantom(size: size, slices: slices, spacing: 300 / Double(slices), lesions: lesions, seed: seed).phantom
}

func mean(_ values: [Int16]) -> Double {
    values.isEmpty ? 0 : values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
}

@Test func lungsHaveLungDensityAndAdultVolumes() {
    let phantom = makePhantom()
    let ct = phantom.ct
    let lungValues = zip(ct.voxels, phantom.lungs.voxels).filter { $0.1 != 0 }.map(\.0)
    // Mostly lung parenchyma at about -850 HU; vessels and lesions raise the mean a little.
    #expect(abs(mean(lungValues) - -820) < 60)
    let voxelML = ct.geometry.voxelVolume / 1000
    let right = Double(phantom.lungs.voxels.filter { $0 == 1 }.count) * voxelML
    let left = Double(phantom.lungs.voxels.filter { $0 == 2 }.count) * voxelML
    #expect(right > left, "the right lung is the larger, as in people")
    #expect((1500...4500).contains(right) && (1200...4000).contains(left), "right \(right) mL, left \(left) mL")
}

@Test func rightLungLiesOnThePatientsRight() {
    let phantom = makePhantom()
    let g = phantom.ct.geometry
    var sumX = [0.0, 0.0, 0.0]
    var count = [0.0, 0.0, 0.0]
    for k in 0..<g.size.z {
        for j in 0..<g.size.y {
            for i in 0..<g.size.x {
                let label = Int(phantom.lungs[i, j, k])
                guard label > 0 else { continue }
                sumX[label] += g.physicalPoint(i: Double(i), j: Double(j), k: Double(k)).x
                count[label] += 1
            }
        }
    }
    // LPS: x grows to the patient's left, so the right lung has negative x.
    #expect(sumX[1] / count[1] < -30)
    #expect(sumX[2] / count[2] > 30)
}

@Test func lesionsTouchThePleuraAndStayInsideTheLungs() {
    let phantom = makePhantom(lesions: 4)
    #expect(phantom.lesions.count == 4)
    let g = phantom.ct.geometry
    var lesionVoxels = 0
    var touching = Set<Int>()
    for k in 0..<g.size.z {
        for j in 1..<(g.size.y - 1) {
            for i in 1..<(g.size.x - 1) {
                let lesion = phantom.lesionMask[i, j, k]
                guard lesion != 0 else { continue }
                lesionVoxels += 1
                #expect(phantom.lungs[i, j, k] != 0, "lesion voxels are lung in the truth mask")
                // A lesion voxel next to a non-lung voxel touches the pleura.
                if phantom.lungs[i - 1, j, k] == 0 || phantom.lungs[i + 1, j, k] == 0 || phantom.lungs[i, j - 1, k] == 0
                    || phantom.lungs[i, j + 1, k] == 0
                {
                    touching.insert(Int(lesion))
                }
            }
        }
    }
    #expect(lesionVoxels > 100)
    #expect(touching == [1, 2], "both ground glass and consolidation reach the pleura")
    let consolidation = zip(phantom.ct.voxels, phantom.lesionMask.voxels).filter { $0.1 == 2 }.map(\.0)
    #expect(abs(mean(consolidation) - 30) < 20)
}

@Test func sameSeedSameImageDifferentSeedDifferentImage() {
    let a = makePhantom(size: 48, slices: 10, seed: 5)
    let b = makePhantom(size: 48, slices: 10, seed: 5)
    let c = makePhantom(size: 48, slices: 10, seed: 6)
    #expect(a.ct.voxels == b.ct.voxels)
    #expect(a.ct.voxels != c.ct.voxels)
}

@Test func airwaysAreAirButNotLung() {
    let phantom = makePhantom()
    let g = phantom.ct.geometry
    // The trachea runs up the midline near the top of the scan.
    let point = g.continuousIndex(of: Vector3(0, -5, 0.9 * Double(g.size.z - 1) * g.spacing.z))
    let (i, j, k) = (Int(point.x.rounded()), Int(point.y.rounded()), Int(point.z.rounded()))
    #expect(phantom.ct[i, j, k] < -900)
    #expect(phantom.lungs[i, j, k] == 0)
}
