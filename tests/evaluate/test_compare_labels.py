"""`tumorscope compare` labels: what an ensembled CV's fold bundles do at inference is part of its label."""

import json
from pathlib import Path

import pytest

from tumorscope.options.describe import _tta_note


def _folds(root: Path, tta: list[bool | None]) -> Path:
    for i, on in enumerate(tta):
        (root / f"fold{i}" / "bundle").mkdir(parents=True)
        config = {} if on is None else {"inference": {"tta": on}}
        (root / f"fold{i}" / "bundle" / "config.json").write_text(json.dumps(config))
    return root


@pytest.mark.parametrize(("tta", "note"), [
    ([True, True, True], ", mirror TTA"),
    ([True, False, None], ", mirror TTA in 1 of 3 folds"),  # a bundle without the key predicts without TTA
    ([False, False], ""),
    ([], ""),
])
def test_tta_note_counts_the_folds_whose_bundle_averages_the_mirror(tmp_path, tta, note):
    assert _tta_note(_folds(tmp_path / "cv", tta)) == note
