"""De-identification of DICOM files: the PS3.15 Annex E Basic Application Confidentiality Profile.

The per-tag actions (remove, empty, dummy, replace UID) come from dicom-anonymizer's copy of the
standard's Table E.1-1 (its ``dicomfields_2026c`` database), not from a hand-typed list; see docs/deid.md.
Three of its actions are replaced through its extra-rules mechanism, because the profile asks for more
than the library's defaults give: UIDs map reproducibly per salt (the library draws random ones per run),
dates shift per patient by a salted offset (the library blanks them to 00010101), and text elements the
dictionary names ``...Description``/``...Comments`` that the table does not list are removed too.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pydicom
from dicomanonymizer import simpledicomanonymizer as sda
from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sequence import Sequence

from tumorscope import atomic
from tumorscope.errors import TumorscopeError

Dates = Literal["shift", "remove"]
TABLE = "dicomfields_2026c"  # the newest edition of Table E.1-1 that dicom-anonymizer 2.1.0 ships
SALT_ENV = "TUMORSCOPE_DEID_SALT"
MAX_SHIFT_DAYS = 3650
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"  # and its .1-.4 multi-frame variants
_DIRECTORY = "1.2.840.10008.1.3.10"  # DICOMDIR: a list of names and IDs, never copied
_BIRTH_DATE = (0x0010, 0x0030)  # emptied as the table says, even when shifting: the option keeps it out
_TEXT_VRS = {"LO", "LT", "ST", "UT", "SH", "UC"}
_PROFILE = (("113100", "Basic Application Confidentiality Profile"),)
_SHIFTED = (("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),)
Action = Callable[[Dataset, Any], None]


def _digest(salt: str, value: str) -> bytes:
    return hmac.new(salt.encode(), value.encode(), hashlib.sha256).digest()


def map_uid(uid: str, salt: str) -> str:
    """The same output UID for the same input UID and salt: ``2.25.<128 bits of HMAC-SHA256(salt, uid)>``."""
    return "2.25." + str(int.from_bytes(_digest(salt, "uid:" + uid.strip())[:16], "big"))


def shift_days(patient_id: str, salt: str) -> int:
    """The patient's date offset: 1 to MAX_SHIFT_DAYS days back, from HMAC-SHA256(salt, PatientID)."""
    return -(1 + int.from_bytes(_digest(salt, "date:" + patient_id.strip())[:8], "big") % MAX_SHIFT_DAYS)


def _shift_one(value: str, days: int) -> str:
    """A DA or DT value moved by ``days``; a partial or unreadable date becomes empty (it cannot be shifted)."""
    try:
        day = dt.datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (day + dt.timedelta(days=days)).strftime("%Y%m%d") + value[8:]


def _uid_action(salt: str, fallback: Action) -> Action:
    def act(ds: Dataset, tag: Any) -> None:
        el = ds.get(tag)
        if el is None:
            return
        if el.VR != "UI":
            fallback(ds, tag)
        elif el.VM > 1:
            el.value = [map_uid(str(v), salt) for v in el.value]
        elif el.value:
            el.value = map_uid(str(el.value), salt)
    return act


def _date_action(days: int) -> Action:
    def act(ds: Dataset, tag: Any) -> None:
        el = ds.get(tag)
        if el is None or not el.value:
            return
        values = [str(v) for v in (el.value if el.VM > 1 else [el.value])]
        el.value = [_shift_one(v, days) for v in values] if el.VM > 1 else _shift_one(values[0], days)
    return act


def _is_date(tag: tuple[int, ...]) -> bool:
    return len(tag) == 2 and DicomDictionary.get((tag[0] << 16) | tag[1], ("",))[0] in ("DA", "DT")


def _rules(salt: str, days: int | None) -> dict[tuple[int, ...], Action]:
    """Table E.1-1's actions with the UID, date and free-text overrides (see the module docstring)."""
    base = sda.initialize_actions(TABLE)
    tables = dicom_anonymization_database_selector(TABLE)
    rules: dict[tuple[int, ...], Action] = {}
    for tag in tables["U_TAGS"] + tables["X_Z_U_STAR_TAGS"]:
        rules[tag] = _uid_action(salt, base[tag])
    if days is not None:  # times stay: a shift by whole days leaves them as they were
        rules.update({tag: _date_action(days) for tag in base if _is_date(tag) and tag != _BIRTH_DATE})
    rules.update({tag: sda.delete for tag in _free_text(frozenset(base))})
    return rules


@functools.cache
def _free_text(listed: frozenset[tuple[int, ...]]) -> tuple[tuple[int, int], ...]:
    """Text elements named ``...Description``/``...Comments`` in pydicom's dictionary that the table omits."""
    keys = ((tag >> 16, tag & 0xFFFF, entry) for tag, entry in DicomDictionary.items())
    return tuple((g, e) for g, e, entry in keys if (g, e) not in listed and entry[0] in _TEXT_VRS
                 and entry[4].endswith(("Description", "Comments")))


