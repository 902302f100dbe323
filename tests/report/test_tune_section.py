"""The report's hyperparameter-search section (`tumorscope report --tune DIR`), from a real tune folder."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.synthetic import TINY_SEG, write_kaggle3m
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.report.tune import read_tune, tune_section


def test_report_shows_the_search(tmp_path: Path) -> None:
    data = write_kaggle3m(tmp_path / "lgg")
    (tmp_path / "space.toml").write_text("lr = [1e-4, 1e-3, 1e-2]\nwidth = [8, 16]\n")
    tune = tmp_path / "tune"
    assert main(["tune", *TINY_SEG, "--data", str(data), "--fold", "0", "--space", str(tmp_path / "space.toml"),
                 "--objective", "tests.train.tune_objectives:quadratic", "--metric", "score", "--search", "grid",
                 "--inner-folds", "3", "--folds-per-trial", "2", "--out", str(tune)]) == 0
    page = tmp_path / "report.html"
    assert main(["report", "--tune", str(tune), "-o", str(page)]) == 0
    html = page.read_text()
    assert "<h2>Hyperparameter search</h2>" in html and "grid search, 6 trial(s), 6 finished" in html
    assert "on 2 of 3 patient-grouped validation folds" in html
    assert "Best trial: #" in html and "score = 1.0000" in html
    assert "<td>lr</td><td>0.001</td>" in html and "<td>width</td><td>16</td>" in html
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', html)
    assert [alt for alt, _ in images] == ["optimisation history", "parameter importance"]
    assert all(base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n" for _, png in images)


def test_section_before_any_finished_trial_and_refused_folders(tmp_path: Path) -> None:
    summary = {"schema": "tumorscope-tune/1", "search": "bayes", "metric": "val_dice", "direction": "maximize",
               "inner_folds": 3, "folds_per_trial": 3, "trials": [], "best": None, "importances": {}}
    assert "no trial has finished yet" in tune_section(summary, "tune/x")
    (tmp_path / "tune_summary.json").write_text('{"schema": "other"}')
    with pytest.raises(TumorscopeError, match="not a `tumorscope tune` summary"):
        read_tune(tmp_path)
    with pytest.raises(TumorscopeError, match="not a `tumorscope tune` folder"):
        read_tune(tmp_path / "missing")
