"""A real two-process training run (`tumorscope train --nproc 2`, DDP over gloo) on a tiny synthetic LGG set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from tests.synthetic import TINY_SEG, write_kaggle3m
from tumorscope.bundle import load_bundle
from tumorscope.train.distributed import weights_digest

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is not available in this torch build")
ROOT = Path(__file__).resolve().parents[2]


def tumorscope(*argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TUMORSCOPE_PROGRESS="0")
    return subprocess.run([sys.executable, "-m", "tumorscope", *argv], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """(work folder, run folder, finished process) of 2 epochs trained by 2 processes."""
    work = tmp_path_factory.mktemp("ddp")
    data = write_kaggle3m(work / "data")
    run = work / "run"
    done = tumorscope("train", *TINY_SEG, "--nproc", "2", "--data", str(data), "--out", str(run))
    assert done.returncode == 0, done.stderr[-3000:]
    return work, run, done


def test_rank_0_alone_writes_one_run_folder_and_reports_once(ddp_run):
    work, run, done = ddp_run
    assert sorted(p.name for p in work.iterdir()) == ["data", "run"]
    for name in ("config.json", "splits.json", "checkpoint.pt", "best.pt", "metrics.csv", "train_summary.json",
                 "bundle"):
        assert (run / name).exists(), name
    assert not list(run.rglob("*.tmp*"))  # every write was atomic and finished
    assert done.stdout.count("run folder:") == 1  # one summary, printed by rank 0
    assert json.loads((run / "config.json").read_text())["nproc"] == 2
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 2  # header + one row per epoch, once


def test_ddp_keeps_the_weights_identical_in_both_processes(ddp_run):
    _, run, _ = ddp_run
    record = json.loads((run / "train_summary.json").read_text())["distributed"]
    assert record["world_size"] == 2 and record["backend"] == "gloo"
    first, second = record["replica_weights_sha256"]
    assert first == second
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)  # the last epoch's state
    bundle = load_bundle(run / "bundle")
    bundle.model.load_state_dict(state["model"])  # the checkpoint loads into the bundled network
    assert weights_digest(bundle.model) == first
    assert state["epoch"] == 1 and len(state["rng_by_rank"]) == 2


@pytest.mark.slow
def test_a_stopped_two_process_run_resumes_where_the_uninterrupted_one_is(ddp_run):
    work, straight, _ = ddp_run
    run = work.parent / "ddp_resumed"
    stopped = tumorscope("train", *TINY_SEG, "--nproc", "2", "--time-limit", "0.001s", "--data",
                         str(work / "data"), "--out", str(run))
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert json.loads((run / "train_summary.json").read_text())["epochs_run"] == 1
    resumed = tumorscope("train", "--resume", "--out", str(run))  # relaunches the saved --nproc 2
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = (torch.load(r / "checkpoint.pt", map_location="cpu", weights_only=False) for r in (straight, run))
    assert b["epoch"] == 1 and len(b["history"]) == 2
    assert all(torch.allclose(a["model"][k].float(), b["model"][k].float(), atol=1e-6) for k in a["model"])


def test_a_worker_error_is_its_one_line_and_exit_code(tmp_path):
    done = tumorscope("train", *TINY_SEG, "--nproc", "2", "--data", str(tmp_path / "missing"), "--out",
                      str(tmp_path / "run"))
    assert done.returncode == 2 and "tumorscope: error:" in done.stderr and "no such folder" in done.stderr
    assert "Traceback" not in done.stderr and "ChildFailedError" not in done.stderr
