"""Archive prediction on Ray (``--engine ray``) on a local 2-CPU Ray instance: the same results as the local
engine, a rerun predicts only what is missing, a SIGKILLed driver's run resumes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.predict.archive_checks import kill_after_first_case, masks, stamps, summary_rows
from tests.predict.conftest import BAD, PATIENTS
from tumorscope.cli import main

ray = pytest.importorskip("ray", reason="Ray is the 'scale' extra: pip install -e '.[scale]'")
REPO = Path(__file__).resolve().parents[2]
SAME = ("case", "input", "status", "tumor_found", "probability", "volume_pixels", "n_components", "n_slices", "error")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance for this module; its workers import this checkout's tumorscope."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def both_engines(ray_cluster, tiny_seg_run, archive_list, tmp_path_factory):
    """(local OUT, ray OUT, the ray command) of one archive predicted by each engine."""
    _, run = tiny_seg_run
    outs = tmp_path_factory.mktemp("local") / "out", tmp_path_factory.mktemp("ray") / "out"
    common = ["predict", "--model", str(run), "-i", str(archive_list), "--batch-size", "2"]
    assert main([*common, "-o", str(outs[0])]) == 1  # 1: the corrupt case
    ray_args = [*common, "-o", str(outs[1]), "--engine", "ray", "--workers", "2"]
    assert main(ray_args) == 1
    return outs[0], outs[1], ray_args


def test_ray_and_local_give_the_same_results(both_engines):
    local, on_ray, _ = both_engines
    rows_local, rows_ray = summary_rows(local), summary_rows(on_ray)
    assert [rows_ray[p]["status"] for p in PATIENTS] == ["done"] * 3
    assert [{k: r[k] for k in SAME} for r in rows_ray.values()] == [{k: r[k] for k in SAME} for r in rows_local.values()]
    assert f"{BAD}_1.tif: cannot read TIFF" in rows_ray[BAD]["error"]
    for p in PATIENTS:
        a, b = masks(local / p), masks(on_ray / p)
        assert a.keys() == b.keys() and len(a) >= 9
        assert all((a[k] == b[k]).all() for k in a), p


def test_ray_rerun_skips_finished_cases(both_engines, archive_list, capsys):
    """The same archive less its corrupt case: all finished, so no case is sent to Ray at all."""
    _, on_ray, ray_args = both_engines
    good = archive_list.with_name("good.txt")
    good.write_text("\n".join(line for line in archive_list.read_text().splitlines() if line.startswith("/")))
    before = stamps(on_ray, list(PATIENTS))
    assert main([str(good) if a == str(archive_list) else a for a in ray_args]) == 0
    assert [summary_rows(on_ray)[p]["status"] for p in PATIENTS] == ["skipped"] * 3
    assert stamps(on_ray, list(PATIENTS)) == before  # nothing written again
    assert "3 finished before, 0 to predict" in capsys.readouterr().out


def test_killed_ray_run_resumes(ray_cluster, both_engines, tiny_seg_run, archive_list, tmp_path):
    """A driver joined to the running cluster (--address) is SIGKILLed after its first case; the rerun finishes
    the rest and leaves the cases finished before alone."""
    _, run = tiny_seg_run
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tumorscope", "predict", "--model", str(run), "-i", str(archive_list),
           "-o", str(out), "--engine", "ray", "--workers", "1", "--batch-size", "1", "--address", ray_cluster]
    kill_after_first_case(cmd, REPO, out, PATIENTS)
    time.sleep(2)  # Ray ends the dead driver's actors: let a write in flight land (or not) first
    first = [p for p in PATIENTS if (out / p / "summary.json").exists()]
    assert len(first) < len(PATIENTS), "the kill should land mid-way"
    before = stamps(out, first)
    assert main([*cmd[3:-2]]) == 1  # the same run, on the fixture's Ray session
    rows = summary_rows(out)
    assert {p for p in PATIENTS if rows[p]["status"] == "skipped"} == set(first)
    assert {p for p in PATIENTS if rows[p]["status"] == "done"} == set(PATIENTS) - set(first)
    assert stamps(out, first) == before
    local = both_engines[0]
    assert all((m == masks(local / p)[k]).all() for p in PATIENTS for k, m in masks(out / p).items())
    assert sorted(p.name for p in out.iterdir()) == sorted([*PATIENTS, "archive.csv"])
