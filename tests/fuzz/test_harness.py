"""The fuzz harness itself notices what the property forbids: an abort, a hang, another exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz import harness
from tests.fuzz.corpus import write_seed


def test_harness_reports_abort_hang_and_foreign_exceptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "STALL_SECONDS", 15.0)
    good = write_seed("png", tmp_path / "seed")
    cases = [
        harness.Case(good, "read", "png clean"),
        harness.Case(good, "selftest_abort", "abort"),
        harness.Case(good, "read", "png after the abort"),
        harness.Case(good, "selftest_hang", "hang"),
        harness.Case(good, "selftest_other", "other"),
        harness.Case(tmp_path / "missing.png", "read", "missing"),
    ]
    problems = harness.run_cases(cases, tmp_path / "run", timeout=120)
    assert len(problems) == 3, problems
    assert "abort" in problems[0] and "died" in problems[0]
    assert "hang" in problems[1]
    assert "KeyError" in problems[2]