def refusal(ds: Dataset) -> str | None:
    """Why ``ds`` may carry identifying text in its pixels (which the profile's header rules cannot remove)."""
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        return "BurnedInAnnotation is YES: the pixels carry text"
    if str(ds.get("SOPClassUID", "")).startswith(_SECONDARY_CAPTURE):
        return "a secondary capture (a screenshot or scanned page) may carry burned-in text"
    if str(ds.get("Modality", "")).upper() == "US":
        return "ultrasound images usually carry burned-in text"
    return None


def _clean(ds: Dataset, rules: dict[tuple[int, ...], Action]) -> None:
    """The profile on ``ds`` and, since the library acts on the top level only, inside every kept sequence
    (the profile's K action keeps a sequence but cleans its items)."""
    sda.anonymize_dataset(ds, rules, delete_private_tags=True, base_rules_gen=lambda: sda.initialize_actions(TABLE))
    for el in list(ds):
        if el.VR == "SQ" and el.value is not None:
            for item in el.value:
                _clean(item, rules)


def _mark(ds: Dataset, dates: Dates) -> None:
    """PatientIdentityRemoved, DeidentificationMethod and its code sequence, as PS3.15 E.1.1 asks."""
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED" if dates == "shift" else "REMOVED"
    codes = _PROFILE + (_SHIFTED if dates == "shift" else ())
    ds.DeidentificationMethod = "tumorscope deid: PS3.15 Annex E " + ("shifted dates" if dates == "shift"
                                                                       else "dates removed")
    items = []
    for value, meaning in codes:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)


def deidentify_dataset(ds: Dataset, salt: str, dates: Dates = "shift", allow_burned_in: bool = False,
                       path: str | Path | None = None) -> Dataset:
    """De-identify ``ds`` in place (and return it); TumorscopeError naming ``path`` when it is refused."""
    if not salt:
        raise TumorscopeError(f"a salt is needed (--salt or {SALT_ENV}): it makes the UID and date mapping "
                              "reproducible per site")
    if dates not in ("shift", "remove"):
        raise TumorscopeError(f"--keep-dates must be shift or remove, not {dates!r}")
    reason = refusal(ds)
    if reason and not allow_burned_in:
        raise TumorscopeError(f"refused: {reason} (pass --allow-burned-in once it has been checked)", path)
    days = shift_days(str(ds.get("PatientID", "")), salt) if dates == "shift" else None
    _clean(ds, _rules(salt, days))
    _mark(ds, dates)
    return ds


def _read(src: Path) -> Dataset | None:
    """The DICOM dataset in ``src``; None for a file that is not DICOM or is a DICOMDIR."""
    try:
        ds = pydicom.dcmread(src)
    except (InvalidDicomError, EOFError):
        return None
    except OSError as exc:
        raise TumorscopeError(f"cannot read: {exc.strerror or exc}", src) from exc
    sop = str(ds.get("SOPClassUID", "") or getattr(ds.get("file_meta"), "MediaStorageSOPClassUID", ""))
    return None if sop == _DIRECTORY or "PixelData" not in ds and sop == "" else ds


def deidentify_file(src: str | Path, dst: str | Path, salt: str, dates: Dates = "shift",
                    allow_burned_in: bool = False) -> Dataset:
    """Write the de-identified copy of DICOM file ``src`` to ``dst`` (atomically); returns the new dataset."""
    ds = _read(Path(src))
    if ds is None:
        raise TumorscopeError("not a DICOM image file", src)
    deidentify_dataset(ds, salt, dates, allow_burned_in, src)
    with atomic.atomic_path(dst) as tmp:
        ds.save_as(tmp)
    return ds


def deidentify_tree(in_dir: str | Path, out_dir: str | Path, salt: str, dates: Dates = "shift",
                    allow_burned_in: bool = False) -> dict[str, int]:
    """De-identify every DICOM file under ``in_dir`` into the flat folder ``out_dir``, all or nothing.

    Output files are named by their new SOP Instance UID (input names and folders may hold PHI); other
    files are left out and counted. Any refused file stops the run before ``out_dir`` appears.
    """
    root = Path(in_dir)
    if not root.is_dir():
        raise TumorscopeError("no such folder", root)
    files = sorted(Path(d) / n for d, _dirs, names in os.walk(root) for n in names)
    summary = {"files": 0, "skipped": 0, "series": 0, "studies": 0, "patients": 0}
    series, studies, patients = set(), set(), set()
    with atomic.atomic_path(out_dir) as tmp:
        tmp.mkdir()
        for src in files:
            ds = _read(src)
            if ds is None:
                summary["skipped"] += 1
                continue
            patients.add(str(ds.get("PatientID", "")))
            deidentify_dataset(ds, salt, dates, allow_burned_in, src)
            series.add(str(ds.get("SeriesInstanceUID", "")))
            studies.add(str(ds.get("StudyInstanceUID", "")))
            ds.save_as(tmp / f"{ds.get('SOPInstanceUID') or map_uid(str(src), salt)}.dcm")
            summary["files"] += 1
    summary.update(series=len(series), studies=len(studies), patients=len(patients))
    return summary
