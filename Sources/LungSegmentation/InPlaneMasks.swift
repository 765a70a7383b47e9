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

    /// Erodes a mask by one 4-neighbour step within each slice.
    static func erodeInPlane(_ mask: [UInt8], size: (Int, Int, Int)) -> [UInt8] {
        let (nx, ny, _) = size
        var out = [UInt8](repeating: 0, count: mask.count)
        for index in 0..<mask.count where mask[index] != 0 {
            let x = index % nx
            let y = (index / nx) % ny
            if x > 0, x < nx - 1, y > 0, y < ny - 1, mask[index - 1] != 0, mask[index + 1] != 0, mask[index - nx] != 0,
                mask[index + nx] != 0
            {
                out[index] = 1
            }
        }
        return out
    }

    /// Dilates a mask by `steps` 4-neighbour steps within each slice.
    static func dilateInPlane(_ mask: [UInt8], size: (Int, Int, Int), steps: Int) -> [UInt8] {
        let (nx, ny, _) = size
        var current = mask
        for _ in 0..<steps {
            var next = current
            for index in 0..<current.count where current[index] != 0 {
                let x = index % nx
                let y = (index / nx) % ny
                if x > 0 { next[index - 1] = 1 }
                if x < nx - 1 { next[index + 1] = 1 }
                if y > 0 { next[index - nx] = 1 }
                if y < ny - 1 { next[index + nx] = 1 }
            }
            current = next
        }
        return current
    }

    /// The mean column of the body in slice `k`: the body's left–right centre, from which
    /// "near the midline" and "the lung's outer side" are judged. Nil when the slice holds no body.
    static func bodyCentreColumn(_ body: [UInt8], slice k: Int, width nx: Int, planeSize: Int) -> Double? {
        var sum = 0
        var count = 0
        for index in 0..<planeSize where body[k * planeSize + index] != 0 {
            sum += index % nx
            count += 1
        }
        return count > 0 ? Double(sum) / Double(count) : nil
    }
}
