"""Resumable, checksum-verified downloads of registered datasets (HTTP(S) and file:// URLs).

A download is written to ``<dest>.part``; when that exists, HTTP resumes it with a ``Range`` request
(a server answering 200 instead of 206 restarts it). The file gets its final name, atomically, only
after its checksum matched; a mismatch removes the ``.part``. Without a published checksum the file is
kept with a clear warning that names its SHA-256. Archives are unpacked into the target folder and kept
beside it, so running the same command again skips the download.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlparse
from urllib.request import Request, url2pathname, urlopen

from tumorscope.data.hashing import file_digest
from tumorscope.data.registry import DatasetInfo, get
from tumorscope.errors import TumorscopeError
from tumorscope.progress import progress

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")
_DEFAULT_HINT = "Download it by hand and pass --url file:///path/to/the/file"


def download_dataset(name: str, to: str | Path, url: str | None = None) -> Path:
    """Download the registered dataset ``name`` into folder ``to``; return the unpacked folder or the file.

    ``url`` replaces the registered address (a mirror, or a copy you fetched by hand as ``file://...``);
    the registered checksum, when there is one, still applies. Datasets without a direct download
    (Kaggle, TCIA, registration) need ``url``; without it the error says where to get them.
    """
    info = get(name)
    source = url or info.download_url
    if source is None:
        raise TumorscopeError(_no_direct_download(info))
    to = Path(to)
    if to.exists() and not to.is_dir():
        raise TumorscopeError("--to must be a folder", to)
    to.mkdir(parents=True, exist_ok=True)
    dest = to / _file_name(source, info)
    hint = f"Download it by hand from {info.url} and pass --url file:///path/to/{dest.name}"
    path = fetch(source, dest, sha256=info.sha256, md5=info.md5, hint=hint)
    if info.unpack and is_archive(path):
        unpack(path, to)
        return to
    return path


def _no_direct_download(info: DatasetInfo) -> str:
    how = {
        "kaggle": "needs a Kaggle account: download the archive from {url}",
        "tcia": "is served by TCIA through the NBIA Data Retriever, not as one file: get it from {url}",
        "registration": "requires registration and accepting its terms; there is no direct download: "
        "request access at {url}",
        "manual": "has no stable direct download link: get it from {url}",
    }[info.access].format(url=info.url)
    return (
        f"dataset {info.name!r} {how}, then run "
        f"`tumorscope datasets download {info.name} --to DIR --url file:///path/to/archive.zip`"
    )


def _file_name(url: str, info: DatasetInfo) -> str:
    name = Path(unquote(urlparse(url).path)).name
    return name or f"{info.name}.download"


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def fetch(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    chunk: int = 1 << 20,
    *,
    md5: str | None = None,
    timeout: float = 30.0,
    hint: str = _DEFAULT_HINT,
) -> Path:
    """Download ``url`` (http, https or file) to ``dest``, resuming ``dest.part``; verify; rename atomically.

    An existing ``dest`` that matches the checksum (or has none to match) is kept without downloading.
    Raises TumorscopeError naming the URL when it cannot be reached, and naming the file on a checksum
    mismatch (the bad ``.part`` is removed then).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():
        if _checksum_problem(dest, sha256, md5) is None:
            log.info("%s already downloaded", dest)
            return dest
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    scheme = urlparse(url).scheme.lower()
    if scheme == "file":
        _copy_file(url, part, chunk)
    elif scheme in ("http", "https"):
        _download_http(url, part, chunk, timeout, hint)
    else:
        raise TumorscopeError(f"cannot download {url}: use an http://, https:// or file:// URL")
    problem = _checksum_problem(part, sha256, md5)
    if problem is not None:
        part.unlink()
        raise TumorscopeError(f"{problem} for {url}; the bad download was removed - try again or check the URL", dest)
    if sha256 is None and md5 is None:
        log.warning(
            "WARNING: %s has no published checksum, so %s was NOT verified; its SHA-256 is %s "
            "- compare it with the source before you trust it",
            url,
            dest.name,
            file_digest(part),
        )
    os.replace(part, dest)
    return dest


def _checksum_problem(path: Path, sha256: str | None, md5: str | None) -> str | None:
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is not None:
            actual = file_digest(path, algorithm)
            if actual != expected.lower():
                return f"checksum mismatch: expected {algorithm} {expected.lower()}, got {actual}"
    return None


def _download_http(url: str, part: Path, chunk: int, timeout: float, hint: str) -> None:
    offset = part.stat().st_size if part.is_file() else 0
    request = Request(url, headers={"User-Agent": "tumorscope", **({"Range": f"bytes={offset}-"} if offset else {})})
    try:
        response = urlopen(request, timeout=timeout)
    except HTTPError as exc:
        if exc.code == 416 and offset:  # Range not satisfiable: the .part is complete or stale
            if _range_total(exc.headers.get("Content-Range")) == offset:
                return
            part.unlink()
            return _download_http(url, part, chunk, timeout, hint)
        raise TumorscopeError(f"cannot download {url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (URLError, OSError) as exc:  # DNS failure, connection refused, timeout
        reason = getattr(exc, "reason", exc)
        raise TumorscopeError(f"cannot reach {url} ({reason}) - no network? {hint}") from None
    with response:
        resumed = offset > 0 and response.status == 206 and _range_start(response.headers.get("Content-Range")) == offset
        if offset and not resumed:
            log.info("%s does not resume downloads; starting %s again", url, part.name)
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        with open(part, "ab" if resumed else "wb") as out:
            try:
                _stream(response, out, offset, total, chunk, part.name)
            except (OSError, http.client.HTTPException) as exc:
                raise TumorscopeError(
                    f"download of {url} was interrupted after {out.tell()} bytes ({exc}); run the same command "
                    "again to resume"
                ) from None
    size = part.stat().st_size
    if total is not None and size != total:
        raise TumorscopeError(
            f"download of {url} ended early ({size} of {total} bytes); run the same command again to resume"
        )


def _range_start(content_range: str | None) -> int | None:
    """Start byte of ``Content-Range: bytes START-END/TOTAL``."""
    try:
        return int(content_range.split()[1].split("-")[0]) if content_range else None
    except (IndexError, ValueError):
        return None


def _range_total(content_range: str | None) -> int | None:
    """TOTAL of ``Content-Range: bytes */TOTAL`` (or ``START-END/TOTAL``)."""
    try:
        return int(content_range.rsplit("/", 1)[1]) if content_range else None
    except (IndexError, ValueError):
        return None


def _copy_file(url: str, part: Path, chunk: int) -> None:
    parsed = urlparse(url)
    source = Path(url2pathname(unquote(parsed.path)))
    if parsed.netloc not in ("", "localhost") or not source.is_file():
        raise TumorscopeError(f"no such file (from --url {url})", source)
    total = source.stat().st_size
    offset = part.stat().st_size if part.is_file() else 0
    offset = offset if offset <= total else 0
    with open(source, "rb") as src, open(part, "ab" if offset else "wb") as out:
        src.seek(offset)
        _stream(src, out, offset, total, chunk, part.name)


def _stream(src: BinaryIO, out: BinaryIO, offset: int, total: int | None, chunk: int, name: str) -> None:
    """Copy ``src`` to ``out`` in chunks with a progress bar (in chunks of ``chunk`` bytes)."""

    def blocks() -> Iterator[bytes]:
        while block := src.read(chunk):
            yield block

    n_chunks = -(-(total - offset) // chunk) if total is not None else None
    for block in progress(blocks(), desc=f"downloading {name}", total=n_chunks):
        out.write(block)


def unpack(archive: str | Path, to: str | Path) -> list[Path]:
    """Unpack a .zip / .tar[.gz|.bz2|.xz] into ``to``; return its top-level entries there.

    Members are extracted into a temporary folder first (zip paths are sanitised by ``zipfile``, tar
    members pass the ``data`` filter), then moved into place, replacing same-named entries.
    """
    archive, to = Path(archive), Path(to)
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", suffix=".unpack", dir=to))
    try:
        try:
            if archive.name.lower().endswith(".zip"):
                with zipfile.ZipFile(archive) as z:
                    z.extractall(tmp)
            else:
                with tarfile.open(archive) as t:
                    t.extractall(tmp, filter="data")
        except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
            raise TumorscopeError(f"cannot unpack: not a valid archive ({exc})", archive) from None
        placed = []
        for entry in sorted(tmp.iterdir()):
            target = to / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(entry, target)
            placed.append(target)
        return placed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
