"""Pull a study from, and push DICOM files to, a PACS over DICOMweb (WADO-RS / STOW-RS via ``dicomweb-client``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from tumorscope import atomic
from tumorscope.errors import TumorscopeError, printable

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")  # also keeps a server's answer from naming a path outside the folder
_MAX_UID = 64
_STOW_BATCH = 16  # instances per STOW-RS request: bounds the memory a push of a large series holds
# dicomweb-client retries 408/429/503/504 answers and failed connections, with exponential back-off (ms)
_RETRIES, _BACKOFF_MS = 3, 100
TIMEOUT = (5.0, 120.0)  # seconds to connect, and to wait for each answer: a hung server cannot hang us
_PAGE = 500  # QIDO-RS results per request
_T = TypeVar("_T")


class DicomwebError(TumorscopeError):
    """A DICOMweb request failed (server unreachable, timed out or answered with an error): worth retrying."""


def _one_line(text: str, limit: int = 200) -> str:
    return printable(" ".join(str(text).split()))[:limit]


def _reason(exc: Exception) -> str:
    """The OS reason under requests' nested connection errors ("Connection refused"), else their first line."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return found.group(1).strip() if found else _one_line(str(exc))


def _body(response: requests.Response) -> str:
    """A server's error text: the JSON ``Details``/``Message`` when there is one (Orthanc), else the body."""
    try:
        data = response.json()
    except ValueError:
        return _one_line(response.text)
    if isinstance(data, dict):
        return _one_line(str(data.get("Details") or data.get("Message") or data))
    return _one_line(str(data))


def _call(url: str, what: str, fn: Callable[[], _T]) -> _T:
    """Run one DICOMweb request; connection and HTTP failures become one-line :class:`DicomwebError`."""
    try:
        return fn()
    except requests.exceptions.HTTPError as exc:
        r = exc.response
        status = f"HTTP {r.status_code} {r.reason}" if r is not None else _one_line(str(exc))
        body = _body(r) if r is not None and r.text else ""
        raise DicomwebError(f"the DICOMweb server at {url} refused to {what}: {status}"
                              + (f" ({body})" if body else "")) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise DicomwebError(f"cannot reach the DICOMweb server at {url}: {_reason(exc)}") from exc
    except requests.exceptions.RequestException as exc:
        raise DicomwebError(f"DICOMweb request to {url} failed ({what}): {_one_line(str(exc))}") from exc


def connect(url: str, timeout: float | tuple[float, float] = TIMEOUT) -> DICOMwebClient:
    """A client for the DICOMweb root ``url`` (``http(s)://host[:port]/path``); each request gives up after
    ``timeout`` seconds (one number, or connect and read timeouts)."""
    if not re.match(r"^https?://[^/\s]+", url):
        raise TumorscopeError(f"not a DICOMweb URL (want http://host:port/path): {_one_line(url)}")
    try:
        client = DICOMwebClient(url=url.rstrip("/"), timeout=timeout)
    except ValueError as exc:
        raise TumorscopeError(f"not a DICOMweb URL: {_one_line(url)} ({_one_line(str(exc))})") from exc
    client.set_http_retry_params(max_attempts=_RETRIES, wait_exponential_multiplier=_BACKOFF_MS)
    return client


def _check_uid(uid: str, what: str) -> str:
    uid = str(uid).strip()
    if not (_UID.match(uid) and len(uid) <= _MAX_UID):
        raise TumorscopeError(f"not a valid DICOM {what} UID: {_one_line(uid)}")
    return uid


def pull_study(url: str, study_uid: str, out_dir: str | Path) -> list[Path]:
    """Retrieve every instance of ``study_uid`` (WADO-RS) into ``out_dir`` as ``<SOPInstanceUID>.dcm``.

    Each file is written atomically as it arrives, so an interrupted pull leaves only complete files and a
    repeated pull rewrites the same names. Returns the written paths.
    """
    study_uid = _check_uid(study_uid, "Study Instance")
    client = connect(url)
    what = f"retrieve study {study_uid}"
    written = _save_all(url, what, _call(url, what, lambda: client.iter_study(study_uid)), Path(out_dir))
    if not written:
        raise TumorscopeError(f"the DICOMweb server at {url} has no instances of study {study_uid}")
    return written


