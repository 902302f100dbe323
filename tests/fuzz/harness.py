"""Run fuzz cases in a capped worker process and check the property on every outcome.

Property: each case ends with a clean result or a TumorscopeError whose message names the file
(or its folder); never another exception, never a crash of the process, never more than
``CASE_SECONDS`` for one case, never an address-space blow-up past the cap (a MemoryError under
the cap, or a death, fails the case).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CASE_SECONDS = 20.0
STALL_SECONDS = 60.0  # no case finished for this long (imports included): a hang
CAP_MB = 1536
# The worker reads with smaller limits than the defaults so that the cap above holds for anything the
# limits allow; the size-bomb tests use the defaults.
WORKER_ENV = {"TUMORSCOPE_MAX_VOXELS": "32M", "TUMORSCOPE_MAX_BYTES": "256M"}


@dataclass
class Case:
    path: Path
    op: str
    label: str  # how the case was made, for the failure report
    named: tuple[str, ...] = ()  # names (file or folders) one of which the error must mention


def run_cases(cases: list[Case], workdir: Path, timeout: float = 600.0) -> list[str]:
    """Run ``cases``; returns one problem line per case that breaks the property (empty: all fine)."""
    workdir.mkdir(parents=True, exist_ok=True)
    cases_file, results_file = workdir / "cases.jsonl", workdir / "results.jsonl"
    cases_file.write_text("".join(json.dumps({"path": os.fsencode(c.path).hex(), "op": c.op}) + "\n" for c in cases))
    problems: list[str] = []
    done: dict[int, dict] = {}
    start = 0
    while start < len(cases):
        rest = cases_file.with_name(f"cases_{start}.jsonl")
        rest.write_text("".join(cases_file.read_text().splitlines(keepends=True)[start:]))
        results_file.write_text("")
        died, why = _run_worker(rest, results_file, timeout)
        last_start = None
        for line in results_file.read_text().splitlines():
            rec = json.loads(line)
            if "start" in rec:
                last_start = start + rec["start"]
            else:
                done[start + rec["i"]] = rec
        if not died:
            break
        if last_start is None or last_start in done:
            problems.append(f"worker failed outside any case: {why}")
            break
        c = cases[last_start]
        problems.append(f"{c.label} [{c.op}] {c.path}: process died or hung: {why}")
        start = last_start + 1
    for i, c in enumerate(cases):
        rec = done.get(i)
        if rec is None:
            continue
        problems.extend(_check(c, rec))
    return problems


def _run_worker(cases_file: Path, results_file: Path, timeout: float) -> tuple[bool, str]:
    """Run the worker until it ends; kill it when no case finishes for ``STALL_SECONDS`` (a hang)
    or after ``timeout``. Returns (died, why)."""
    env = {**os.environ, **WORKER_ENV, "PYTHONPATH": str(REPO)}
    errors = results_file.with_suffix(".stderr")
    with open(errors, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker", str(cases_file), str(results_file), str(CAP_MB)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )
        started = last_change = time.monotonic()
        size = -1
        while proc.poll() is None:
            time.sleep(0.2)
            now = time.monotonic()
            if results_file.stat().st_size != size:
                size, last_change = results_file.stat().st_size, now
            if now - last_change > STALL_SECONDS or now - started > timeout:
                proc.kill()
                proc.wait()
                return True, f"no case finished for {now - last_change:.0f} s (hang), killed"
    if proc.returncode != 0:
        return True, f"worker exit {proc.returncode}: {errors.read_text().strip()[-300:]}"
    return False, ""


def _check(c: Case, rec: dict) -> list[str]:
    where = f"{c.label} [{c.op}] {os.fsencode(c.path)!r}"
    out = []
    if c.label.endswith(" clean") and rec["status"] != "ok":
        out.append(f"{where}: a clean seed file was refused: {rec.get('message')}")
    if rec["status"] == "other":
        out.append(f"{where}: {rec['type']}: {rec['message']}")
    if rec["status"] == "error":
        message = rec["message"]
        names = c.named or (os.fsdecode(os.fsencode(c.path.name)),)
        shown = [rec["display"]] + [json.loads(json.dumps(n)) for n in names]
        if not any(_printable(n) in message for n in shown):
            out.append(f"{where}: error does not name the file: {message}")
        if "too large to decode" in message:
            out.append(f"{where}: hit the memory cap instead of a limit: {message}")
        if "\n" in message:
            out.append(f"{where}: error spans several lines: {message!r}")
    if rec["seconds"] > CASE_SECONDS:
        out.append(f"{where}: took {rec['seconds']} s")
    return out


def _printable(name: str) -> str:
    from tumorscope.errors import printable

    return printable(name)
