import Phantom

/// A synthetic chest CT with known masks, and the options it was made from (`PhantomWriter`
/// needs both). `spacing` is the slice spacing in mm; lesions and seed not given keep
/// `PhantomOptions`' defaults.
public func testPhantom(
    size: Int, slices: Int, spacing: Double, lesions: Int? = nil, seed: UInt64? = nil
) -> (phantom: Phantom, options: PhantomOptions) {
    var options = PhantomOptions()
    options.size = size
    options.slices = slices
    options.sliceSpacing = spacing
    if let lesions { options.lesions = lesions }
    if let seed { options.seed = seed }
    return (ChestPhantom.make(options), options)
}
