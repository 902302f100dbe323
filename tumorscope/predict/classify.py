"""Running a classifier: any 2-D image (gray, RGB, RGBA, any size) -> class probabilities (writing
``predict``'s files is :mod:`tumorscope.predict.outputs`).

The same per-image steps serve training, evaluation and ``tumorscope predict``: :func:`image_tensor`
turns one image into network input, :func:`fingerprint` gives its perceptual hash (how a bundle knows
which images it was trained on), :func:`predict_files` runs a bundle over files in batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tumorscope.bundle import Bundle
from tumorscope.errors import TumorscopeError
from tumorscope.models.precision import autocast, channels_last, to_channels_last
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.progress import progress


def image_array(path: str | Path) -> np.ndarray:
    """Read a 2-D image as a channels-last (Y, X, C) array; gray+alpha loses its alpha, a volume is an error."""
    from tumorscope.io import read_image

    img = read_image(path)
    if img.spatial_ndim != 2:
        shape = "x".join(str(s) for s in img.spatial_shape)
        raise TumorscopeError(
            f"is a 3-D volume ({shape}); classification models take 2-D images: pass single slices", path
        )
    a = img.array
    return a[..., :1] if a.shape[-1] == 2 else a


def image_tensor(pre: Preprocessor, array: np.ndarray, path: object = None) -> torch.Tensor:
    """One (Y, X, C) image -> (C', S, S) network input, normalised on its own (not as part of a stack)."""
    return pre.tensor(array[None], path)[0]


def fingerprint(array: np.ndarray) -> int:
    """The image's perceptual hash (ImageHash phash of its gray version) as an unsigned 64-bit integer."""
    from tumorscope.data.hashing import dihedral_phashes, gray_uint8

    return int(dihedral_phashes(gray_uint8(array))[0])


def near_seen(arrays_hashes: Sequence[np.ndarray], seen: Sequence[int], max_bits: int) -> np.ndarray:
    """Which images (each given by its 8 dihedral phashes) lie within ``max_bits`` of a ``seen`` hash
    under some flip/rotation: the same test as the duplicate audit."""
    if not len(seen) or not len(arrays_hashes):
        return np.zeros(len(arrays_hashes), dtype=bool)
    h = np.stack(arrays_hashes).astype(np.uint64)  # (N, 8)
    s = np.asarray(seen, dtype=np.uint64)
    out = np.zeros(len(h), dtype=bool)
    for i in range(0, len(s), 2048):
        dist = np.bitwise_count(h[:, None, :] ^ s[None, i : i + 2048, None]).min(axis=(1, 2))
        out |= dist <= max_bits
    return out


@torch.no_grad()
def predict_tensors(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 64, bf16: bool = True,
                    tta: bool = False) -> np.ndarray:
    """(N, C, S, S) inputs -> (N, K) softmax probabilities (float64); ``tta`` averages them with those of the
    left-right mirrored inputs."""
    to_channels_last(model).eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = channels_last(x[i : i + batch_size])
        views = (xb, xb.flip(-1)) if tta else (xb,)
        probs = []
        for v in views:
            with autocast(bf16):
                probs.append(torch.softmax(model(v).float(), dim=1).double())
        out.append(torch.stack(probs).mean(0).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


@dataclass
class FilePredictions:
    """Probabilities for the files that could be read, and the problem for each that could not."""

    paths: list[Path]
    probs: np.ndarray  # (N, K)
    phashes: list[np.ndarray]  # (8,) dihedral phashes per file
    errors: dict[Path, str]
    tta: bool = False  # whether mirror test-time augmentation ran


def predict_files(bundle: Bundle, paths: Sequence[Path], batch_size: int = 32, strict: bool = True,
                  desc: str = "classifying", tta: bool | None = None) -> FilePredictions:
    """Run a classification bundle over image files, reading them in batches (constant memory).

    ``strict=False`` records a file that cannot be read (or is a volume) and goes on; True raises.
    ``tta``: mirror test-time augmentation; None = the bundle's own setting.
    """
    from tumorscope.data.hashing import dihedral_phashes, gray_uint8

    if bundle.task != "classification":
        raise TumorscopeError(f"model {bundle.name!r} is a {bundle.task} model, not a classifier", bundle.path)
    pre, model = bundle.preprocessor, bundle.network  # PyTorch or a verified exported variant
    bf16 = bundle.runtime_name == "pytorch"  # an exported variant runs as it was verified
    tta = bundle.tta if tta is None else tta
    ok: list[Path] = []
    hashes: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    errors: dict[Path, str] = {}
    batch: list[torch.Tensor] = []
    for path in progress(paths, desc=desc, total=len(paths)):
        try:
            a = image_array(path)
            batch.append(image_tensor(pre, a, path))
        except TumorscopeError as exc:
            if strict:
                raise
            errors[Path(path)] = exc.problem
            continue
        ok.append(Path(path))
        hashes.append(dihedral_phashes(gray_uint8(a)))
        if len(batch) == batch_size:
            probs.append(predict_tensors(model, torch.stack(batch), bf16=bf16, tta=tta))
            batch = []
    if batch:
        probs.append(predict_tensors(model, torch.stack(batch), bf16=bf16, tta=tta))
    k = len(bundle.classes)
    return FilePredictions(ok, np.concatenate(probs) if probs else np.zeros((0, k)), hashes, errors, tta)


def list_images(path: Path) -> list[Path]:
    """One image file, or every 2-D image file under a folder (recursively, sorted; masks skipped)."""
    from tumorscope.data.layouts.class_folders import IMAGE_SUFFIXES, is_ignored

    if not path.exists():
        raise TumorscopeError("no such file or folder", path)
    if path.is_file():
        return [path]
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and "_mask" not in p.stem
        and not any(is_ignored(Path(part)) for part in p.relative_to(path).parts)
    )
    if not files:
        raise TumorscopeError("folder holds no images (.png .jpg .tif .bmp)", path)
    return files
