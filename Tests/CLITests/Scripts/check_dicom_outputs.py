"""Reads lungct's DICOM result objects back with highdicom and pydicom and compares them with
the research outputs of the same run: the Segmentation's lung segments, placed on the CT slices
through their per-frame source references, against lung_mask.nii.gz voxel for voxel; the
Parametric Map against probability.nii.gz; the SR's measurements against report.json.

usage: check_dicom_outputs.py OUT CT_FOLDER
Prints one line per check; exits 1 on the first mismatch."""
import gzip
import json
import math
import os
import struct
import sys

import highdicom as hd
import numpy as np
import pydicom


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def read_nifti(path):
    """A NIfTI-1 volume as a (z, y, x) array (the file's voxel order, x fastest)."""
    data = gzip.open(path, "rb").read()
    dims = struct.unpack("<8h", data[40:56])
    datatype = struct.unpack("<h", data[70:72])[0]
    offset = int(struct.unpack("<f", data[108:112])[0])
    dtype = {2: np.uint8, 16: np.float32, 4: np.int16}[datatype]
    nx, ny, nz = dims[1], dims[2], dims[3]
    return np.frombuffer(data[offset:], dtype=dtype, count=nx * ny * nz).reshape(nz, ny, nx)


def ct_order(folder):
    """The CT's SOP Instance UIDs in slice order (Image Position along the slice normal)."""
    slices = []
    for name in os.listdir(folder):
        ds = pydicom.dcmread(os.path.join(folder, name), stop_before_pixels=True)
        o = np.array(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(o[:3], o[3:])
        slices.append((float(np.dot(normal, np.array(ds.ImagePositionPatient, dtype=float))), ds.SOPInstanceUID))
    return [uid for _, uid in sorted(slices)]


def check_segmentation(out, uids, lungs):
    seg = hd.seg.segread(os.path.join(out, "dicom/segmentation.dcm"))
    described = {}
    for number in seg.segment_numbers:
        d = seg.get_segment_description(number)
        kind = d.SegmentedPropertyTypeCodeSequence[0]
        modifiers = [m.CodeMeaning for m in getattr(kind, "SegmentedPropertyTypeModifierCodeSequence", [])]
        described[number] = (d.SegmentLabel, d.SegmentedPropertyTypeCodeSequence[0].CodeValue, modifiers,
                             d.SegmentAlgorithmType)
    if described.get(1) != ("Right lung", "39607008", ["Right"], "AUTOMATIC"):
        fail("segment 1 is %r" % (described.get(1),))
    if described.get(2) != ("Left lung", "39607008", ["Left"], "AUTOMATIC"):
        fail("segment 2 is %r" % (described.get(2),))
    placed = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, segment_numbers=[1, 2], combine_segments=True, skip_overlap_checks=True)
    if placed.shape != lungs.shape:
        fail("segmentation placed on the CT has shape %r, lung_mask %r" % (placed.shape, lungs.shape))
    differing = int(np.count_nonzero(placed.astype(np.uint8) != lungs))
    if differing:
        fail("%d voxels of the segmentation differ from lung_mask.nii.gz" % differing)
    lesions_path = os.path.join(out, "lesion_mask.nii.gz")
    if os.path.exists(lesions_path):
        if described.get(3, ("",))[0] != "COVID-19 lesion":
            fail("no lesion segment beside lesion_mask.nii.gz")
        lesions = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=uids, segment_numbers=[3], combine_segments=True, skip_overlap_checks=True)
        differing = int(np.count_nonzero((lesions > 0) != (read_nifti(lesions_path) > 0)))
        if differing:
            fail("%d voxels of the lesion segment differ from lesion_mask.nii.gz" % differing)
    elif 3 in described:
        fail("a lesion segment without lesion_mask.nii.gz")
    print("segmentation: %d segments, lungs equal lung_mask.nii.gz (%d right, %d left voxels), lesions equal "
          "lesion_mask.nii.gz" % (len(described), int((lungs == 1).sum()), int((lungs == 2).sum())))
    return seg


def frame_slices(ds, uids):
    """Each frame's slice index, through its Derivation Image Sequence's source image."""
    index = {uid: k for k, uid in enumerate(uids)}
    slices = []
    for item in ds.PerFrameFunctionalGroupsSequence:
        source = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        slices.append(index[source])
    return slices


def in_plane_offset(ct, uid, position):
    """(row, column) of `position` (a frame's Image Position) on the CT slice `uid`."""
    ds = pydicom.dcmread(os.path.join(ct, ct_files(ct)[uid]), stop_before_pixels=True)
    o = np.array(ds.ImageOrientationPatient, dtype=float)
    delta = np.array(position, dtype=float) - np.array(ds.ImagePositionPatient, dtype=float)
    row_spacing, column_spacing = (float(v) for v in ds.PixelSpacing)
    return int(round(np.dot(delta, o[3:]) / row_spacing)), int(round(np.dot(delta, o[:3]) / column_spacing))


_files = {}


def ct_files(ct):
    """SOP Instance UID -> file name of the CT folder."""
    if not _files:
        for name in os.listdir(ct):
            _files[pydicom.dcmread(os.path.join(ct, name), stop_before_pixels=True).SOPInstanceUID] = name
    return _files


