"""scripts/ensemble_error_overlap.py: how many of an ensemble's held-out errors its members share."""

import json
from pathlib import Path

from tests.scripts import load_script


def _script():
    return load_script("ensemble_error_overlap")


def _cv(run: Path, predicted: list[str], truth: list[str]) -> Path:
    """A one-fold CV folder whose held-out predictions are ``predicted`` for images 0..n-1."""
    (run / "fold0").mkdir(parents=True)
    preds = [{"path": f"img{i}.png", "true": t, "predicted": p} for i, (t, p) in enumerate(zip(truth, predicted))]
    (run / "fold0" / "test_metrics.json").write_text(json.dumps({"predictions": preds}))
    return run


def test_counts_how_many_members_share_each_ensemble_error(tmp_path, capsys):
    truth = ["a", "a", "b", "b"]
    m1 = _cv(tmp_path / "m1", ["b", "b", "b", "a"], truth)  # wrong on 0, 1, 3
    m2 = _cv(tmp_path / "m2", ["b", "a", "b", "a"], truth)  # wrong on 0, 3
    ens = _cv(tmp_path / "ens", ["b", "a", "b", "a"], truth)  # wrong on 0 (both members), 3 (both members)
    (ens / "cv_config.json").write_text(json.dumps({"ensemble_of": [str(m1), str(m2)]}))
    assert _script().main([str(ens)]) == 0
    out = capsys.readouterr().out
    assert "2 errors on 4 held-out images; members' errors [3, 2]" in out
    assert "| 2 of 2 | 2 |" in out and "| 1 of 2 | 0 |" in out and "images all 2 members get wrong: 2" in out


def test_refuses_a_folder_that_is_not_an_ensemble(tmp_path, capsys):
    run = _cv(tmp_path / "single", ["a"], ["a"])
    assert _script().main([str(run)]) == 2
    err = capsys.readouterr().err
    assert str(run / "cv_config.json") in err and "not an ensembled CV folder" in err
