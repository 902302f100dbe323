"""The one exception type for problems a user can cause (bad file, bad folder, bad option)."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def display_path(path: str | Path) -> str:
    """``path`` as one printable line: bytes that are not UTF-8 shown as ``\\xNN``, control characters as ``\\n``...

    Python decodes such names with surrogate escapes, which no UTF-8 stream can print; this keeps
    the message one printable line whatever the locale.
    """
    text = printable(os.fsdecode(path))
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


# OS errors a user fixes (a path too long, no permission, a full or read-only disk, a file where a folder is
# expected): reported as one line naming the path, never as an internal error. Callers add their own cases.
USER_OS_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EROFS,
                            errno.ENOTDIR, errno.EISDIR})


def printable(text: str) -> str:
    """``text`` with surrogate-escaped bytes (from non-UTF-8 names) shown as ``\\xNN``: always encodable."""
    try:
        raw = text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        raw = text.encode("utf-8", errors="backslashreplace")
    return raw.decode("utf-8", errors="backslashreplace")


class TumorscopeError(Exception):
    """A user-facing error naming the file (when there is one) and the problem.

    The CLI prints ``str(error)`` as one line and exits with code 2. ``path`` keeps the real path
    (non-UTF-8 names included); the message shows it escaped (see :func:`display_path`).
    """

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = problem
        self.path = Path(path) if path is not None else None
        super().__init__(f"{display_path(self.path)}: {problem}" if self.path is not None else problem)
