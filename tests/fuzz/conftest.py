"""Fuzz suite settings: ``TUMORSCOPE_FUZZ_SEED`` picks the seed (default 25), ``TUMORSCOPE_FUZZ_CASES``
the number of mutated files per seed file in the long run (``pytest -m fuzz``)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def fuzz_seed() -> int:
    return int(os.environ.get("TUMORSCOPE_FUZZ_SEED", "25"))


@pytest.fixture(scope="session")
def long_cases() -> int:
    return int(os.environ.get("TUMORSCOPE_FUZZ_CASES", "250"))
