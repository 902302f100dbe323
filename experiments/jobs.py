"""A round's stage as a list of jobs (exact commands, each with the file that marks it finished), and the queue
that runs them: at most ``slots`` cores busy, in order, finished jobs skipped."""
from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from experiments import actions
from experiments.schema import Action, Option, Round, RoundError, Run, Step, fill


@dataclass
class Job:
    """One command (``args`` for tumorscope, or for ``python -m module``) or an in-process ``call``.

    Skipped when ``done`` exists; ``slots``: the cores it takes (None: all, so it runs alone)."""

    name: str
    args: list[str]
    log: Path | None = None
    done: Path | None = None
    slots: int | None = 1
    module: str = "tumorscope"
    call: Callable[[], object] | None = None
    is_done: Callable[[], bool] | None = None

    def finished(self) -> bool:
        if self.is_done is not None:
            return self.is_done()
        return self.done is not None and self.done.exists()

    def shown(self) -> str:
        """The command as a user would type it."""
        if self.call is not None:
            return f"# {self.name}"
        head = "tumorscope" if self.module == "tumorscope" else f"python -m {self.module}"
        return f"{head} {shlex.join(self.args)}"


def render(options: dict[str, Option]) -> list[str]:
    """CLI flags: ``val_fraction = 0`` -> ``--val-fraction 0``; true -> the bare flag, false -> nothing;
    a list -> the flag followed by each value."""
    argv: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False or value == []:
            continue
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def _merged(*tables: dict[str, Option]) -> dict[str, Option]:
    """Later tables override earlier ones in place (the flag keeps its position); new keys go at the end."""
    out: dict[str, Option] = {}
    for t in tables:
        out.update(t)
    return out


def _run_jobs(rnd: Round, run: Run, index: int, folds: set[int] | None, seeds: set[int] | None,
              where: str) -> list[tuple[tuple[int, ...], Job]]:
    """(sort key, job) for each seed and fold of ``run``."""
    jobs: list[tuple[tuple[int, ...], Job]] = []
    if folds is not None and run.folds is None and run.command != "train":
        raise RoundError(f"{where} ({run.name}) is a whole CV, not one job per fold: --folds does not apply",
                         rnd.path)
    for seed in run.seeds if run.seeds is not None else (None,):
        known = seed if seed is not None else run.options.get("seed")
        if seeds is not None and isinstance(known, int) and known not in seeds:
            continue
        values = {"dir": rnd.dir, "round": rnd.name, "seed": seed}
        name = fill(run.name, values, rnd.path, where + ".name")
        out = Path(run.dir) / name
        options = dict(run.options)
        if run.command != "resume":
            if seed is not None:
                options["seed"] = seed
            options = _merged(rnd.recipe, options)
            options.setdefault("threads", 1)
        options = {k: fill(v, values, rnd.path, f"{where}.options.{k}") if isinstance(v, str) else v
                   for k, v in options.items()}
        if run.command == "cv" and run.folds is None and not isinstance(options.get("folds"), int):
            raise RoundError(f"{where} ({name}) is a whole CV: it needs options.folds (an integer)", rnd.path)
        threads = options.get("threads", 1)
        slots = threads if isinstance(threads, int) and run.command != "resume" else 1
        for fold in run.folds if run.folds is not None else (None,):
            if fold is not None and folds is not None and fold not in folds:
                continue
            key = {"run": index, "seed": -1 if seed is None else seed, "fold": -1 if fold is None else fold}
            sort = (run.group, *(key[a] for a in rnd.order))
            jobs.append((sort, _one(run, name, out, options, fold, slots)))
    return jobs


