"""Shared test fixtures: the real datasets (skipped when absent) and a synthetic-image helper."""

from __future__ import annotations

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
def dicom_dir() -> Path:
    return _shared("dicom_series_sample")
