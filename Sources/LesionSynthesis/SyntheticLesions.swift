import SeededRandom
import VolumeCore

/// Synthetic COVID-19-type lesions in Hounsfield units, inserted into normal CT inside its lung
/// mask, with their exact truth: the training data of a label-free lesion network.
///
/// The idea is NormNet's (Yao, Xiao, Liu & Zhou, "Label-Free Segmentation of COVID-19 Lesions
/// in Lung CT", IEEE TMI 2021): a network that learns to tell normal lung tissue (vessels and
/// airways included, which lie in the density range of lesions) from simple synthetic "lesions"
/// inserted into normal scans finds real lesions as what is not normal. The lesions here follow
/// what COVID-19 shows on CT rather than the paper's operations:
///
/// - Places. The lungs are sampled every ~5 mm (`LungPlaces`); each sample knows its lung, its
///   depth below the chest wall (distance to the convex hull of both lungs' cross-section in an
///   8 mm axial slab, as a fraction of the slab's deepest point; the outer third is peripheral)
///   and the wall's direction, its height and how far back it is, all in patient coordinates
///   (LPS) through the geometry. A call draws a lesion count, whether all go in one lung, and
///   per lesion a lung, peripheral or central, and a sample weighted linearly towards the base
///   and the back (`PlaceSampler`).
/// - Shape. One to four overlapping ellipsoids at random orientations, the main one flattened
///   and, at the periphery, turned to spread along the pleura; their surface moved by a smooth
///   random field (round to lobulated, irregular margins); cut by the lung mask, so a subpleural
///   lesion abuts the pleura. A soft border (a smoothstep over a third to a half of the radius
///   for ground glass, 2–5 mm for consolidation) gives the weight w in 0...1 (`LesionShape`).
/// - Ground glass fills part of the air: to the share of a voxel that is not yet solid it adds
///   w × (target − parenchyma) × a patchy texture (value noise at 2–10 mm, `Texture`), so
///   vessels, also where they fill a voxel only in part, keep their contrast over it, and the
///   image's own noise and fine texture stay. Crazy paving adds thin bright lines, the faces of
///   a random Voronoi tessellation (`Septa`). The target is raised to at least 150 HU above the
///   parenchyma under the lesion, so every lesion is visible.
/// - Consolidation replaces the voxel, new = (1 − w)·old + w·target, vessels vanishing into it,
///   usually inside a ground-glass rim whose inner edge wanders with the texture; correlated
///   Gaussian noise of the image's own level (measured in the parenchyma, `Background`) makes up
///   the noise that went with the replaced share, so it is neither smoother nor grainier than
///   the lung around it.
/// - Airway lumen (3×3 in-plane mean below −950 HU) keeps its air in both: air bronchograms.
///   The partial-volume voxels just outside the mask next to a lesion (below −200 HU, within
///   1.3 mm) change as the lung share of them would, so no dark line separates a lesion from the
///   chest wall; they never enter the truth. Texture and crazy-paving lines are averaged over a voxel as partial
///   volume averages them, so detail finer than the grid fades instead of turning into noise.
/// - Truth. Ground glass (1) where w ≥ ½ and the lesion's density change there, w × (target −
///   parenchyma), is at least 100 HU; consolidation (2) where the consolidation weight is ≥ ½.
///   Like a radiologist's outline, it holds the vessels, airways and fainter patches inside.
///
/// Everything is in millimetres, so a seed gives the same lesions on 0.7 mm and 3 mm voxels.
public enum SyntheticLesions {
    /// Inserts lesions into `ct` (HU, any grid/spacing) inside `lungs` (nonzero = lung; LungLabel
    /// right 1, left 2 as lungct's segmentation writes) and returns the truth labels
    /// (`LesionLabel`) on ct's grid. Deterministic for a given generator state. Outside the lungs
    /// only the partial-volume rim next to a lesion changes (voxels below −200 HU within 1.3 mm
    /// of the lesion's lung); the truth is inside the lungs only. A `lungs` volume of another size is a
    /// programmer error.
    public static func insert(
        into ct: inout Volume<Int16>, lungs: Volume<UInt8>, options: SyntheticLesionOptions,
        using rng: inout SplitMix64
    ) -> Volume<UInt8> {
        precondition(lungs.size == ct.size, "the lung mask is not on the CT's grid")
        var truth = Volume<UInt8>(geometry: ct.geometry, repeating: LesionLabel.none)
        let places = LungPlaces(lungs: lungs)
        let plans = LesionPlanner.plan(places, options: options, rng: &rng)
        guard !plans.isEmpty else { return truth }
        let background = Background(ct: ct, lungs: lungs, places: places)
        for plan in plans {
            LesionPainter(plan: plan.averaged(over: ct.geometry), options: options, background: background)
                .paint(ct: &ct, truth: &truth, lungs: lungs)
        }
        return truth
    }
}
