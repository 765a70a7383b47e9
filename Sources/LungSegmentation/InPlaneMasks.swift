import Dispatch
import VolumeCore

/// Slice-wise operations on whole-volume masks (x fastest, then y, then z) that the
/// segmentation stages share.
extension LungSegmenter {
    /// The 4-connected components of a plane, as pixel lists with their sizes.
    static func componentsOf(_ plane: inout Plane) -> [([Int], Int)] {
        var result: [([Int], Int)] = []
        var seen = [Bool](repeating: false, count: plane.count)
        let w = plane.width
        for start in 0..<plane.count where plane.pixels[start] != 0 && !seen[start] {
            var pixels = [start]
            seen[start] = true
            var head = 0
            while head < pixels.count {
                let index = pixels[head]
                head += 1
                let x = index % w
                for neighbour in [x > 0 ? index - 1 : -1, x < w - 1 ? index + 1 : -1, index - w, index + w]
                where neighbour >= 0 && neighbour < plane.count && plane.pixels[neighbour] != 0 && !seen[neighbour] {
                    seen[neighbour] = true
                    pixels.append(neighbour)
                }
            }
            result.append((pixels, pixels.count))
        }
        return result
    }

    /// Erodes a mask by one 4-neighbour step within each slice (the slice's edge erodes too).
    /// Slices on all cores.
    static func erodeInPlane(_ mask: [UInt8], size: (Int, Int, Int)) -> [UInt8] {
        let (nx, ny, nz) = size
        var out = [UInt8](repeating: 0, count: mask.count)
        guard nx >= 3, ny >= 3 else { return out }
        mask.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                guard let source = source.baseAddress, let target = target.baseAddress else { return }
                let (m, o) = (VoxelPointer(reading: source), VoxelPointer(target))
                DispatchQueue.concurrentPerform(iterations: nz) { k in
                    for y in 1..<(ny - 1) {
                        let row = (k * ny + y) * nx
                        for i in (row + 1)..<(row + nx - 1)
                        where m[i] != 0 && m[i - 1] != 0 && m[i + 1] != 0 && m[i - nx] != 0 && m[i + nx] != 0 {
                            o[i] = 1
                        }
                    }
                }
            }
        }
        return out
    }

    /// Dilates a mask by `steps` 4-neighbour steps within each slice, in place. Slices on all
    /// cores; a slice with nothing set is left as it is.
    static func dilateInPlane(_ mask: inout [UInt8], size: (Int, Int, Int), steps: Int) {
        let (nx, ny, _) = size
        updateSlices(of: &mask, planeSize: nx * ny) { _, slice in
            guard !slice.isAllZero else { return nil }
            var current = slice.array
            for _ in 0..<steps { current = dilatedOnce(current, width: nx, height: ny) }
            return current
        }
    }

    /// One 4-neighbour dilation step of a width×height plane.
    private static func dilatedOnce(_ plane: [UInt8], width nx: Int, height ny: Int) -> [UInt8] {
        var next = plane
        plane.withUnsafeBufferPointer { plane in
            next.withUnsafeMutableBufferPointer { next in
                for y in 0..<ny {
                    let row = y * nx
                    for x in 0..<nx where plane[row + x] != 0 {
                        if x > 0 { next[row + x - 1] = 1 }
                        if x < nx - 1 { next[row + x + 1] = 1 }
                        if y > 0 { next[row + x - nx] = 1 }
                        if y < ny - 1 { next[row + x + nx] = 1 }
                    }
                }
            }
        }
        return next
    }

    /// The mean column of the body in slice `k`: the body's left–right centre, from which
    /// "near the midline" and "the lung's outer side" are judged. Nil when the slice holds no body.
    static func bodyCentreColumn(_ body: [UInt8], slice k: Int, width nx: Int, planeSize: Int) -> Double? {
        var sum = 0
        var count = 0
        let first = k * planeSize
        for row in stride(from: first, to: first + planeSize, by: nx) {
            for x in 0..<nx where body[row + x] != 0 {
                sum += x
                count += 1
            }
        }
        return count > 0 ? Double(sum) / Double(count) : nil
    }
}