def pull_series(client: DICOMwebClient, url: str, study_uid: str, series_uid: str, out_dir: str | Path
                ) -> list[Path]:
    """Retrieve every instance of one series (WADO-RS) into ``out_dir``, as :func:`pull_study` does."""
    study_uid = _check_uid(study_uid, "Study Instance")
    series_uid = _check_uid(series_uid, "Series Instance")
    what = f"retrieve series {series_uid}"
    found = _call(url, what, lambda: client.iter_series(study_uid, series_uid))
    written = _save_all(url, what, found, Path(out_dir))
    if not written:
        raise TumorscopeError(f"the DICOMweb server at {url} has no instances of series {series_uid}")
    return written


def _save_all(url: str, what: str, instances: Iterator[Dataset], out: Path) -> list[Path]:
    """Write each retrieved instance atomically as ``out/<SOPInstanceUID>.dcm`` as it arrives."""
    written: list[Path] = []
    while True:
        ds = _call(url, what, lambda: next(instances, None))
        if ds is None:
            return written
        sop_uid = _check_uid(getattr(ds, "SOPInstanceUID", ""), "SOP Instance (from the server)")
        target = out / f"{sop_uid}.dcm"
        with atomic.atomic_path(target) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        written.append(target)


def search_series(client: DICOMwebClient, url: str, filters: dict[str, str] | None = None) -> list[Dataset]:
    """Every series on the server (QIDO-RS, page by page), narrowed by exact-match ``filters`` such as
    ``{"Modality": "MR"}``; each as a dataset of its series-level attributes."""
    found: list[Dataset] = []
    while True:
        page = _call(url, "search for series", functools.partial(
            client.search_for_series, search_filters=dict(filters or {}), offset=len(found), limit=_PAGE))
        found.extend(Dataset.from_json(item) for item in page)
        if len(page) < _PAGE:
            return found


def first_instance(client: DICOMwebClient, url: str, study_uid: str, series_uid: str) -> Dataset | None:
    """The header (WADO-RS metadata, no pixels) of one instance of the series; None when it has none."""
    what = f"read the metadata of series {series_uid}"
    found = _call(url, what, functools.partial(client.search_for_instances, study_instance_uid=study_uid,
                                               series_instance_uid=series_uid, limit=1))
    if not found:
        return None
    sop_uid = Dataset.from_json(found[0]).SOPInstanceUID
    meta = _call(url, what, functools.partial(client.retrieve_instance_metadata, study_uid, series_uid, sop_uid))
    return Dataset.from_json(meta)


def dicom_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files to push: each file as given, each folder's ``*.dcm`` files at any depth (sorted)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() == ".dcm" and f.is_file())
            if not found:
                raise TumorscopeError("no .dcm files in this folder", p)
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise TumorscopeError("no such file or folder", p)
    return files


def _read(path: Path) -> Dataset:
    try:
        return pydicom.dcmread(path)
    except (InvalidDicomError, EOFError, ValueError, KeyError) as exc:
        raise TumorscopeError(f"not a readable DICOM file ({_one_line(str(exc), 120)})", path) from exc


def _failures(response: Any) -> list[str]:
    """SOP Instance UIDs the STOW-RS response lists as failed."""
    failed = getattr(response, "FailedSOPSequence", None) or []
    return [str(getattr(item, "ReferencedSOPInstanceUID", "?")) for item in failed]


def push_files(url: str, paths: Sequence[str | Path], client: DICOMwebClient | None = None) -> int:
    """Store the DICOM files (folders expanded to their ``.dcm`` files) on the server (STOW-RS); returns the count."""
    files = dicom_files(paths)
    client = client or connect(url)
    for start in range(0, len(files), _STOW_BATCH):
        batch = [_read(f) for f in files[start:start + _STOW_BATCH]]
        response = _call(url, "store instances", functools.partial(client.store_instances, batch))
        failed = _failures(response)
        if failed:
            raise DicomwebError(f"the DICOMweb server at {url} did not store {len(failed)} instance(s): "
                                  f"{', '.join(failed[:3])}{' ...' if len(failed) > 3 else ''}")
    return len(files)
