"""Masks: one or several mask files read as one boolean array."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.io.convert import binarize
from tumorscope.io.reader import read_image


def read_mask(paths: str | Path | Sequence[str | Path], shape: Sequence[int] | None = None) -> np.ndarray:
    """Foreground of one mask file, or of several merged with logical OR: bool ``(Y, X)`` or ``(Z, Y, X)``.

    Pixels are binarised explicitly (see ``binarize``: any colour channel > 0, transparent pixels
    excluded), whatever the file's mode (1-bit, gray, RGB, RGBA, uint16). ``shape`` is the expected
    spatial shape (the image's); a mask of another size, or masks of different sizes, raise
    TumorscopeError naming the mask file and both sizes.
    """
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    expected = tuple(int(s) for s in shape) if shape is not None else None
    if not files:
        if expected is None:
            raise ValueError("read_mask needs at least one mask file, or a shape for an empty mask")
        return np.zeros(expected, dtype=bool)
    merged: np.ndarray | None = None
    for f in files:
        mask = binarize(read_image(f).array)
        if expected is not None and mask.shape != expected:
            raise TumorscopeError(
                f"mask size {_size(mask.shape)} does not match the image size {_size(expected)}", f
            )
        if merged is not None and mask.shape != merged.shape:
            raise TumorscopeError(
                f"mask size {_size(mask.shape)} does not match {_size(merged.shape)} of {files[0].name}", f
            )
        merged = mask if merged is None else merged | mask
    assert merged is not None
    return merged


BINARY_VALUES = frozenset({0, 1, 255})


def is_binary(values: np.ndarray) -> bool:
    """Whether a mask's distinct ``values`` (np.unique) make it binary: at most two of 0, 1 and 255 — the rule for
    masks people send back (corrections, readers' masks)."""
    return values.size <= 2 and set(values.tolist()) <= BINARY_VALUES


def mask_is_empty(path: str | Path) -> bool:
    """True when the mask file has no foreground pixel."""
    return not read_mask(path).any()


def _size(shape: tuple[int, ...]) -> str:
    """A spatial shape as people read it: ``WxH`` for 2-D, ``ZxYxX`` for volumes."""
    if len(shape) == 2:
        return f"{shape[1]}x{shape[0]} (width x height)"
    return "x".join(str(s) for s in shape) + " (Z x Y x X)"
