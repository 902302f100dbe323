"""Uploaded inputs: streamed to disk under the content's SHA-256, sniffed, unzipped safely, read.

Layout (never a path or name a client chose)::

    <uploads_dir>/<sha256>/input.<ext>     the bytes as sent; ext from the sniffed kind
    <uploads_dir>/<sha256>/unpacked/       a zip's content, extracted once on first use
    <uploads_dir>/.incoming/               uploads still arriving

The same bytes uploaded twice land in the same folder, so a result can be looked up by
``(sha256, model)``. Folders appear whole or not at all: they are built under a temporary name
(``.<name>.<pid>.<random>.tmp``, the form :mod:`tumorscope.atomic` sweeps after a kill) and
renamed into place; the first complete copy wins and is never replaced while another request may
be reading it.

``store_upload`` is async (it reads the request); ``prepare_input`` and ``read_upload`` block (disk
and decoding) and belong in a worker thread.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import shutil
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from tumorscope.atomic import clean_stale, remove, temp_beside
from tumorscope.errors import TumorscopeError, display_path
from tumorscope.limits import human
from tumorscope.predict.inputs import PredictInput, read_input
from tumorscope.serve.errors import BadRequest, ServiceError, TooLarge
from tumorscope.serve.sniff import EXTENSIONS, HEAD_BYTES, sniff
from tumorscope.serve.unzip import extract_zip

__all__ = ["StoredUpload", "prepare_input", "read_upload", "sniff", "store_upload", "stored_upload"]

CHUNK_BYTES = 1024**2  # written (and hashed) in pieces of about this size
UNPACKED = "unpacked"
INCOMING = ".incoming"  # uploads being received, beside their final folders (same file system)
CLIENT_NAME = "upload"  # how messages name the uploaded file itself


class AsyncReadable(Protocol):
    """Anything with ``await read(size)``: starlette's / FastAPI's ``UploadFile``."""

    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class StoredUpload:
    """One stored upload: its content hash, sniffed kind (see :func:`sniff`), file and size in bytes."""

    sha256: str
    kind: str
    path: Path  # <uploads_dir>/<sha256>/input.<ext>
    size: int

    @property
    def folder(self) -> Path:
        return self.path.parent


def stored_upload(uploads_dir: Path, sha256: str, kind: str) -> StoredUpload:
    """The upload stored earlier under ``sha256`` as ``kind`` (size 0 when its file is gone)."""
    path = Path(uploads_dir) / sha256 / ("input" + EXTENSIONS[kind])
    return StoredUpload(sha256, kind, path, path.stat().st_size if path.exists() else 0)


async def store_upload(
    source: AsyncIterable[bytes] | AsyncReadable, uploads_dir: Path, max_bytes: int
) -> StoredUpload:
    """Stream ``source`` to ``uploads_dir/<sha256>/input.<ext>`` and return what was stored.

    ``source`` is an async iterable of byte chunks (``request.stream()``) or an object with an async
    ``read(size)`` (an ``UploadFile``). Memory holds at most about 1 MiB of it at a time. Raises
    TooLarge as soon as more than ``max_bytes`` arrived, UnsupportedMedia for bytes of no supported
    kind, BadRequest for an empty upload or empty zip; nothing is left on disk then. The same bytes
    stored before are not stored again: their folder is reused.
    """
    uploads_dir = Path(uploads_dir)
    incoming = uploads_dir / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    clean_stale(incoming)  # temporaries of uploads cut off by a kill
    staging = temp_beside(incoming / "upload")
    staging.mkdir()
    try:
        sha, size, head = await _receive(source, staging / "input", max_bytes)
        kind = await asyncio.to_thread(sniff, head, staging / "input")
        name = "input" + EXTENSIONS[kind]
        os.rename(staging / "input", staging / name)
        folder = uploads_dir / sha
        await asyncio.to_thread(_publish, staging, folder, name)
    finally:
        remove(staging)
    return StoredUpload(sha256=sha, kind=kind, path=folder / name, size=size)


async def _receive(source: AsyncIterable[bytes] | AsyncReadable, target: Path, max_bytes: int) -> tuple[str, int, bytes]:
    """Write ``source`` to ``target``; (SHA-256 hex, size, first HEAD_BYTES bytes)."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    pending: list[bytes] = []
    pending_bytes = 0
    with open(target, "wb") as out:
        async for chunk in _chunks(source):
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"the upload is over the limit of {human(max_bytes)}")
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            pending.append(chunk)
            pending_bytes += len(chunk)
            if pending_bytes >= CHUNK_BYTES:
                await asyncio.to_thread(_write, out, digest, b"".join(pending))
                pending, pending_bytes = [], 0
        if pending:
            await asyncio.to_thread(_write, out, digest, b"".join(pending))
    return digest.hexdigest(), size, head


