"""Convert a kaggle_3m patient folder, a NIfTI volume or a slice folder into a DICOM series, and back.

For tests, demos and sites without DICOM. The series is MR Image Storage (or CT Image Storage) with the
input's geometry: a NIfTI's affine (origin, direction, spacing); a slice folder or kaggle_3m patient has
none, so it gets 1 mm pixels, 1 mm slices, an identity direction and slice k at z = k mm. Pixels are
monochrome 16-bit; an RGB slice is reduced to the channel people read (``predict.overlay.display_channel``:
channel 1, FLAIR of kaggle_3m's pre-contrast/FLAIR/post-contrast TIFFs), so the series holds FLAIR only.
Every conversion has fresh UIDs, and a pseudonymous patient derived from the input's name.

A NIfTI whose axes are left-handed (third axis against row x column) comes back from the series with its
slices in the opposite order: the same voxels in space, indexed along the other way.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Literal

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from tumorscope.atomic import atomic_path
from tumorscope.errors import TumorscopeError
from tumorscope.io.image import Image
from tumorscope.predict.inputs import PredictInput, read_input
from tumorscope.predict.overlay import display_channel

Modality = Literal["MR", "CT"]
SOP_CLASSES = {"MR": MRImageStorage, "CT": CTImageStorage}
_U16 = 65535


def to_dicom_series(inp_path: str | Path, out_dir: str | Path, modality: Modality = "MR",
                    synthetic: bool = False) -> list[Path]:
    """Write ``inp_path`` (kaggle_3m patient, NIfTI, slice folder...) as one DICOM series in ``out_dir``.

    The folder appears complete or not at all (replacing an earlier one); returns its files in slice order
    (``read_input``'s order of the input). ``synthetic`` says so in the series description: a series made only
    to be referenced by DICOM outputs of a non-DICOM input (``predict --dicom``).
    """
    if modality not in SOP_CLASSES:
        raise TumorscopeError(f"modality must be MR or CT, not {modality!r}")
    src = Path(inp_path)
    inp = read_input(src)
    gray = _gray(inp)
    spacing, origin, direction = _geometry(inp)
    stored, slope, intercept = _to_uint16(gray)
    series = _series_header(src, modality, spacing, direction, slope, intercept)
    if synthetic:
        name = str(series.SeriesDescription).removeprefix("tumorscope convert of ")
        series.SeriesDescription = f"SYNTHETIC source (tumorscope) of {name}"[:64]
    out = Path(out_dir)
    names = [f"IM{k + 1:04d}.dcm" for k in range(len(stored))]
    step = direction[:, 2] * spacing[2]
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for k, (name, pixels) in enumerate(zip(names, stored)):
            _write_slice(series, k, pixels, np.asarray(origin) + k * step, tmp / name)
    return [out / name for name in names]


def to_nifti(dicom_dir: str | Path, out_path: str | Path) -> Path:
    """Write the DICOM series in ``dicom_dir`` as a NIfTI volume (.nii or .nii.gz) with its geometry."""
    from tumorscope.io import read_image, write_image

    image = read_image(Path(dicom_dir))
    if image.spatial_ndim != 3:
        image = Image(image.array[None], (*image.spacing, 1.0), (*image.origin, 0.0),
                      tuple(np.eye(3).ravel().tolist()), image.metadata, image.path)
    return write_image(image, out_path)


def pseudonym(name: str) -> str:
    """A stable, non-identifying patient id for an input named ``name``."""
    return "TS" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12].upper()


def _gray(inp: PredictInput) -> np.ndarray:
    """(N, Y, X) float pixels of the display channel."""
    slices = inp.slices
    if slices.shape[-1] not in (1, 3):
        raise TumorscopeError(f"cannot pick a display channel from {slices.shape[-1]} channels", inp.path)
    picked = np.stack([display_channel(s) for s in slices])
    return (picked[..., 0] if picked.ndim == 4 else picked).astype(np.float64)


def _geometry(inp: PredictInput) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(spacing x,y,z; origin; direction as a 3x3 matrix whose columns are the axes), LPS millimetres."""
    vol = inp.volume
    if vol is None or not vol.metadata.get("has_geometry", True):
        return np.ones(3), np.zeros(3), np.eye(3)
    return (np.asarray(vol.spacing, float), np.asarray(vol.origin, float),
            np.asarray(vol.direction, float).reshape(3, 3))


def _to_uint16(gray: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(stored uint16 pixels, rescale slope, intercept): integers spanning at most 65535 exactly (shifted by the
    intercept when below 0 or above 65535), anything else by a linear map onto 0..65535."""
    values = np.asarray(gray, dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= _U16 and np.array_equal(values, np.round(values)):
        shift = 0.0 if lo >= 0 and hi <= _U16 else lo
        return (values - shift).astype(np.uint16), 1.0, shift
    slope = (hi - lo) / _U16 if hi > lo else 1.0
    return np.round((values - lo) / slope).astype(np.uint16), slope, lo


def _series_header(src: Path, modality: Modality, spacing: np.ndarray, direction: np.ndarray,
                   slope: float, intercept: float) -> Dataset:
    """The attributes every file of the series shares."""
    name = src.name.removesuffix(".gz").removesuffix(".nii") or src.resolve().name
    now = datetime.datetime.now()
    ds = Dataset()
    ds.SOPClassUID = SOP_CLASSES[modality]
    ds.Modality = modality
    ds.PatientID = pseudonym(name)
    ds.PatientName = f"{ds.PatientID}^Pseudonym"  # family^given: a name form dciodvfy accepts
    ds.PatientBirthDate = ds.PatientSex = ""
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), generate_uid(), generate_uid()
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.ReferringPhysicianName = ds.AccessionNumber = ds.PositionReferenceIndicator = ""
    ds.StudyID, ds.SeriesNumber = "1", 1
    ds.SeriesDescription = f"tumorscope convert of {name}"[:64]
    ds.Laterality = ds.PatientPosition = ""  # type 2: unknown
    ds.Manufacturer = "tumorscope"
    ds.ImageType = ["DERIVED", "SECONDARY", "OTHER"]
    ds.PixelSpacing = [f"{spacing[1]:.6g}", f"{spacing[0]:.6g}"]  # DICOM: between rows, then between columns
    ds.SliceThickness = f"{spacing[2]:.6g}"
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*direction[:, 0], *direction[:, 1])]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    if modality == "CT" or (slope, intercept) != (1.0, 0.0):
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", f"{intercept:.10g}"
        if modality == "MR":
            ds.RescaleType = "US"  # unspecified units (MR has no Hounsfield)
    if modality == "MR":  # MR Image module: a derived image from no known sequence
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions = "RM", "NONE", ""
        ds.MRAcquisitionType, ds.EchoTime, ds.EchoTrainLength, ds.RepetitionTime = "2D", "", "", ""
    else:
        ds.KVP, ds.AcquisitionNumber = "", ""
    return ds


def _write_slice(series: Dataset, k: int, pixels: np.ndarray, position: np.ndarray, path: Path) -> None:
    ds = Dataset()
    ds.update(series)
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.Rows, ds.Columns = (int(n) for n in pixels.shape)
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    try:
        ds.save_as(path, enforce_file_format=True)
    except OSError as exc:
        raise TumorscopeError(f"cannot write DICOM: {exc.strerror or exc}", path) from exc
