"""scripts/feedback_loop.py at its smallest settings on a synthetic kaggle_3m set: the whole loop runs (train,
serve, review, export, fine-tune, evaluate in nine ``tumorscope`` processes) and prints the before/after line.
30 s on the idle 2-core machine (75 s while other jobs loaded it): marked ``slow`` (``-m "not slow"`` skips it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scripts import load_script
from tests.synthetic import write_kaggle3m


@pytest.mark.slow
def test_smallest_loop_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_kaggle3m(tmp_path / "data", n_patients=6, n_slices=4, size=64)
    out = tmp_path / "run"
    summary = load_script("feedback_loop").main([
        "--data", str(data), "--out", str(out), "--n-before", "2", "--n-correct", "2", "--n-eval", "2",
        "--epochs", "1", "--finetune-epochs", "1", "--size", "32", "--width", "4", "--val-fraction", "0.5",
        "--threads", "1", "--boot", "50"])
    printed = capsys.readouterr().out
    assert "Dice before: " in printed and "on 2 held-out patients" in printed
    sets = summary["sets"]
    assert not (set(sets["A"]) & set(sets["B"]) or set(sets["B"]) & set(sets["C"]) or set(sets["A"]) & set(sets["C"]))
    assert len(summary["reviews"]) == 2 and {r["decision"] for r in summary["reviews"]} <= {"accept", "correct"}
    manifest = (out / "export" / "manifest.csv").read_text().splitlines()
    assert len(manifest) == 3 and all(p in "".join(manifest) for p in sets["B"])
    init = json.loads((out / "after" / "train_summary.json").read_text())["init"]
    assert init["loaded"] == init["total"] and "before" in init["source"]
    assert summary["paired_difference"]["n"] == 2
