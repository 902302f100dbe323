"""Seeded mutations (truncation, bit flips, header fields, chunks) of every format through the readers.

The fast subset runs by default (a few hundred cases, well under a minute); ``pytest -m fuzz`` runs
``TUMORSCOPE_FUZZ_CASES`` mutations per seed file (default 250, about 6,000 reader calls).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.fuzz.corpus import SEED_KINDS, mutate_file, rename_odd, write_seed
from tests.fuzz.harness import REPO, Case, run_cases

FAST_CASES = 40


def _cases(root: Path, per_seed: int, seed: int) -> list[Case]:
    cases = []
    for kind in SEED_KINDS:
        clean = write_seed(kind, root / "seeds" / kind)
        cases.append(Case(clean, "read", f"{kind} clean"))
        for k in range(per_seed):
            rng = random.Random(f"{seed}:{kind}:{k}")
            folder = root / kind / str(k)
            folder.mkdir(parents=True)
            target = folder / clean.name
            if clean.is_dir():
                shutil.copytree(clean, target)
            else:
                shutil.copyfile(clean, target)
            label = f"{kind} #{k} {mutate_file(target, rng)}"
            if not target.is_dir() and rng.random() < 0.15:
                target = rename_odd(target, rng)
                label += " +odd name"
            named = (folder.name, target.name)
            cases.append(Case(target, "read", label, named))
            if k % 3 == 0:
                cases.append(Case(target, "probe", label, named))
            if k % 5 == 0 and kind not in ("series",):
                cases.append(Case(target, "mask", label, named))
    return cases


def test_fuzz_readers_fast(tmp_path: Path, fuzz_seed: int) -> None:
    cases = _cases(tmp_path, FAST_CASES, fuzz_seed)
    problems = run_cases(cases, tmp_path / "run", timeout=300)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.fuzz
@pytest.mark.slow
def test_fuzz_readers_long(tmp_path: Path, fuzz_seed: int, long_cases: int) -> None:
    cases = _cases(tmp_path, long_cases, fuzz_seed + 1)
    problems = run_cases(cases, tmp_path / "run", timeout=3600)
    assert not problems, f"{len(problems)} of {len(cases)} cases:\n" + "\n".join(problems[:40])


def _real_seeds(shared: Path) -> list[Path]:
    """One file of each real dataset (and one DICOM series folder) under ``shared``."""
    picks = [
        next(iter(sorted((shared / "lgg_mri_segmentation").rglob("*_1.tif"))), None),
        next(iter(sorted((shared / "brain_tumor_mri_4class").rglob("*.jpg"))), None),
        next(iter(sorted((shared / "busi").rglob("*).png"))), None),
        next(iter(sorted((shared / "histopathology").rglob("*.jpeg"))), None),
        next(iter(sorted((shared / "brats2018").rglob("*_flair.nii.gz"))), None),
        next(iter(sorted((shared / "dicom_series_sample").rglob("*.dcm"))), None),
    ]
    return [p for p in picks if p is not None]


@pytest.mark.fuzz
@pytest.mark.slow
@pytest.mark.shared_data
def test_fuzz_real_files_long(tmp_path: Path, fuzz_seed: int, long_cases: int) -> None:
    """Mutations of real files from ../shared/data (skipped when absent)."""
    shared = REPO.parent / "shared" / "data"
    seeds = _real_seeds(shared) if shared.is_dir() else []
    if not seeds:
        pytest.skip("../shared/data not available")
    cases = []
    for n, seed_file in enumerate(seeds):
        cases.append(Case(seed_file, "read", f"{seed_file.name} clean"))
        for k in range(long_cases):
            rng = random.Random(f"{fuzz_seed}:real:{n}:{k}")
            target = tmp_path / f"{n}" / f"{k}" / seed_file.name
            target.parent.mkdir(parents=True)
            shutil.copyfile(seed_file, target)
            cases.append(Case(target, "read", f"{seed_file.name} #{k} {mutate_file(target, rng)}"))
    problems = run_cases(cases, tmp_path / "run", timeout=3600)
    assert not problems, f"{len(problems)} of {len(cases)} cases:\n" + "\n".join(problems[:40])
