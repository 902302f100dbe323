"""``read_image`` and ``probe_image``: one entry point for every supported format.

The format modules are imported on first use, so reading a PNG never pays for importing
SimpleITK and pydicom (about 0.4 s each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tumorscope.io.formats import DICOM, DICOM_FOLDER, NIFTI, image_format
from tumorscope.io.image import Image


def read_image(path: str | Path, series_uid: str | None = None) -> Image:
    """Read any supported image: a DICOM series folder, a DICOM file, NIfTI, PNG, JPEG, TIFF or BMP.

    A folder is read as a DICOM series (its subfolders are searched when it holds no DICOM);
    ``series_uid`` picks one when there are several. Raises TumorscopeError for a missing, empty,
    damaged or unsupported file.
    """
    fmt = image_format(path)
    if fmt == DICOM_FOLDER:
        from tumorscope.io.dicom import read_dicom_series

        return read_dicom_series(path, series_uid)
    if fmt == DICOM:
        from tumorscope.io.dicom import read_dicom_file

        return read_dicom_file(path)
    if fmt == NIFTI:
        from tumorscope.io.nifti import read_nifti

        return read_nifti(path)
    from tumorscope.io.raster import read_raster

    return read_raster(path)


def probe_image(path: str | Path, series_uid: str | None = None) -> dict[str, Any]:
    """Shape and dtype ``read_image`` would return, read from headers without decoding pixels.

    Returns ``{"shape": tuple, "dtype": str, "mode": str, "format": str}``; ``shape`` is
    channels-last like ``Image.array``.
    """
    fmt = image_format(path)
    if fmt in (DICOM_FOLDER, DICOM):
        from tumorscope.io.dicom import probe_dicom

        return probe_dicom(path, series_uid)
    if fmt == NIFTI:
        from tumorscope.io.nifti import probe_nifti

        return probe_nifti(path)
    from tumorscope.io.raster import probe_raster

    return probe_raster(path)
