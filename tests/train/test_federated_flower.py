"""A real Flower run: `tumorscope federated simulate` with a server and 2 site processes on loopback, on tiny
synthetic data, in the Flower environment `.venv-fl` (`make fl-env`; flwr never enters the main venv)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.train.federated_data import write_two_sites
from tumorscope.bundle import load_bundle
from tumorscope.cli import main

ROOT = Path(__file__).resolve().parents[2]
FL_PYTHON = ROOT / ".venv-fl" / "bin" / "python"


def _flower_python() -> Path:
    if not FL_PYTHON.exists():
        pytest.skip(f"no Flower environment at {FL_PYTHON.parent.parent} (build it with `make fl-env`)")
    done = subprocess.run([str(FL_PYTHON), "-c", "import flwr"], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"flwr is not importable in {FL_PYTHON}: {done.stderr.strip()[-200:]} (rerun `make fl-env`)")
    return FL_PYTHON


def test_fedavg_simulation_with_two_sites_writes_a_bundle_and_held_out_dice(tmp_path):
    python = _flower_python()
    data, out = write_two_sites(tmp_path / "data"), tmp_path / "fed"
    cmd = [str(python), "-m", "tumorscope", "federated", "simulate", "--data", str(data), "--rounds", "2",
           "--local-epochs", "1", "--size", "32", "--width", "4", "--batch-size", "4", "--threads", "1",
           "--test-fraction", "0.25", "-o", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    server = json.loads((out / "server.json").read_text())
    # both sites took part in both rounds; FedAvg weighted them by their 3 patients x 4 slices each
    assert [r["round"] for r in server["history"]] == [1, 2]
    assert all(r["sites"] == 2 and r["examples"] == 24 for r in server["history"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["federated"]["sites"] == {"AA": {"patients": 3, "slices": 12}, "BB": {"patients": 3, "slices": 12}}
    splits = json.loads((out / "splits.json").read_text())["folds"][0]
    assert not set(splits["test"]["groups"]) & set(splits["train"]["groups"])
    # per-patient Dice (with a bootstrap CI) of exactly the held-out patients
    assert sorted(row["id"] for row in metrics["per_patient"]) == sorted(splits["test"]["groups"])
    assert metrics["n_patients"] == 2 and 0.0 <= metrics["dice_mean"] <= 1.0 and len(metrics["dice_ci95"]) == 2
    bundle = load_bundle(out / "bundle")  # the global model loads in the main environment, without Flower
    assert bundle.task == "segmentation" and bundle.config["training"]["strategy"] == "FedAvg"
    assert bundle.config["model"]["in_channels"] == 1 and bundle.config["preprocessing"]["size"] == [32, 32]


def test_without_flower_the_command_says_how_to_install_it(tmp_path, capsys):
    try:
        import flwr  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        pytest.skip("flwr is importable here: the missing-Flower message cannot show")
    rc = main(["federated", "simulate", "--data", str(tmp_path), "-o", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "make fl-env" in err and "Traceback" not in err
