"""An archive for the archive-prediction tests: real LGG patients plus one corrupt case, listed in cases.txt."""

from __future__ import annotations

from pathlib import Path

import pytest

PATIENTS = ("TCGA_CS_5395_19981004", "TCGA_HT_7680_19970202", "TCGA_CS_6188_20010812")  # the smallest (9-10 slices)
BAD = "TCGA_ZZ_0000_20000101"


@pytest.fixture(scope="session")
def archive_list(tmp_path_factory) -> Path:
    """cases.txt: three real kaggle_3m patient folders and one whose only slice is a truncated TIFF."""
    from tumorscope.data.locate import shared_dataset

    lgg = shared_dataset("lgg_mri_segmentation")
    if lgg is None:
        pytest.skip("real dataset 'lgg_mri_segmentation' not found: needs ../shared/data/lgg_mri_segmentation")
    root = tmp_path_factory.mktemp("archive")
    bad = root / BAD
    bad.mkdir()
    real_slice = lgg / "kaggle_3m" / PATIENTS[0] / f"{PATIENTS[0]}_12.tif"
    (bad / f"{BAD}_1.tif").write_bytes(real_slice.read_bytes()[:300])
    lines = [str(lgg / "kaggle_3m" / p) for p in PATIENTS] + [BAD]  # a relative line: beside cases.txt
    (root / "cases.txt").write_text("# three patients and a corrupt one\n" + "\n".join(lines) + "\n")
    return root / "cases.txt"
