"""End-to-end ``tumorscope predict`` and CLI start-up against an earlier commit (issue 29), in one run.

Two trees run on the same machine, the same Python and virtual environment, each as fresh processes with
``PYTHONPATH`` set to the tree: the baseline commit (default d1a5eb5, the code of 2026-12-03) checked out into
a temporary ``git worktree`` (removed at the end), and this checkout. For each tree:

- ``tumorscope predict -i PATIENT -o OUT`` on one LGG kaggle_3m patient folder (default: the shared folder
  with the most slices; bundled ``lgg-flair-seg``): wall seconds and CPU seconds (user + system), medians of
  ``--runs``, and peak RSS (the child's ``VmHWM``, the highest of the runs);
- ``tumorscope --help``: wall seconds, median of ``--help-runs``.

This checkout runs PyTorch (``--runtime pytorch``: the PyTorch path against the baseline) and, with
``--variant NAME``, a third arm runs it with that exported variant (``--runtime NAME``) in a temporary copy of
the bundle (no torch, no MONAI imported).

One untimed warm-up per tree comes first (it compiles the bytecode, as an installed package has it); then the
arms alternate run by run, so background load falls on all alike. Ratios are baseline / arm, and the
masks each arm wrote are compared with the baseline's pixel for pixel. CPU seconds are the steadier number on a shared machine.

    PYTHONPATH=$PWD nice -n 10 /work/main/.venv/bin/python bench/predict_speed.py [--runs 5] [--help-runs 7]
        [--base d1a5eb5] [--patient DIR] [--variant openvino-int8w] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.seg_inference import run_watching_rss
from tumorscope.data.locate import shared_dataset

REPO = Path(__file__).resolve().parents[1]
BASE = "d1a5eb5"


def largest_patient() -> Path:
    """The shared kaggle_3m patient folder with the most slices."""
    root = shared_dataset("lgg_mri_segmentation")
    if root is None:
        sys.exit("needs ../shared/data/lgg_mri_segmentation (or $TUMORSCOPE_DATA)")
    folders = [p for p in (root / "kaggle_3m").iterdir() if p.is_dir()]
    return max(folders, key=lambda p: (sum(not f.stem.endswith("_mask") for f in p.glob("*.tif")), p.name))


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(tree: Path, args: list[str]) -> tuple[float, float, float]:
    """``tumorscope ARGS`` from ``tree`` in a fresh process: (wall s, CPU s, peak RSS MiB). ``-P``: the working
    folder never shadows the tree on ``sys.path``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), TUMORSCOPE_PROGRESS="0")
    cpu, t0 = _child_cpu(), time.perf_counter()
    code, stderr, peak = run_watching_rss([sys.executable, "-P", "-m", "tumorscope", *args], env)
    wall = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"{tree}: tumorscope {' '.join(args)} failed ({code}): {stderr.strip()[-500:]}")
    return wall, _child_cpu() - cpu, peak


def read_masks(out: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p)) for p in sorted((out / "masks").glob("*.png"))])


@dataclass
class Arm:
    """One way of running predict: a tree and the extra predict arguments (``--model``, ``--runtime``)."""

    tree: Path
    args: list[str] = field(default_factory=list)


def measure(arms: dict[str, Arm], patient: Path, work: Path, runs: int, help_runs: int) -> dict[str, Any]:
    res: dict[str, Any] = {name: {"predict_wall": [], "predict_cpu": [], "predict_rss": [], "help_wall": []}
                           for name in arms}

    def predict(name: str, out: str) -> tuple[float, float, float]:
        return run(arms[name].tree, ["predict", "-i", str(patient), "-o", str(work / out), *arms[name].args])

    for name in arms:  # warm-up: bytecode compiled, files cached
        predict(name, f"{name}_warm")
    for i in range(max(runs, help_runs)):
        for name, arm in arms.items():
            if i < runs:
                wall, cpu, peak = predict(name, f"{name}_{i}")
                for key, v in (("predict_wall", wall), ("predict_cpu", cpu), ("predict_rss", peak)):
                    res[name][key].append(v)
            if i < help_runs:
                res[name]["help_wall"].append(run(arm.tree, ["--help"])[0])
    out: dict[str, Any] = {}
    for name, arm in arms.items():
        r = res[name]
        out[name] = {"predict_args": arm.args, "predict_wall_s": statistics.median(r["predict_wall"]),
                     "predict_cpu_s": statistics.median(r["predict_cpu"]),
                     "predict_peak_rss_mb": max(r["predict_rss"]), "help_wall_s": statistics.median(r["help_wall"]),
                     "all_predict_wall_s": [round(v, 3) for v in r["predict_wall"]],
                     "summary": json.loads((work / f"{name}_0" / "summary.json").read_text())}
    base_masks = read_masks(work / "baseline_0")
    for name in arms:
        if name != "baseline":
            masks = read_masks(work / f"{name}_0")
            out[name]["ratios"] = {k: out["baseline"][k] / out[name][k]
                                   for k in ("predict_wall_s", "predict_cpu_s", "help_wall_s")}
            out[name]["masks_identical_to_baseline"] = bool(np.array_equal(base_masks, masks))
            out[name]["mask_dice_vs_baseline"] = _dice(base_masks > 0, masks > 0)
    return out


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum() + b.sum())
    return 1.0 if total == 0 else 2 * int((a & b).sum()) / total


