"""Extracting an uploaded zip without trusting it: no path outside the folder, no symlinks, no bombs.

Hand-written over :mod:`zipfile` because the standard library has no safe extraction for zips
(``tarfile`` has filters, ``ZipFile.extractall`` only strips ``..``) and no size limits at all.
Every refusal is a :class:`BadRequest` naming the member (by its name inside the zip) and the problem.

Sizes are checked twice: the sizes the zip declares, before anything is written (so an honest
bomb is refused at once), and the bytes really inflated, while writing (so a zip whose declared
sizes lie is stopped as soon as it passes a limit; :mod:`zipfile` itself never yields more than a
member's declared size, and a member cut short fails its CRC check). A member's compression ratio
is taken against the bytes between its header and the next one, which a declared size cannot stretch.
"""

from __future__ import annotations

import lzma
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path

from tumorscope.errors import display_path
from tumorscope.io.formats import one_line
from tumorscope.limits import human
from tumorscope.serve.errors import BadRequest

MAX_MEMBERS = 10_000  # entries in the zip's directory, skipped ones included
MAX_TOTAL_BYTES = 4 * 1024**3  # bytes of all extracted files together
MAX_RATIO = 200  # inflated : compressed, for one member and for the whole zip ...
RATIO_FLOOR_BYTES = 4 * 1024**2  # ... once past this many inflated bytes (small files may compress better)
_CHUNK = 1024**2
_NAME_MAX = 255
_PATH_MAX = 1024  # bytes of a member's whole path: far below the system's 4096 with the data dir in front
_DRIVE = re.compile(r"^[A-Za-z]:")
# what zipfile and its decoders raise on a damaged archive (bz2 raises OSError; the archive is our own file)
_DAMAGED = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError, struct.error,
            NotImplementedError)


def extract_zip(archive: Path, dest: Path) -> int:
    """Extract the zip at ``archive`` into the new folder ``dest``; returns the number of files written.

    ``__MACOSX/`` and dotfiles are skipped. On a refusal ``dest`` may hold part of the content: the
    caller extracts into a temporary folder and removes it.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except _DAMAGED as exc:
        raise BadRequest(f"damaged zip: {one_line(exc)}") from None
    with zf:
        members = _checked_members(zf)
        spans = _spans(zf)
        dest.mkdir()
        budget = _Budget(archive.stat().st_size)
        for info, parts in members:
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            _extract_member(zf, info, target, min(info.compress_size, spans[info.header_offset]), budget)
    return len(members)


def _spans(zf: zipfile.ZipFile) -> dict[int, int]:
    """Bytes from each member's header to the next header (or the central directory): the most its
    compressed data can really hold, whatever size it declares. Members declared at one offset (an
    overlapping-entries bomb) all get the span of one."""
    starts = sorted({info.header_offset for info in zf.infolist()} | {zf.start_dir})
    return {a: max(b - a, 0) for a, b in zip(starts, starts[1:])} | {starts[-1]: 0}


class _Budget:
    """Bytes inflated so far against :data:`MAX_TOTAL_BYTES` and the zip's real size."""

    def __init__(self, archive_size: int) -> None:
        self.archive_size = max(archive_size, 1)
        self.total = 0

    def spend(self, n: int, member: str) -> None:
        self.total += n
        if self.total > MAX_TOTAL_BYTES:
            raise BadRequest(
                f"the zip's content passed the limit of {human(MAX_TOTAL_BYTES)} (extraction stopped at "
                f"member {member})"
            )
        if self.total > RATIO_FLOOR_BYTES and self.total > MAX_RATIO * self.archive_size:
            raise BadRequest(
                f"decompression bomb: the zip's content passed {human(self.total)} from a zip of "
                f"{human(self.archive_size)}, more than {MAX_RATIO}:1 (extraction stopped at member {member})"
            )


def _quoted(info: zipfile.ZipInfo) -> str:
    return repr(display_path(info.filename))


def _checked_members(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """The files to extract with their relative path parts, after refusing anything unsafe."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BadRequest(f"the zip holds {len(infos)} entries, over the limit of {MAX_MEMBERS}")
    members: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    files: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    declared = 0
    for info in infos:
        parts = _safe_parts(info)
        if info.is_dir() or not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
            continue
        if parts in files or parts in folders or any(parts[:i] in files for i in range(1, len(parts))):
            raise BadRequest(f"zip member {_quoted(info)} clashes with another member of the same name")
        files.add(parts)
        folders.update(parts[:i] for i in range(1, len(parts)))
        declared += info.file_size
        members.append((info, parts))
    if declared > MAX_TOTAL_BYTES:
        raise BadRequest(f"the zip declares {human(declared)} of content, over the limit of {human(MAX_TOTAL_BYTES)}")
    if not members:
        raise BadRequest("the zip holds no files")
    return members


def _safe_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The member's path as parts; BadRequest for an absolute path, ``..``, a symlink or encryption."""
    name = info.filename.replace("\\", "/")  # zips written on Windows may use backslashes
    problem = None
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if name.startswith("/") or _DRIVE.match(name):
        problem = "has an absolute path"
    elif ".." in parts:
        problem = "points outside the zip (a '..' in its path)"
    elif stat.S_ISLNK(info.external_attr >> 16):
        problem = "is a symbolic link"
    elif info.flag_bits & 0x1:
        problem = "is encrypted"
    elif any(len(os.fsencode(p)) > _NAME_MAX for p in parts):
        problem = f"has a name longer than {_NAME_MAX} bytes"
    elif len(os.fsencode("/".join(parts))) > _PATH_MAX:
        problem = f"has a path longer than {_PATH_MAX} bytes"
    if problem:
        raise BadRequest(f"zip member {_quoted(info)} {problem}")
    return parts


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, compressed: int, budget: _Budget) -> None:
    """Copy one member to ``target`` in 1 MiB chunks, counting the bytes really inflated (``compressed``:
    the most compressed bytes it can hold)."""
    written = 0
    with open(target, "xb") as out:
        try:
            src = zf.open(info)
        except _DAMAGED as exc:
            raise BadRequest(f"zip member {_quoted(info)} is damaged: {one_line(exc)}") from None
        with src:
            while True:
                try:
                    chunk = src.read(_CHUNK)
                except _DAMAGED as exc:
                    raise BadRequest(f"zip member {_quoted(info)} is damaged: {one_line(exc)}") from None
                if not chunk:
                    return
                written += len(chunk)
                if written > RATIO_FLOOR_BYTES and written > MAX_RATIO * max(compressed, 1):
                    raise BadRequest(
                        f"decompression bomb: zip member {_quoted(info)} inflated past {human(written)} from "
                        f"{human(compressed)}, more than {MAX_RATIO}:1 (extraction stopped)"
                    )
                budget.spend(len(chunk), _quoted(info))
                out.write(chunk)
