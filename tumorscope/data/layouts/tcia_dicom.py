"""DICOM studies as TCIA/NBIA downloads them (``.dcm`` files at any depth), with optional box annotations.

One Sample per ``.dcm`` slice: ``patient_id`` = DICOM PatientID, ``slice_index`` = 1-based position of the
slice within its series, sorted by ImagePositionPatient along the slice normal (ascending, the order
SimpleITK/GDCM stack a series in; InstanceNumber, then file name, when positions are missing),
``extra`` = {series_uid, sop_uid[, annotation]}.

Annotations are Lung-PET-CT-Dx PASCAL-VOC XML files named ``<SOPInstanceUID>.xml`` (usually under
``Annotation/<id>/``), matched to slices by SOPInstanceUID only. An annotated slice gets the first
object's name as label and every ``bndbox`` as (xmin, ymin, xmax, ymax); an unannotated slice gets label
None, which means "no annotation", not "no tumor".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.data.layouts.class_folders import is_ignored
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.io.formats import one_line

NAME = "tcia_dicom"
_TAGS = (
    "PatientID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "InstanceNumber",
)


def _visible(paths: Any, root: Path) -> Any:
    return (p for p in paths if not any(is_ignored(Path(part)) for part in p.relative_to(root).parts))


def _dicom_files(root: Path) -> list[Path]:
    return sorted(p for p in _visible(root.rglob("*.[dD][cC][mM]"), root) if p.is_file())


def detect(root: Path) -> bool:
    return next(_visible(root.rglob("*.[dD][cC][mM]"), root), None) is not None


def _header(path: Path) -> dict[str, Any]:
    """The tags of ``_TAGS`` that one file has (pixels are not read)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    from tumorscope.io.dicom_header import header_floats, header_int, header_text

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(_TAGS))
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise TumorscopeError(f"not a readable DICOM file ({one_line(exc)})", path) from exc
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on damaged files
        raise TumorscopeError(f"not a readable DICOM file ({one_line(exc)})", path) from exc
    head: dict[str, Any] = {tag: header_text(ds, tag, path) for tag in ("PatientID", "SeriesInstanceUID", "SOPInstanceUID")}
    head["ImagePositionPatient"] = header_floats(ds, "ImagePositionPatient", path, 3)
    head["ImageOrientationPatient"] = header_floats(ds, "ImageOrientationPatient", path, 6)
    head["InstanceNumber"] = header_int(ds, "InstanceNumber", path, default=None, positive=False)
    for tag in ("SeriesInstanceUID", "SOPInstanceUID"):
        if not head[tag]:
            raise TumorscopeError(f"DICOM file has no {tag}", path)
    return head


def _position(head: dict[str, Any]) -> float | None:
    """Distance of the slice along its normal, or None when position or orientation is missing."""
    ipp, iop = head["ImagePositionPatient"], head["ImageOrientationPatient"]
    if ipp is None or iop is None or len(ipp) != 3 or len(iop) != 6:
        return None
    normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
    return float(np.dot(normal, np.asarray(ipp, float)))


def _ordered(series: list[tuple[Path, dict[str, Any]]]) -> list[tuple[Path, dict[str, Any]]]:
    """Slices of one series in stacking order."""
    positions = [_position(h) for _, h in series]
    if all(p is not None for p in positions):
        order = sorted(range(len(series)), key=lambda i: (positions[i], series[i][0].name))
        return [series[i] for i in order]
    if all(h["InstanceNumber"] is not None for _, h in series):
        return sorted(series, key=lambda fh: (int(fh[1]["InstanceNumber"]), fh[0].name))
    return sorted(series, key=lambda fh: fh[0].name)


def _box(bndbox: ET.Element) -> tuple[int, int, int, int]:
    xmin, ymin, xmax, ymax = (int(float(bndbox.findtext(k) or "")) for k in ("xmin", "ymin", "xmax", "ymax"))
    return xmin, ymin, xmax, ymax


def read_annotation(path: Path) -> tuple[str | None, tuple[tuple[int, int, int, int], ...]]:
    """(first object name, boxes) of one PASCAL-VOC XML file."""
    try:
        objects = ET.parse(path).getroot().findall("object")
        names = [(o.findtext("name") or "").strip() for o in objects]
        boxes = tuple(_box(box) for o in objects if (box := o.find("bndbox")) is not None)
    except (ET.ParseError, ValueError) as exc:
        raise TumorscopeError(f"not a readable PASCAL-VOC annotation ({exc})", path) from exc
    return next((n for n in names if n), None), boxes


def load(root: Path) -> list[Sample]:
    series: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for f in _dicom_files(root):
        head = _header(f)
        series.setdefault(str(head["SeriesInstanceUID"]), []).append((f, head))
    annotations = {p.stem: p for p in _visible(root.rglob("*.[xX][mM][lL]"), root) if p.is_file()}
    samples = []
    for series_uid in sorted(series, key=lambda uid: str(series[uid][0][0])):
        for index, (f, head) in enumerate(_ordered(series[series_uid]), start=1):
            sop = str(head["SOPInstanceUID"])
            extra: dict[str, Any] = {"series_uid": series_uid, "sop_uid": sop}
            label: str | None = None
            boxes: tuple[tuple[int, int, int, int], ...] = ()
            if sop in annotations:
                extra["annotation"] = annotations[sop]
                label, boxes = read_annotation(annotations[sop])
            samples.append(
                Sample(
                    image=f,
                    label=label,
                    patient_id=str(head["PatientID"] or "") or None,
                    slice_index=index,
                    boxes=boxes,
                    extra=extra,
                )
            )
    return samples
