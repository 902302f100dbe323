"""Dataset layouts with one damaged, oddly named or odd-sized file, and file-system oddities, through
``load_dataset`` + ``inspect_dataset`` + ``load_stacks`` and the readers (same property as the readers)."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.fuzz.corpus import mutate_file, odd_name, write_seed
from tests.fuzz.harness import Case, run_cases
from tests.io.conftest import write_series
from tests.synthetic import write_kaggle3m, write_nnunet


def _class_folders(root: Path) -> Path:
    for label in ("glioma", "notumor"):
        for k in range(3):
            d = root / "Training" / label
            d.mkdir(parents=True, exist_ok=True)
            PILImage.fromarray(np.full((12, 12), 40 * k, np.uint8)).save(d / f"{label}_{k}.png")
    return root


def _busi(root: Path) -> Path:
    for label in ("benign", "malignant"):
        d = root / "Dataset_BUSI_with_GT" / label
        d.mkdir(parents=True)
        for k in range(2):
            PILImage.fromarray(np.full((10, 14), 90, np.uint8)).save(d / f"{label} ({k}).png")
            PILImage.fromarray(np.eye(10, 14, dtype=np.uint8) * 255).save(d / f"{label} ({k})_mask.png")
    return root


def _tcia(root: Path) -> Path:
    write_series(root / "Lung-PET-CT-Dx" / "A0001" / "s1", n=3, shape=(6, 6))
    return root


LAYOUTS: dict[str, Callable[[Path], Path]] = {
    "lgg_kaggle3m": lambda r: write_kaggle3m(r, n_patients=2, n_slices=3, size=16),
    "nnunet": lambda r: write_nnunet(r, n_cases=2, shape=(4, 8, 8)),
    "class_folders": _class_folders,
    "busi": _busi,
    "tcia_dicom": _tcia,
}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() != ".json")


def _layout_cases(root: Path, per_layout: int, seed: int) -> list[Case]:
    cases = []
    for name, build in LAYOUTS.items():
        clean = build(root / "clean" / name)
        cases.append(Case(clean, "dataset", f"{name} clean"))
        for k in range(per_layout):
            rng = random.Random(f"{seed}:{name}:{k}")
            copy = root / name / str(k)
            shutil.copytree(clean, copy)
            victim = rng.choice(_files(copy))
            action = rng.choice(("mutate", "mutate", "rename", "resize"))
            if action == "mutate":
                label = mutate_file(victim, rng)
            elif action == "rename":
                new = os.path.join(os.fsencode(victim.parent), odd_name(rng) + os.fsencode(victim.name))
                os.rename(os.fsencode(victim), new)
                label = f"renamed {victim.name} with odd bytes"
            else:
                label = f"{victim.name} replaced by another size"
                if victim.suffix.lower() in (".png", ".tif", ".tiff"):
                    shutil.copyfile(write_seed("png" if victim.suffix == ".png" else "tif", copy / ".seed"), victim)
                    shutil.rmtree(copy / ".seed")
            cases.append(Case(copy, "dataset", f"{name} #{k} {label}"))
    return cases


def _odd_file_system(root: Path) -> list[Case]:
    """Names and file types readers meet in uploads and shared folders."""
    cases = []
    seed = write_seed("png", root / "seed")
    fifo = root / "pipe.png"
    os.mkfifo(fifo)
    cases.append(Case(fifo, "read", "a FIFO named .png (must not block)"))
    loop = root / "loop.nii"
    os.symlink(loop, loop)
    cases.append(Case(loop, "read", "a symlink to itself"))
    dangling = root / "gone.dcm"
    os.symlink(root / "nowhere.dcm", dangling)
    cases.append(Case(dangling, "read", "a dangling symlink"))
    folder_png = root / "folder.png"
    folder_png.mkdir()
    cases.append(Case(folder_png, "read", "a folder named .png"))
    long_name = root / ("n" * 260 + ".png")
    cases.append(Case(long_name, "read", "a name over 255 bytes"))
    deep = root / "/".join(["d" * 200] * 25) / "x.png"
    cases.append(Case(deep, "read", "a path over PATH_MAX"))
    for stem in (b"caf\xe9", b"a\nb", b"\x1b[31mred", b"tab\tname"):
        odd = Path(os.fsdecode(os.path.join(os.fsencode(root), stem + b".png")))
        shutil.copyfile(seed, odd)
        cases.append(Case(odd, "read", f"name {stem!r}"))
        bad = Path(os.fsdecode(os.path.join(os.fsencode(root), stem + b"_bad.png")))
        bad.write_bytes(b"\x89PNG broken")
        cases.append(Case(bad, "read", f"damaged, name {stem!r}"))
    odd_dir = Path(os.fsdecode(os.path.join(os.fsencode(root), b"s\xe9ries")))
    write_series(odd_dir, n=2, shape=(4, 4))
    cases.append(Case(odd_dir, "read", "a DICOM series in a non-UTF-8 folder"))
    for name in ("empty.nii.gz", "empty.dcm", "empty.tif"):
        (root / name).write_bytes(b"")
        cases.append(Case(root / name, "read", f"empty {name}"))
    return cases


def test_fuzz_layouts_fast(tmp_path: Path, fuzz_seed: int) -> None:
    cases = _layout_cases(tmp_path, 6, fuzz_seed)
    problems = run_cases(cases, tmp_path / "run", timeout=300)
    assert not problems, "\n".join(problems[:20])


def test_file_system_oddities(tmp_path: Path) -> None:
    cases = _odd_file_system(tmp_path / "fs")
    problems = run_cases(cases, tmp_path / "run", timeout=120)
    assert not problems, "\n".join(problems)


@pytest.mark.fuzz
@pytest.mark.slow
def test_fuzz_layouts_long(tmp_path: Path, fuzz_seed: int, long_cases: int) -> None:
    cases = _layout_cases(tmp_path, max(10, long_cases // 5), fuzz_seed + 1)
    problems = run_cases(cases, tmp_path / "run", timeout=3600)
    assert not problems, f"{len(problems)} of {len(cases)} cases:\n" + "\n".join(problems[:40])
