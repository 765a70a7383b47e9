import Radiograph
import Testing

/// A 40×20 mask: a lung-like block on each half of the image (one with a hole), a speck of noise.
func twoFieldMask() -> [Bool] {
    var mask = [Bool](repeating: false, count: 40 * 20)
    for y in 3..<17 {
        for x in 4..<15 { mask[y * 40 + x] = true }
        for x in 24..<36 { mask[y * 40 + x] = true }
    }
    mask[9 * 40 + 28] = false  // a hole in the image-right field
    mask[1 * 40 + 20] = true  // a speck on the midline
    return mask
}

@Test func lungFieldsAreLabelledByTheirSideOfTheMidline() {
    let labels = LungFields.labels(foreground: twoFieldMask(), width: 40, height: 20)
    // PA display: the patient's right (label 1) on the image's left.
    #expect(labels[10 * 40 + 8] == LungFields.rightLung)
    #expect(labels[10 * 40 + 30] == LungFields.leftLung)
    #expect(labels[9 * 40 + 28] == LungFields.leftLung, "the hole is filled")
    #expect(labels[1 * 40 + 20] == LungFields.background, "the speck is not a lung field")
    #expect(labels.filter { $0 == LungFields.rightLung }.count == 14 * 11)
    #expect(labels.filter { $0 == LungFields.leftLung }.count == 14 * 12)
    let mirrored = LungFields.labels(
        foreground: twoFieldMask(), width: 40, height: 20, patientRightOnImageLeft: false)
    #expect(mirrored[10 * 40 + 8] == LungFields.leftLung)
}

@Test func joinedLungFieldsAreSplitAtTheMidline() {
    var mask = [Bool](repeating: false, count: 40 * 20)
    for y in 3..<17 { for x in 4..<36 { mask[y * 40 + x] = true } }
    let labels = LungFields.labels(foreground: mask, width: 40, height: 20)
    #expect(labels[10 * 40 + 19] == LungFields.rightLung)
    #expect(labels[10 * 40 + 20] == LungFields.leftLung)
}

@Test func diceOfMasks() {
    let a = [true, true, false, false]
    let b = [true, false, true, false]
    #expect(LungFields.dice(a, b) == 0.5)
    #expect(LungFields.dice([false], [false]) == 1)
}