async def _chunks(source: AsyncIterable[bytes] | AsyncReadable) -> AsyncIterator[bytes]:
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            if chunk:
                yield bytes(chunk)
        return
    while chunk := await source.read(CHUNK_BYTES):
        yield chunk


def _write(out: IO[bytes], digest: hashlib._Hash, data: bytes) -> None:
    digest.update(data)
    out.write(data)


def _publish(staging: Path, folder: Path, name: str = "") -> None:
    """Rename ``staging`` to ``folder`` unless a complete copy (one holding ``name``) is there already."""
    for _ in range(2):
        try:
            os.rename(staging, folder)  # fails on an existing non-empty folder: never replaces one
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        if (folder / name).exists():
            return
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete folder (removed by hand?): replace it
    raise OSError(errno.EEXIST, "upload folder in the way", str(folder))


def prepare_input(upload: StoredUpload) -> Path:
    """The path to give :func:`tumorscope.predict.inputs.read_input` for ``upload``.

    A zip is extracted (safely, see :mod:`tumorscope.serve.unzip`) into ``<sha256>/unpacked/`` on
    first use; the result is its only top-level folder or file when it has exactly one (a zipped
    kaggle_3m patient folder, a zipped .nii), else ``unpacked/`` itself (a DICOM series zipped flat).
    """
    if upload.kind != "zip":
        return upload.path
    root = upload.folder / UNPACKED
    if not root.is_dir():
        clean_stale(upload.folder)
        staging = temp_beside(root)
        try:
            extract_zip(upload.path, staging)
            _publish(staging, root)
        finally:
            remove(staging)
    entries = list(root.iterdir())
    return entries[0] if len(entries) == 1 else root


def read_upload(upload: StoredUpload, series_uid: str | None = None) -> PredictInput:
    """``upload`` read for prediction; BadRequest with the problem for anything the readers refuse.

    Messages name the file as the client knows it (``upload``, or a member's path inside the zip) and
    never show a server path.
    """
    try:
        return read_input(prepare_input(upload), series_uid=series_uid)
    except TumorscopeError as exc:
        problem = _scrub(exc.problem, upload)
        raise BadRequest(f"{client_name(exc.path, upload)}: {problem}" if exc.path else problem) from None
    except ServiceError as exc:  # an unsafe or damaged zip
        raise type(exc)(_scrub(exc.message, upload)) from None


def client_name(path: Path | None, upload: StoredUpload) -> str:
    """``path`` as the client knows it: a member's path inside the zip, ``zip`` for its whole content,
    ``upload`` for the uploaded file (or anything else, so no server path is shown)."""
    if path is None:
        return CLIENT_NAME
    root = upload.folder / UNPACKED
    try:
        relative = Path(path).relative_to(root)
    except ValueError:
        return CLIENT_NAME
    return display_path(relative) if relative.parts else "zip"


def _scrub(text: str, upload: StoredUpload) -> str:
    """``text`` with server paths of this upload replaced by the names the client knows."""
    root = upload.folder / UNPACKED
    for server, shown in ((root, ""), (upload.path, CLIENT_NAME), (upload.folder, CLIENT_NAME)):
        for form in {str(server), display_path(server), os.path.realpath(server)}:
            text = text.replace(form + "/", shown + ("/" if shown else "")).replace(form, shown or "zip")
    return text
