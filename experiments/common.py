"""What the rounds' scripts share: the brain member recipe, a small job queue, and last-epoch member copies.

Run the scripts from the repository root (`python experiments/cls15/run.py 0`); `EXPERIMENTS_DRY_RUN=1` prints
each job's command instead of running it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

TUMORSCOPE = ".venv/bin/tumorscope"
BRAIN = "../shared/data/brain_tumor_mri_4class"
BRAIN_SPLITS = "runs/cls9/brain_splits.json"


def brain_recipe(epochs: int = 80, patience: int | None = None, cv: bool = True) -> list[str]:
    """Round 9's member recipe (foreground crop, strong augmentation, mixup, label smoothing), network-free.

    With ``cv`` the 5 folds of round 9's split file and a 10% validation part; without, every image trains.
    """
    args = (f"--task classification --data {BRAIN} --width 32 --channels gray --crop foreground --augment strong "
            f"--epochs {epochs} --patience {patience or epochs} --batch-size 32 --lr 0.002 --loss ce "
            "--label-smoothing 0.1 --mixup 0.2").split()
    split = ["--val-fraction", "0.1", "--folds", "5", "--splits", BRAIN_SPLITS] if cv else ["--val-fraction", "0"]
    return args + split


@dataclass
class Job:
    """One tumorscope command; skipped when ``done`` exists; ``slots`` = the cores it takes."""

    name: str
    args: list[str]
    log: Path
    done: Path | None = None
    slots: int = 1


def _fold_job(run: Path, fold: int, args: list[str], threads: int = 1) -> Job:
    """A job that finishes fold FOLD of CV run RUN, logged beside it in RUN/../logs."""
    return Job(f"{run.name} fold {fold}", args, run.parent / "logs" / f"{run.name}_fold{fold}.log",
               run / f"fold{fold}" / "test_metrics.json", threads)


def cv_fold(out: str | Path, fold: int, args: list[str], threads: int = 1) -> Job:
    """One fold of ``tumorscope cv ARGS`` into OUT."""
    return _fold_job(Path(out), fold, ["cv", *args, "--threads", str(threads), "--only-folds", str(fold), "--out",
                                       str(out)], threads)


def resume_fold(run: Path, fold: int, *extra: str) -> Job:
    """``tumorscope train --resume [EXTRA]`` of fold FOLD of CV run RUN (scores a copied or stopped fold)."""
    return _fold_job(run, fold, ["train", "--resume", *extra, "--out", str(run / f"fold{fold}")])


def run_jobs(jobs: list[Job], slots: int = 2) -> int:
    """Run the jobs in order, at most ``slots`` cores busy; returns the largest exit code."""
    todo = [j for j in jobs if j.done is None or not j.done.exists()]
    dry = os.environ.get("EXPERIMENTS_DRY_RUN") == "1"
    running: list[tuple[subprocess.Popen[bytes], Job]] = []
    worst = 0
    while todo or running:
        for p, j in [r for r in running if r[0].poll() is not None]:
            worst = max(worst, p.returncode)
            running.remove((p, j))
        while todo and sum(j.slots for _, j in running) + todo[0].slots <= slots:
            job = todo.pop(0)
            print(time.strftime("%H:%M:%S"), "start", job.name, " ".join(job.args), flush=True)
            if dry:
                continue
            job.log.parent.mkdir(parents=True, exist_ok=True)
            with open(job.log, "ab") as log:
                running.append((subprocess.Popen([TUMORSCOPE, *job.args], stdout=log, stderr=subprocess.STDOUT),
                                job))
        if running:
            time.sleep(10)
    print(time.strftime("%H:%M:%S"), "all done", flush=True)
    return worst


def copy_last_epoch(src: Path, dst: Path, folds: int = 5) -> None:
    """A copy of CV run SRC whose folds' best.pt holds each run's last epoch (its checkpoint.pt's model)."""
    import torch  # only here: the queue itself needs no torch

    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "cv_config.json", dst)
    for f in range(folds):
        d = dst / f"fold{f}"
        d.mkdir(exist_ok=True)
        for x in ("config.json", "splits.json", "dedup.json", "metrics.csv", "train_summary.json"):
            shutil.copy(src / f"fold{f}" / x, d)
        state = torch.load(src / f"fold{f}" / "checkpoint.pt", map_location="cpu", weights_only=False)
        torch.save(state["model"], d / "best.pt")
        if not (d / "checkpoint.pt").exists():
            (d / "checkpoint.pt").symlink_to((src / f"fold{f}" / "checkpoint.pt").resolve())
        for cfg_file in (d / "config.json", dst / "cv_config.json"):  # the copies' weights are the last epoch's
            cfg = json.loads(cfg_file.read_text())
            cfg.update(keep="last", out=str(cfg_file.parent))
            cfg_file.write_text(json.dumps(cfg, indent=2) + "\n")
        print(d, "last epoch", state["epoch"], "best epoch", state.get("best_epoch"))
