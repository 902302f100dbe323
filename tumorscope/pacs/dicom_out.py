"""DICOM outputs of a segmentation of a DICOM series: a binary DICOM SEG, a TID 1500 measurement report SR,
and a Secondary Capture overlay series for viewers without SEG support.

All three are built with highdicom. The SEG's frames reference the exact source instances, carry their plane
positions and orientation, and empty slices have no frame. The SR (Comprehensive 3D SR) reports the tumor
volume, the lesion count and each lesion's volume, each measurement naming the model (bundle name, version
and weights hash) as its algorithm and referencing the SEG's segment. The overlay series has one RGB image per
slice with tumor (predict's overlay picture, burned in), in the source's study, each naming its source image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from tumorscope import __version__
from tumorscope.atomic import atomic_path
from tumorscope.bundle import Bundle
from tumorscope.bundle.version import model_version, weights_sha256
from tumorscope.errors import TumorscopeError
from tumorscope.predict.overlay import display_channel, overlay

SEGMENT = 1
# Local codes (the "99" prefix marks a private coding scheme, PS3.16 8.2) for what no standard code names.
_LESION_COUNT = hd.sr.CodedConcept("LESIONCOUNT", "99TUMORSCOPE", "Number of lesions")
_NO_UNITS = hd.sr.CodedConcept("1", "UCUM", "no units")


class Uids:
    """New UIDs: random, or with a ``seed`` derived from it and a name, so that writing the outputs of the same
    series and model again gives the same UIDs (a PACS then keeps one copy: ``pacs watch`` retries rely on it)."""

    def __init__(self, seed: str | None = None) -> None:
        self.seed = seed

    def __call__(self, name: str) -> hd.UID:
        if self.seed is None:
            return hd.UID()
        return hd.UID(pydicom.uid.generate_uid(entropy_srcs=[self.seed, name]))


def algorithm(bundle: Bundle) -> hd.AlgorithmIdentificationSequence:
    """The model as DICOM names an algorithm: bundle name, version, and the full weights hash as a parameter."""
    return hd.AlgorithmIdentificationSequence(
        name=bundle.name, version=model_version(bundle), family=codes.cid7162.ArtificialIntelligence,
        source="tumorscope", parameters={"weights_sha256": weights_sha256(bundle)},
    )


def sr_algorithm(bundle: Bundle) -> hd.sr.AlgorithmIdentification:
    """The same identification as an SR template (TID 4019) names it."""
    return hd.sr.AlgorithmIdentification(
        name=bundle.name, version=model_version(bundle), parameters=[f"weights_sha256={weights_sha256(bundle)}"],
        family=codes.cid7162.ArtificialIntelligence, manufacturer="tumorscope",
    )


def write_seg(source_files: Sequence[str | Path], mask: np.ndarray, bundle: Bundle, out_path: str | Path,
              uids: Uids | None = None) -> Path:
    """Write ``mask`` (N, Y, X), slice k over ``source_files[k]`` (the DICOM reader's slice order, its
    ``metadata["files"]``), as a binary DICOM SEG at ``out_path``. Returns the path."""
    uids = uids or Uids()
    sources = _read_sources(source_files)
    mask = np.asarray(mask).astype(bool)
    plane = (int(sources[0].Rows), int(sources[0].Columns))
    if mask.shape != (len(sources), *plane):
        raise TumorscopeError(f"mask shape {mask.shape} does not match {len(sources)} slices of {plane}")
    if not mask.any():  # a SEG needs at least one frame, and an empty one would say nothing
        raise TumorscopeError("the mask is empty: there is no segment to write as DICOM SEG")
    description = hd.seg.SegmentDescription(
        segment_number=SEGMENT, segment_label="tumor",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm(bundle),
        tracking_uid=uids("seg-tracking"), tracking_id="tumor",
    )
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=mask, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description], series_instance_uid=uids("seg-series"),
        series_number=_series_number(sources, 1), sop_instance_uid=uids("seg-instance"), instance_number=1, manufacturer="tumorscope",
        manufacturer_model_name=bundle.name[:64], software_versions=__version__, device_serial_number="0",
        series_description=f"tumorscope {bundle.name} segmentation"[:64], omit_empty_frames=True,
    )
    return _save(seg, out_path)


def write_sr(seg: str | Path | Dataset, source_files: Sequence[str | Path], summary: dict[str, Any],
             bundle: Bundle, out_path: str | Path, uids: Uids | None = None) -> Path:
    """Write a TID 1500 measurement report (Comprehensive 3D SR) of ``summary`` (predict's summary.json:
    ``volume_mm3``, ``lesions``) about the SEG ``seg`` of the series ``source_files``. Returns the path."""
    uids = uids or Uids()
    seg_ds = seg if isinstance(seg, Dataset) else pydicom.dcmread(seg)
    sources = _read_sources(source_files)
    algo = sr_algorithm(bundle)
    segment = _referenced_segment(seg_ds, sources)
    lesions = summary.get("lesions") or []
    tumor = [_volume(summary.get("volume_mm3"), algo),
             hd.sr.Measurement(name=_LESION_COUNT, value=len(lesions), unit=_NO_UNITS, algorithm_id=algo)]
    groups = [_group("tumor", segment, [m for m in tumor if m is not None], uids)]
    for lesion in lesions:
        volume = _volume(lesion.get("volume_mm3"), algo)
        groups.append(_group(f"lesion {lesion['id']}", segment, [volume] if volume is not None else [], uids))
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=uids("sr-device"), name=bundle.name[:64], manufacturer_name="tumorscope", model_name=model_version(bundle)[:64],
    )
    context = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=codes.DCM.Device, observer_identifying_attributes=device))
    report = hd.sr.MeasurementReport(
        observation_context=context, procedure_reported=codes.SCT.ImagingProcedure, imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[*sources, seg_ds], content=report, series_instance_uid=uids("sr-series"),
        series_number=_series_number(sources, 2), sop_instance_uid=uids("sr-instance"), instance_number=1,
        manufacturer="tumorscope", series_description=f"tumorscope {bundle.name} measurements"[:64],
        is_complete=True, is_final=False, is_verified=False,
    )
    scheme = Dataset()  # names the local coding scheme, as PS3.3 C.12.1.1.2.1 asks of a private one
    scheme.CodingSchemeDesignator, scheme.CodingSchemeName = _LESION_COUNT.scheme_designator, "tumorscope codes"
    scheme.CodingSchemeResponsibleOrganization = "tumorscope"
    sr.CodingSchemeIdentificationSequence = [scheme]
    return _save(sr, out_path)


def write_dicom_outputs(source_files: Sequence[str | Path], mask: np.ndarray, summary: dict[str, Any],
                        bundle: Bundle, out_dir: str | Path, uid_seed: str | None = None) -> dict[str, Any]:
    """``predict``'s DICOM outputs in ``out_dir`` (seg.dcm, sr.dcm and the overlay/ series); returns the fields it
    adds to the summary. A mask without tumor has no segment to store or measure, so then nothing is written.
    With ``uid_seed`` every UID is derived from it (see :class:`Uids`), else random."""
    uids = Uids(uid_seed)
    out = Path(out_dir)
    if not np.asarray(mask).any():
        return {"dicom_files": [], "dicom_note": "no tumor found: no DICOM SEG, SR or overlay written"}
    out.mkdir(parents=True, exist_ok=True)
    seg = write_seg(source_files, mask, bundle, out / "seg.dcm", uids)
    write_sr(seg, source_files, summary, bundle, out / "sr.dcm", uids)
    overlays = write_overlay_series(source_files, mask, bundle, out / "overlay", uids)
    return {"dicom_files": [f"{out.name}/seg.dcm", f"{out.name}/sr.dcm",
                            *(p.relative_to(out.parent).as_posix() for p in overlays)]}


def write_overlay_series(source_files: Sequence[str | Path], mask: np.ndarray, bundle: Bundle,
                         out_dir: str | Path, uids: Uids | None = None) -> list[Path]:
    """Write one RGB Secondary Capture image per slice of ``mask`` (N, Y, X) with tumor, slice k over
    ``source_files[k]``: predict's overlay picture (tumor filled red, yellow edge) burned into the source pixels.
    The series is new, in the source's study and patient; pixel spacing and patient orientation are copied,
    and each image names its source slice. Returns the written paths (``out_dir``/overlay_NNNN.dcm)."""
    uids = uids or Uids()
    sources = _read_sources(source_files)
    mask = np.asarray(mask).astype(bool)
    if mask.shape != (len(sources), int(sources[0].Rows), int(sources[0].Columns)):
        raise TumorscopeError(f"mask shape {mask.shape} does not match the {len(sources)} source slices")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    series_uid, number = uids("overlay-series"), _series_number(sources, 3)
    description = f"tumorscope overlay ({bundle.name} {model_version(bundle)}) - not for diagnosis"
    paths: list[Path] = []
    for k in np.flatnonzero(mask.any(axis=(1, 2))):
        src = sources[k]
        orientation = _patient_orientation(src)
        sc = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=src, pixel_array=overlay(display_channel(src.pixel_array), mask[k]),
            photometric_interpretation=hd.PhotometricInterpretationValues.RGB, bits_allocated=8,
            coordinate_system=hd.CoordinateSystemNames.PATIENT, series_instance_uid=series_uid,
            series_number=number, sop_instance_uid=uids(f"overlay-{k}"), instance_number=len(paths) + 1,
            manufacturer="tumorscope",
            patient_orientation=(orientation[0][0], orientation[1][0]),  # highdicom takes one letter each
            transfer_syntax_uid=pydicom.uid.ExplicitVRLittleEndian,
        )
        sc.PatientOrientation = list(orientation)  # the oblique letters too, as DICOM allows
        if "PixelSpacing" in src:  # set here: highdicom's from_ref_dataset types it as whole numbers
            sc.PixelSpacing = src.PixelSpacing
        sc.Laterality = src.get("Laterality", "")  # type 2C: empty when the source does not say
        sc.SeriesDescription = description[:64]
        sc.ImageType = ["DERIVED", "SECONDARY"]
        sc.BurnedInAnnotation = "YES"
        sc.ManufacturerModelName, sc.SoftwareVersions = bundle.name[:64], __version__
        sc.DerivationDescription = "tumorscope prediction (red fill, yellow edge) over the source image"
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = src.SOPClassUID, src.SOPInstanceUID
        sc.SourceImageSequence = [ref]
        paths.append(_save(sc, out / f"overlay_{k:04d}.dcm"))
    return paths


def _patient_orientation(ds: Dataset) -> tuple[str, str]:
    """Patient Orientation (row, column directions as L/R, A/P, H/F letters, PS3.3 C.7.6.1.1.1) from Image
    Orientation (Patient); components under 0.1 are dropped, the rest ordered by size."""
    iop = ds.get("ImageOrientationPatient")
    if not iop:
        raise TumorscopeError("a source slice has no Image Orientation (Patient)", str(ds.get("SOPInstanceUID")))
    letters = (("L", "R"), ("P", "A"), ("H", "F"))  # + and - along the LPS patient axes

    def name(v: np.ndarray) -> str:
        order = [i for i in np.argsort(-np.abs(v)) if abs(v[i]) >= 0.1]
        return "".join(letters[i][0 if v[i] > 0 else 1] for i in order)

    v = np.array([float(x) for x in iop])
    return (name(v[:3]), name(v[3:]))


def _read_sources(files: Sequence[str | Path]) -> list[Dataset]:
    if not files:
        raise TumorscopeError("no source DICOM files to reference")
    return [pydicom.dcmread(f) for f in files]


def _referenced_segment(seg: Dataset, sources: list[Dataset]) -> hd.sr.ReferencedSegment:
    """The SEG's segment and the source images its frames are derived from. Built here because highdicom's
    ``ReferencedSegment.from_segmentation`` looks for the segment in each frame's functional groups, where
    highdicom itself does not put it when a SEG has one segment (it goes in the shared groups)."""
    used = {str(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
            for item in seg.PerFrameFunctionalGroupsSequence}
    return hd.sr.ReferencedSegment(
        sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, segment_number=SEGMENT,
        source_images=[hd.sr.SourceImageForSegmentation.from_source_image(ds) for ds in sources
                       if str(ds.SOPInstanceUID) in used],
    )


def _series_number(sources: list[Dataset], offset: int) -> int:
    """A series number after the source's (viewers sort series by it)."""
    return int(sources[0].get("SeriesNumber") or 0) + 1000 + offset


def _volume(mm3: float | None, algo: hd.sr.AlgorithmIdentification) -> hd.sr.Measurement | None:
    if mm3 is None:
        return None
    return hd.sr.Measurement(name=codes.SCT.Volume, value=float(mm3), unit=codes.UCUM.CubicMillimeter,
                             algorithm_id=algo)


def _group(name: str, segment: hd.sr.ReferencedSegment, measurements: list[hd.sr.Measurement], uids: Uids
           ) -> hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=uids(f"tracking {name}"), identifier=name),
        referenced_segment=segment, finding_type=codes.SCT.Neoplasm, measurements=measurements,
    )


def _save(ds: Dataset, out_path: str | Path) -> Path:
    out = Path(out_path)
    with atomic_path(out) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return out
