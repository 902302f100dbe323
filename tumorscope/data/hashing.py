"""Fingerprints of images and files: exact pixel digests, perceptual hashes that see through flips and
90-degree rotations, and a vectorised search for hashes within a Hamming distance."""

from __future__ import annotations

import hashlib

import imagehash
import numpy as np
from PIL import Image as PILImage

from tumorscope.digest import (
    file_digest as file_digest,  # re-exported: audit and download import it from here
)

# The 8 symmetries of the square: identity, 2 flips, 3 rotations, 2 diagonal mirrors.
_DIHEDRAL: tuple[PILImage.Transpose | None, ...] = (
    None,
    PILImage.Transpose.FLIP_LEFT_RIGHT,
    PILImage.Transpose.FLIP_TOP_BOTTOM,
    PILImage.Transpose.ROTATE_90,
    PILImage.Transpose.ROTATE_180,
    PILImage.Transpose.ROTATE_270,
    PILImage.Transpose.TRANSPOSE,
    PILImage.Transpose.TRANSVERSE,
)
N_TRANSFORMS = len(_DIHEDRAL)
_PHASH_SIZE = 32  # imagehash.phash works on a 32x32 gray thumbnail (hash_size 8 x highfreq_factor 4)


def canonical_pixels(array: np.ndarray) -> np.ndarray:
    """The pixels with a gray picture stored as equal R=G=B channels reduced to one channel.

    Lossless: a gray PNG saved once as ``L`` and once as ``RGB`` gives the same canonical array.
    """
    if array.ndim >= 3 and array.shape[-1] in (3, 4):
        rgb = array[..., :3]
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            return array[..., :1] if array.shape[-1] == 3 else array[..., [0, 3]]
    return array


def pixel_digest(array: np.ndarray) -> str:
    """Hex SHA-256 of the canonical pixels, their shape and dtype: equal iff the decoded images are equal."""
    a = np.ascontiguousarray(canonical_pixels(array))
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def gray_uint8(array: np.ndarray) -> np.ndarray:
    """A 2-D uint8 gray view of a channels-last image: (Y, X, C) or the middle slice of (Z, Y, X, C).

    Colour is reduced to ITU-R 601 luma (as Pillow's ``convert("L")``); alpha is dropped; other dtypes
    are stretched from their min..max onto 0..255.
    """
    a = array[array.shape[0] // 2] if array.ndim == 4 else array
    if a.ndim == 3 and a.shape[-1] in (1, 2):
        a = a[..., 0]
    elif a.ndim == 3:
        luma = a[..., :3].astype(np.float64) @ (0.299, 0.587, 0.114)
        a = np.rint(luma).astype(np.uint8) if a.dtype == np.uint8 else luma
    if a.dtype == np.uint8:
        return a
    a = a.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def dihedral_phashes(gray: np.ndarray) -> np.ndarray:
    """ImageHash ``phash`` of the image under all 8 flips/rotations, as 8 packed ``uint64``.

    The image is shrunk once to phash's 32x32 thumbnail and the symmetries are applied to that, which
    gives the same hashes as transforming the full image first (resampling commutes with them) at 1/8 the cost.
    """
    thumb = PILImage.fromarray(gray).resize((_PHASH_SIZE, _PHASH_SIZE), PILImage.Resampling.LANCZOS)
    bits = [imagehash.phash(thumb if t is None else thumb.transpose(t)).hash.ravel() for t in _DIHEDRAL]
    return np.packbits(np.array(bits, dtype=np.uint8), axis=1).view(">u8").ravel().astype(np.uint64)


def near_pairs(hashes: np.ndarray, max_distance: int, block: int = 512) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, whose images are within ``max_distance`` bits under some symmetry.

    ``hashes`` is ``(n, 8)`` from :func:`dihedral_phashes`; image ``i`` (as is) is compared with every
    symmetry of image ``j``. Vectorised over blocks of rows (numpy XOR + bit count), no Python pair loop.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    n = len(hashes)
    pairs: list[tuple[int, int]] = []
    for start in range(0, n, block):
        rows = hashes[start : start + block, 0]
        dist = np.bitwise_count(rows[:, None, None] ^ hashes[None, :, :]).min(axis=2)
        i, j = np.nonzero(dist <= max_distance)
        i += start
        keep = i != j
        pairs.extend(zip(np.minimum(i, j)[keep].tolist(), np.maximum(i, j)[keep].tolist()))
    return sorted(set(pairs))
