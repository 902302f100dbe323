"""Shared test fixtures: the real datasets (skipped when absent) and a synthetic-image helper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tumorscope.data.locate import shared_dataset


def _shared(name: str) -> Path:
    path = shared_dataset(name)
    if path is None:
        pytest.skip(f"real dataset {name!r} not found: needs ../shared/data/{name} or $TUMORSCOPE_DATA/{name}")
    return path


@pytest.fixture
def lgg_dir() -> Path:
    return _shared("lgg_mri_segmentation")


@pytest.fixture
def brain4_dir() -> Path:
    return _shared("brain_tumor_mri_4class")


@pytest.fixture
def busi_dir() -> Path:
    return _shared("busi")


@pytest.fixture
def colon_dir() -> Path:
    return _shared("histopathology")


@pytest.fixture
def brats_dir() -> Path:
    return _shared("brats2018")


@pytest.fixture
def dicom_dir() -> Path:
    return _shared("dicom_series_sample")


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``postgresql://`` URL of a throwaway PostgreSQL server shared by the session (skips when none can run)."""
    from tests.serve.postgres import postgres_unavailable, running_postgres

    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    with running_postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture(scope="session")
def tiny_seg_run(tmp_path_factory) -> tuple[Path, Path]:
    """(dataset root, run folder) of a 2-epoch unet2d trained on a tiny synthetic kaggle_3m dataset."""
    from tests.synthetic import TINY_SEG, write_kaggle3m
    from tumorscope.cli import main

    root = write_kaggle3m(tmp_path_factory.mktemp("lgg"))
    run = tmp_path_factory.mktemp("runs") / "seg"
    code = main(["train", *TINY_SEG, "--data", str(root), "--out", str(run)])
    assert code == 0
    return root, run


@pytest.fixture(scope="session")
def tiny_seg_variant(tiny_seg_run, tmp_path_factory) -> tuple[Path, Path, dict]:
    """(dataset root, bundle folder, record): a copy of the tiny run's bundle with its verified openvino-fp32
    variant (``tumorscope export``; skipped without OpenVINO)."""
    import shutil

    pytest.importorskip("openvino")
    from tumorscope.bundle import load_bundle
    from tumorscope.export.make import Exporter
    from tumorscope.export.verify import choose_data

    root, run = tiny_seg_run
    folder = shutil.copytree(run / "bundle", tmp_path_factory.mktemp("variant") / "bundle")
    bundle = load_bundle(folder)
    record = Exporter(bundle, choose_data(bundle, root, 13), command="tumorscope export (test)").make("openvino")
    return root, folder, record


@pytest.fixture(scope="session")
def tiny_brats_bundles(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(synthetic BraTS dataset, 1-output 3-D bundle, 3-output WT/TC/ET bundle): tests/brats_bundle.py."""
    from tests.brats_bundle import train_tiny, with_three_outputs, write_signal_cases

    root = write_signal_cases(tmp_path_factory.mktemp("brats_syn") / "cases")
    one = train_tiny(root, tmp_path_factory.mktemp("runs") / "brats3d")
    return root, one, with_three_outputs(one, tmp_path_factory.mktemp("bundles") / "brats3")
