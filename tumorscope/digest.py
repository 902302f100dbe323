"""Digests of files' bytes (foundation: any stage may use it)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest (``sha256``, ``md5``, any hashlib name) of a file's bytes (:func:`hashlib.file_digest`,
    which streams the file without loading it whole)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()