def report(res: dict[str, Any]) -> str:
    names = [n for n in res if isinstance(res[n], dict) and "predict_wall_s" in res[n]]
    others = [n for n in names if n != "baseline"]
    rows = [("predict wall s (median)", "predict_wall_s", "{:.2f}"), ("predict CPU s (median)", "predict_cpu_s", "{:.2f}"),
            ("predict peak RSS MiB", "predict_peak_rss_mb", "{:.0f}"), ("--help wall s (median)", "help_wall_s", "{:.3f}")]
    cur = res[others[0]] if others else res["baseline"]
    lines = [f"patient: {res['patient']} ({cur['summary']['n_slices']} slices)",
             f"machine: {res['cpu']}, {os.cpu_count()} cores; load average before {res['load_before']}, "
             f"after {res['load_after']}",
             f"runs: predict {res['runs']}, --help {res['help_runs']} per arm, alternating"]
    lines += [f"  {n}: tumorscope predict ... {' '.join(res[n]['predict_args'])}".rstrip() for n in names]
    lines += ["", f"{'':<26}{'baseline ' + res['base']:>18}" + "".join(f"{n:>16}{'ratio':>8}" for n in others)]
    for label, key, fmt in rows:
        line = f"{label:<26}{fmt.format(res['baseline'][key]):>18}"
        for n in others:
            ratio = res[n]["ratios"].get(key)
            line += f"{fmt.format(res[n][key]):>16}" + (f"{ratio:>7.2f}x" if ratio else " " * 8)
        lines.append(line)
    lines.append("")
    lines += [f"{n}: masks identical to baseline: {res[n]['masks_identical_to_baseline']} (Dice between the two "
              f"{res[n]['mask_dice_vs_baseline']:.5f}); Dice vs ground truth {res[n]['summary'].get('dice_vs_ground_truth')}"
              f" (baseline {res['baseline']['summary'].get('dice_vs_ground_truth')})" for n in others]
    return "\n".join(lines)


def variant_bundle(variant: str, folder: Path, max_patients: int) -> Path:
    """A temporary copy of this checkout's ``lgg-flair-seg`` with ``variant`` in it: copied when the zoo bundle
    already ships it verified, else exported into the copy by ``tumorscope export`` (verified on
    ``max_patients`` validation patients)."""
    from tumorscope.bundle.bundle import ZOO
    from tumorscope.bundle.variants import read_variants

    bundle = folder / "lgg-flair-seg"
    shutil.copytree(ZOO / "lgg-flair-seg", bundle)
    if not read_variants(bundle).get(variant, {}).get("passed"):
        runtime, precision = variant.split("-")
        flag = {"int8": ["--int8"], "int8w": ["--int8-weights"]}.get(precision, [])
        env = {**os.environ, "PYTHONPATH": str(REPO), "TUMORSCOPE_PROGRESS": "0"}
        subprocess.run([sys.executable, "-P", "-m", "tumorscope", "export", "--model", str(bundle), "--format",
                        runtime, *flag, "--max-patients", str(max_patients)], check=True, env=env, cwd=REPO)
    return bundle


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default=BASE, help=f"baseline commit (default {BASE})")
    p.add_argument("--patient", type=Path, help="kaggle_3m patient folder (default: the shared one with most slices)")
    p.add_argument("--runs", type=int, default=5, help="timed predict runs per tree (default 5)")
    p.add_argument("--help-runs", type=int, default=7, help="timed --help runs per tree (default 7)")
    p.add_argument("--variant", help="also run this checkout with an exported variant (e.g. openvino-int8w) in a "
                   "temporary copy of lgg-flair-seg: copied from the zoo when it ships it, else exported into the copy")
    p.add_argument("--max-patients", type=int, default=13, help="--variant exported here: verified on N patients")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    patient = args.patient or largest_patient()
    with tempfile.TemporaryDirectory(prefix="predict_speed_") as tmp:
        base_tree = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base_tree), args.base],
                       check=True, capture_output=True)
        try:
            work = Path(tmp) / "out"
            arms = {"baseline": Arm(base_tree), "current": Arm(REPO, ["--runtime", "pytorch"])}
            if args.variant:
                folder = variant_bundle(args.variant, Path(tmp), args.max_patients)
                arms["variant"] = Arm(REPO, ["--model", str(folder), "--runtime", args.variant])
            load_before = os.getloadavg()
            res = measure(arms, patient, work, args.runs, args.help_runs)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)], check=False)
    res.update(base=args.base, patient=str(patient), runs=args.runs, help_runs=args.help_runs, cpu=_cpu_name(),
               load_before=[round(v, 2) for v in load_before], load_after=[round(v, 2) for v in os.getloadavg()])
    print(report(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
