"""The one progress-bar helper (tqdm on stderr; silent when not a terminal unless forced)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, total: int | None = None, leave: bool = False) -> Iterator[T]:
    """Wrap an iterable in a progress bar; ``TUMORSCOPE_PROGRESS=0`` disables it, ``=1`` forces it."""
    force = os.environ.get("TUMORSCOPE_PROGRESS")
    disable = force == "0" or (force != "1" and not sys.stderr.isatty())
    return iter(tqdm(items, desc=desc, total=total, leave=leave, disable=disable, file=sys.stderr, dynamic_ncols=True))