def check_parametric_map(out, uids, ct):
    """The map's frames, placed on the CT by their source slice and Image Position (the map may
    cover only the lungs' box), equal probability.nii.gz everywhere (0 outside the box)."""
    path = os.path.join(out, "dicom/probability-map.dcm")
    if not os.path.exists(os.path.join(out, "probability.nii.gz")):
        if os.path.exists(path):
            fail("a Parametric Map without probability.nii.gz")
        print("parametric map: none (no model ran)")
        return
    ds = pydicom.dcmread(path)
    expected = read_nifti(os.path.join(out, "probability.nii.gz"))
    values = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
    placed = np.zeros_like(expected)
    for frame, k in enumerate(frame_slices(ds, uids)):
        position = ds.PerFrameFunctionalGroupsSequence[frame].PlanePositionSequence[0].ImagePositionPatient
        row, column = in_plane_offset(ct, uids[k], position)
        placed[k, row:row + ds.Rows, column:column + ds.Columns] = values[frame]
    largest = float(np.max(np.abs(placed - expected)))
    if largest > 1e-6:
        fail("the Parametric Map differs from probability.nii.gz by up to %g" % largest)
    mapping = ds.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    unit = mapping.MeasurementUnitsCodeSequence[0]
    if (unit.CodeValue, unit.CodingSchemeDesignator) != ("1", "UCUM"):
        fail("the map's unit is %s %s" % (unit.CodeValue, unit.CodingSchemeDesignator))
    if (mapping.DoubleFloatRealWorldValueFirstValueMapped, mapping.DoubleFloatRealWorldValueLastValueMapped) != (0, 1):
        fail("the map's real world value range is not 0...1")
    print("parametric map: %d frames of %dx%d float32, equal probability.nii.gz within %g"
          % (len(values), ds.Rows, ds.Columns, largest))


def concept_value(item):
    return item.ConceptNameCodeSequence[0].CodeValue if "ConceptNameCodeSequence" in item else None


def numbers(item, group, found):
    """Each NUM below `item`: (group, concept meaning, derivation meaning) -> value."""
    for child in getattr(item, "ContentSequence", []):
        if child.ValueType == "NUM":
            derivation = ""
            for modifier in getattr(child, "ContentSequence", []):
                if concept_value(modifier) == "121401":
                    derivation = modifier.ConceptCodeSequence[0].CodeMeaning
            key = (group, child.ConceptNameCodeSequence[0].CodeMeaning, derivation)
            found[key] = float(child.MeasuredValueSequence[0].NumericValue)
        elif child.ValueType == "CONTAINER":
            numbers(child, group, found)


def sr_values(item, found=None):
    """The measurements of every measurement group (a CONTAINER with a Tracking Identifier)."""
    found = {} if found is None else found
    for child in getattr(item, "ContentSequence", []):
        if child.ValueType != "CONTAINER":
            continue
        tracking = [c.TextValue for c in getattr(child, "ContentSequence", []) if concept_value(c) == "112039"]
        if tracking:
            numbers(child, tracking[0], found)
        else:
            sr_values(child, found)
    return found


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def check_report(out, seg_uid):
    ds = pydicom.dcmread(os.path.join(out, "dicom/measurements-sr.dcm"))
    report = json.load(open(os.path.join(out, "report.json")))
    found = sr_values(ds)
    compared = 0
    for name, key in (("right lung", "right"), ("left lung", "left")):
        lung = report["lungPanel"][key]
        wanted = {
            ("Volume", ""): lung["volumeML"],
            ("Attenuation Coefficient", "Mean"): lung["meanHU"],
            ("Attenuation Coefficient", "15th percentile"): lung["percentile15HU"],
        }
        for band, fraction in lung["bandFractions"].items():
            wanted[("Fraction of lung voxels in the %s band" % band, "")] = fraction
        for (concept, derivation), value in wanted.items():
            got = found.get((name, concept, derivation))
            if got is None or not close(got, value):
                fail("SR %s %s %s is %r, report.json %r" % (name, concept, derivation, got, value))
            compared += 1
    probability = report["model"].get("probability")
    got = found.get(("study", "COVID-19 pattern score", ""))
    if probability is not None:
        if got is None or not close(got, probability):
            fail("SR study score is %r, report.json %r" % (got, probability))
        compared += 1
    elif got is not None:
        fail("SR has a study score without a model")
    text = str(ds)
    if seg_uid not in text:
        fail("the SR does not reference the Segmentation")
    print("report: %d measurements equal report.json's" % compared)


def main():
    out, ct = sys.argv[1], sys.argv[2]
    uids = ct_order(ct)
    lungs = read_nifti(os.path.join(out, "lung_mask.nii.gz"))
    seg = check_segmentation(out, uids, lungs)
    check_parametric_map(out, uids, ct)
    check_report(out, seg.SOPInstanceUID)
    study = {pydicom.dcmread(os.path.join(out, "dicom", name)).StudyInstanceUID
             for name in os.listdir(os.path.join(out, "dicom"))}
    source_study = pydicom.dcmread(os.path.join(ct, os.listdir(ct)[0]), stop_before_pixels=True).StudyInstanceUID
    if study != {source_study}:
        fail("the objects' Study Instance UIDs %r are not the source's %s" % (study, source_study))
    print("all objects in the source study")


main()
