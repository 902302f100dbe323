"""scripts/make_imbalanced_subset.py: a seeded, linked (not copied) imbalanced view of a class-folder dataset."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.scripts import load_script
from tumorscope.data.dataset import load_dataset


def _script():
    return load_script("make_imbalanced_subset")


def _classes(root: Path, per_class: int = 10) -> Path:
    for k, c in enumerate(("big", "small")):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            PILImage.fromarray(np.full((8, 8), 10 * i + k, np.uint8)).save(root / c / f"{c}_{i}.png")
    return root


def test_subset_thins_one_class_by_links_and_is_seeded(tmp_path):
    src = _classes(tmp_path / "src")
    make = _script().make_subset
    counts = make(src, tmp_path / "a", "small", 0.3, seed=0)
    assert counts == {"big": 10, "small": 3}
    linked = sorted((tmp_path / "a" / "small").iterdir())
    assert all(p.is_symlink() and p.resolve().parent == (src / "small").resolve() for p in linked)
    assert load_dataset(tmp_path / "a").classes == {"big": 10, "small": 3}
    make(src, tmp_path / "b", "small", 0.3, seed=0)
    assert [p.name for p in linked] == sorted(p.name for p in (tmp_path / "b" / "small").iterdir())


def test_subset_refuses_unknown_class_and_non_empty_target(tmp_path):
    src = _classes(tmp_path / "src")
    make = _script().make_subset
    with pytest.raises(SystemExit, match="not in"):
        make(src, tmp_path / "a", "missing", 0.3, seed=0)
    with pytest.raises(SystemExit, match="not empty"):
        make(src, src, "small", 0.3, seed=0)
