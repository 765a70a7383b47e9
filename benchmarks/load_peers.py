"""Python peers for benchmarks/load.sh: load one DICOM CT series into memory as HU.

Usage: python load_peers.py {sitk,pydicom} DIR

Prints `LOAD_SECONDS <s>` (time.perf_counter around the load only, so interpreter start-up
and imports are excluded) and a sanity line with shape, dtype and value range. load.sh also
times the whole process from outside, so both figures are available.
"""

import os
import sys
import time


# Each loader returns (seconds, array, owner): owner keeps alive whatever holds the array's memory.


def load_sitk(folder):
    """SimpleITK ImageSeriesReader: GDCM finds and orders the first series; Execute reads
    it with rescale slope/intercept applied (HU)."""
    import SimpleITK as sitk

    start = time.perf_counter()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder))
    image = reader.Execute()
    # A view (no copy) of the voxel buffer: proves the data is in memory as a numpy array.
    array = sitk.GetArrayViewFromImage(image)
    seconds = time.perf_counter() - start
    # The view does not own the buffer, so the image is returned with it: reading the view
    # after the image is freed crashes.
    return seconds, array, image


def load_pydicom(folder):
    """pydicom + numpy, the way a careful user writes it: read every file, keep the biggest
    series, order by Image Position (Patient) projected on the slice normal (not by Instance
    Number), and stack stored value * slope + intercept as int16 when exact, else float32."""
    import numpy as np
    import pydicom
    from pydicom.errors import InvalidDicomError

    start = time.perf_counter()
    series = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            ds = pydicom.dcmread(path)
        except InvalidDicomError:
            continue  # a non-DICOM file in the folder: skip it, as lungct and dcm2niix do
        if "PixelData" in ds:
            series.setdefault(ds.SeriesInstanceUID, []).append(ds)
    slices = max(series.values(), key=len)

    row, col = np.array(slices[0].ImageOrientationPatient, dtype=float).reshape(2, 3)
    normal = np.cross(row, col)
    slices.sort(key=lambda ds: float(np.dot(normal, np.array(ds.ImagePositionPatient, dtype=float))))

    slopes = [float(getattr(ds, "RescaleSlope", 1)) for ds in slices]
    intercepts = [float(getattr(ds, "RescaleIntercept", 0)) for ds in slices]
    exact = all(s.is_integer() for s in slopes) and all(i.is_integer() for i in intercepts)
    first = slices[0]
    volume = np.empty((len(slices), first.Rows, first.Columns), dtype=np.int16 if exact else np.float32)
    for z, ds in enumerate(slices):
        if exact:
            hu = ds.pixel_array.astype(np.int32) * int(slopes[z]) + int(intercepts[z])
            if volume.dtype == np.int16 and (hu.min() < -32768 or hu.max() > 32767):
                volume = volume.astype(np.float32)  # does not fit int16 after all
            volume[z] = hu
        else:
            volume[z] = ds.pixel_array.astype(np.float32) * slopes[z] + intercepts[z]
    return time.perf_counter() - start, volume, None


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("sitk", "pydicom"):
        sys.exit(__doc__)
    loader = load_sitk if sys.argv[1] == "sitk" else load_pydicom
    seconds, array, _owner = loader(sys.argv[2])
    print(f"LOAD_SECONDS {seconds:.6f}")
    # Outside the timed window: lets a reader check that every peer loaded the same thing.
    print(f"shape={tuple(array.shape)} dtype={array.dtype} min={array.min()} max={array.max()}")


if __name__ == "__main__":
    main()
