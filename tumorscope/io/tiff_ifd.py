"""The chain of TIFF image file directories (IFDs), walked before tifffile sees the file.

tifffile follows next-IFD offsets without noticing a directory that points back to itself or to an
earlier one: a damaged file of 1 KB then makes it list pages for ever, its memory growing. The walk
here reads only the counts and offsets (a few bytes per page) and refuses loops and absurd page
counts.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tumorscope.errors import TumorscopeError

MAX_PAGES = 100_000


def check_ifd_chain(path: Path) -> int:
    """The number of pages of a TIFF file; TumorscopeError for a loop or more than ``MAX_PAGES``.

    A chain that runs past the end of the file simply ends there (tifffile reports what it can
    read); a file that is not TIFF at all is left to tifffile's own error.
    """
    with open(path, "rb") as f:
        head = f.read(16)
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            return 0
        order = "<" if head[:2] == b"II" else ">"
        (magic,) = struct.unpack(order + "H", head[2:4])
        if magic == 42:
            offset = struct.unpack(order + "I", head[4:8])[0]
            count_fmt, entry_size, offset_fmt = "H", 12, "I"
        elif magic == 43 and len(head) >= 16:
            offset = struct.unpack(order + "Q", head[8:16])[0]
            count_fmt, entry_size, offset_fmt = "Q", 20, "Q"
        else:
            return 0
        count_size, offset_size = struct.calcsize(count_fmt), struct.calcsize(offset_fmt)
        seen: set[int] = set()
        while offset:
            if offset in seen:
                raise TumorscopeError(
                    f"cannot read TIFF: directory {len(seen) + 1} points back to an earlier one (a loop)", path
                )
            if len(seen) >= MAX_PAGES:
                raise TumorscopeError(f"cannot read TIFF: more than {MAX_PAGES} pages", path)
            seen.add(offset)
            f.seek(offset)
            raw = f.read(count_size)
            if len(raw) < count_size:
                break
            (n_tags,) = struct.unpack(order + count_fmt, raw)
            f.seek(offset + count_size + n_tags * entry_size)
            raw = f.read(offset_size)
            if len(raw) < offset_size:
                break
            (offset,) = struct.unpack(order + offset_fmt, raw)
    return len(seen)
