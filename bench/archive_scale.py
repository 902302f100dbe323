"""Archive prediction throughput: cases/s against worker count for the local and the Ray engine.

Predicts the same N real LGG patient folders (kaggle_3m, listed in a case file) with
``tumorscope predict -i cases.txt -o OUT --engine E --workers W`` for each engine and worker count, each into a
fresh OUT, as a subprocess timed from start to exit (interpreter start, Ray start-up, model loads included).
Prints per setting the wall time, cases/s end to end, the steady rate from the first case the command reports
to the last (start-up excluded; Ray hands results back in bursts, so for Ray it reads high), the median seconds a
worker spent on one case (read, predict, write: archive.csv's ``seconds``), and checks that every run gave the
same volumes::

    python bench/archive_scale.py                                  # 16 patients, workers 1 2, local and ray
    python bench/archive_scale.py --patients 8 --rounds 3 --json /tmp/archive.json   # medians of 3 interleaved rounds
    python bench/archive_scale.py --patients 32 --workers 1 2 4 --engines ray

Exit 2 without ``../shared/data/lgg_mri_segmentation``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tumorscope.data.locate import shared_dataset  # noqa: E402


def run_once(cases: Path, out: Path, engine: str, workers: int, model: str, batch_size: int,
             threads: int | None = None, timeout: float = 1800) -> dict:
    """One timed ``tumorscope predict`` of the archive; the time of each finished case from its output line."""
    cmd = [sys.executable, "-m", "tumorscope", "predict", "--model", model, "-i", str(cases), "-o", str(out),
           "--engine", engine, "--workers", str(workers), "--batch-size", str(batch_size)]
    cmd += ["--threads", str(threads)] if threads else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    watchdog = threading.Timer(timeout, proc.kill)  # a run that hangs (a Ray cluster that never answers) ends
    watchdog.start()
    finished = [time.perf_counter() - start for line in proc.stdout if line.startswith("[")]
    code = proc.wait()
    watchdog.cancel()
    wall = time.perf_counter() - start
    with open(out / "archive.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    volumes = {r["case"]: r["volume_pixels"] for r in rows}
    case_s = statistics.median(float(r["seconds"]) for r in rows if r["seconds"]) if rows else None
    n = len(volumes)
    steady = (len(finished) - 1) / (finished[-1] - finished[0]) if len(finished) > 1 else None
    return {"engine": engine, "workers": workers, "exit": code, "cases": n, "wall_s": round(wall, 2),
            "cases_per_s": round(n / wall, 3), "steady_cases_per_s": None if steady is None else round(steady, 3),
            "first_case_s": round(finished[0], 2) if finished else None,
            "case_s": None if case_s is None else round(case_s, 2), "volumes": volumes}


def median_of(runs: list[dict]) -> dict:
    """One setting's runs: the median of each timing."""
    def med(key: str) -> float | None:
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 3) if values else None

    keys = ("wall_s", "cases_per_s", "steady_cases_per_s", "first_case_s", "case_s")
    return {**runs[0], **{k: med(k) for k in keys}, "rounds": [{k: r[k] for k in keys} for r in runs]}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=16, help="how many kaggle_3m patients (the first, sorted)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--engines", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    ap.add_argument("--model", default="lgg-flair-seg")
    ap.add_argument("--batch-size", type=int, default=1, help="cases per batch (1: each case reported as it ends)")
    ap.add_argument("--threads", type=int, help="torch threads per worker (default: predict's, CPUs / workers)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every setting, interleaved; medians reported")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    lgg = shared_dataset("lgg_mri_segmentation")
    if lgg is None:
        print("needs ../shared/data/lgg_mri_segmentation", file=sys.stderr)
        raise SystemExit(2)
    patients = sorted(p for p in (lgg / "kaggle_3m").iterdir() if p.is_dir())[: args.patients]
    slices = sum(len([f for f in p.iterdir() if not f.name.endswith("_mask.tif")]) for p in patients)
    print(f"{len(patients)} LGG patients ({slices} slices), {os.cpu_count()} CPUs, model {args.model}, "
          f"batch size {args.batch_size}, threads per worker {args.threads or 'CPUs / workers'}, "
          f"load average {os.getloadavg()[0]:.1f}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = Path(tmp) / "cases.txt"
        cases.write_text("\n".join(str(p) for p in patients) + "\n")
        for k in range(args.rounds):  # interleaved: a busy spell on a shared machine hits every setting alike
            for engine in args.engines:
                for workers in args.workers:
                    out = Path(tmp) / f"out-{engine}-{workers}-{k}"
                    runs.append(run_once(cases, out, engine, workers, args.model, args.batch_size, args.threads))
                    r = runs[-1]
                    print(f"round {k + 1}: {engine} {workers} worker(s): {r['wall_s']:.1f} s"
                          + ("" if r["exit"] == 0 else f" (exit {r['exit']})"), flush=True)
                    shutil.rmtree(out)
    results = [median_of([r for r in runs if (r["engine"], r["workers"]) == (e, w)])
               for e in args.engines for w in args.workers]
    print(f"medians of {args.rounds} round(s):")
    print(f"{'engine':<7}{'workers':>8}{'wall s':>9}{'cases/s':>9}{'steady cases/s':>16}{'first case s':>14}"
          f"{'s per case':>12}")
    for r in results:
        steady = f"{r['steady_cases_per_s']:.3f}" if r["steady_cases_per_s"] else "-"
        print(f"{r['engine']:<7}{r['workers']:>8}{r['wall_s']:>9.1f}{r['cases_per_s']:>9.3f}{steady:>16}"
              f"{r['first_case_s'] or 0:>14.1f}{r['case_s'] or 0:>12.2f}")
    same = all(r["volumes"] == runs[0]["volumes"] for r in runs)
    print(f"every run gave the same volumes: {'yes' if same else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps({"patients": len(patients), "slices": slices, "medians": results,
                                         "identical": same}, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