def _one(run: Run, name: str, out: Path, options: dict[str, Option], fold: int | None, slots: int) -> Job:
    logs = out.parent / "logs"
    if fold is not None:
        fold_dir, label = out / f"fold{fold}", f"{name} fold {fold}"
        log, done = logs / f"{name}_fold{fold}.log", fold_dir / "test_metrics.json"
        if run.command == "resume":
            return Job(label, ["train", "--resume", *render(options), "--out", str(fold_dir)], log, done, slots)
        return Job(label, [run.command, *render(options), "--only-folds", str(fold), "--out", str(out)], log, done,
                   slots)
    log = logs / f"{name}.log"
    if run.command == "train":  # an interrupted training resumes from its checkpoint
        args = ["train", "--resume", "--out", str(out)] if (out / "checkpoint.pt").exists() else \
            ["train", *render(options), "--out", str(out)]
        return Job(name, args, log, out / "bundle" / "config.json", slots)
    k = options.get("folds")
    assert isinstance(k, int)  # checked by _run_jobs
    job = Job(name, [run.command, *render(options), "--out", str(out)], log, None, slots)
    job.is_done = lambda: all((out / f"fold{f}" / "test_metrics.json").exists() for f in range(k))
    return job


def _step(step: Step, index: int) -> Job:
    return Job(f"step {index}", list(step.args), Path(step.log) if step.log else None,
               Path(step.done) if step.done else None, step.slots, step.module or "tumorscope")


def plan(rnd: Round, stage: str, folds: list[int] | None = None, seeds: list[int] | None = None) -> list[Job]:
    """The jobs of ``stage`` in queue order: steps and actions where they stand, each block of consecutive runs
    sorted by (group, the round's ``order`` of run / seed / fold)."""
    fold_set = set(folds) if folds is not None else None
    seed_set = set(seeds) if seeds is not None else None
    jobs: list[Job] = []
    block: list[tuple[tuple[int, ...], Job]] = []
    for i, entry in enumerate(rnd.stages[stage]):
        where = f"{stage}[{i}]"
        if isinstance(entry, Run):
            block += _run_jobs(rnd, entry, i, fold_set, seed_set, where)
            continue
        jobs += [j for _, j in sorted(block, key=lambda kj: kj[0])]
        block = []
        jobs += _action(entry) if isinstance(entry, Action) else [_step(entry, i)]
    return jobs + [j for _, j in sorted(block, key=lambda kj: kj[0])]


def _action(a: Action) -> list[Job]:
    if a.action == "cv_summary":
        return [Job(f"cv_summary {' '.join(a.members)}", [], None, None, None,
                    call=lambda: actions.cv_summary([Path(m) for m in a.members]))]
    copy = actions.last_epoch_copy if a.action == "last_epoch_copy" else actions.linked_copy
    out = []
    for m in a.members:
        src, dst = Path(m), Path(a.into or "") / (Path(m).name + a.suffix)
        out.append(Job(f"{a.action} {src} -> {dst}", [], None, None, None, call=partial(copy, src, dst, a.folds),
                       is_done=partial(actions.copy_done, dst, a.folds)))
    return out


def run_queue(jobs: list[Job], slots: int = 2, dry_run: bool = False, poll: float = 10.0) -> int:
    """Run the jobs in order, at most ``slots`` cores busy; returns the largest exit code.

    ``dry_run`` prints the commands of the jobs still to run (and which are finished) and runs nothing."""
    todo = []
    for job in jobs:
        if job.finished():
            print(f"# done, skipped: {job.name}" + (f" ({job.done})" if job.done else ""), flush=True)
        else:
            todo.append(job)
    if dry_run:
        for job in todo:
            print(job.shown(), flush=True)
        return 0
    running: list[tuple[subprocess.Popen[bytes], Job]] = []
    worst = 0
    while todo or running:
        for p, j in [r for r in running if r[0].poll() is not None]:
            worst = max(worst, p.returncode)
            running.remove((p, j))
        while todo and sum(min(j.slots or slots, slots) for _, j in running) + min(todo[0].slots or slots,
                                                                                     slots) <= slots:
            job = todo.pop(0)
            print(time.strftime("%H:%M:%S"), "start", job.name, "" if job.call else job.shown(), flush=True)
            if job.call is not None:
                job.call()
                continue
            argv = [sys.executable, "-m", job.module, *job.args]
            if job.log is None:
                running.append((subprocess.Popen(argv), job))
                continue
            job.log.parent.mkdir(parents=True, exist_ok=True)
            with open(job.log, "ab") as log:
                running.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT), job))
        if running:
            time.sleep(poll)
    print(time.strftime("%H:%M:%S"), "all done", flush=True)
    return worst
