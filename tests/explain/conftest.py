"""Fixtures shared by the explanation tests."""

import pytest

from tests.explain.helpers import make_flair_only, tiny_ensemble_bundle
from tests.synthetic import write_kaggle3m
from tumorscope.data.dataset import load_dataset
from tumorscope.data.volumes import load_stacks


@pytest.fixture(scope="session")
def ens(tmp_path_factory):
    """(ensemble bundle, dataset root, stacks) of 3 patients; 0 and 2 have tumor, 2 is FLAIR-only (all channels
    equal), so the ensemble's 3-sequence member does not vote on it."""
    root = tmp_path_factory.mktemp("ens")
    bundle = tiny_ensemble_bundle(root / "ens_bundle")
    data = write_kaggle3m(root / "lgg", n_patients=3, n_slices=4, size=32)
    make_flair_only(sorted((data / "kaggle_3m").iterdir())[2])
    stacks = load_stacks(load_dataset(data).samples)
    return bundle, data, stacks
