"""Segmentation inference benchmark: the bundle path against a plain MONAI eager float32 forward.

Measured in one process, on the same network and the same slices:

1. ``bundle``: :func:`tumorscope.predict.segmentation.predict_probabilities` on raw slices (channel choice,
   per-volume normalisation, resize to the network size, bf16 autocast, logits resized back, sigmoid);
2. ``baseline``: the network's eager float32 forward on already-preprocessed tensors (no preprocessing,
   no resize back): what a bare MONAI loop costs; ``forward_bf16`` is the same under bf16 autocast, to
   tell the autocast gain from the preprocessing cost;
3. ``predict_e2e``: wall time of ``tumorscope predict`` on one patient folder, as a subprocess (start-up,
   imports, reading, writing masks and overlays included);
4. peak RSS of this process and of the predict subprocess.

Throughputs are slices/s, medians of ``--repeats`` timed rounds after ``--warmup`` untimed calls; the three
paths are timed in turn within each round, and ratios are against the baseline of the same run, so they
stay comparable across machines and under background load (absolute numbers do not).

    python bench/seg_inference.py [--model lgg-flair-seg] [--threads 2] [--json bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
FALLBACK_RUN = REPO / "runs" / "lgg_cv" / "fold0" / "bundle"
LGG_PATIENT = "lgg_mri_segmentation/kaggle_3m/TCGA_CS_4942_19970222"


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, float]:
    """Median wall seconds of each callable over ``repeats`` rounds after ``warmup`` untimed calls; each round
    times every callable once, in turn, so a change of machine load hits all of them alike."""
    for fn in runs.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(max(1, repeats)):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def measure(
    model: torch.nn.Module,
    pre: Any,
    stack: np.ndarray,
    batch_sizes: Sequence[int] = (1, 32),
    repeats: int = 5,
    warmup: int = 2,
) -> dict[str, Any]:
    """Slices/s of the bundle path, the fp32 eager baseline and a bf16 forward for each batch size, and
    the ratios ``<path>_vs_baseline_bs<B>`` (above 1: faster than the baseline)."""
    from tumorscope.predict.segmentation import predict_probabilities

    model.eval()
    x = pre.tensor(stack)  # preprocessed once: the baseline's input
    n = int(stack.shape[0])

    def forward(bs: int, bf16: bool) -> None:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for i in range(0, n, bs):
                model(x[i : i + bs])

    rows: dict[str, dict[str, float]] = {"bundle": {}, "baseline": {}, "forward_bf16": {}}
    ratios: dict[str, float] = {}
    for bs in batch_sizes:
        runs: dict[str, Callable[[], object]] = {
            "bundle": partial(predict_probabilities, model, pre, stack, batch_size=bs, bf16=True),
            "baseline": partial(forward, bs, bf16=False),
            "forward_bf16": partial(forward, bs, bf16=True),
        }
        for name, seconds in interleaved_medians(runs, repeats, warmup).items():
            rows[name][f"bs{bs}"] = n / seconds
        for name in ("bundle", "forward_bf16"):
            ratios[f"{name}_vs_baseline_bs{bs}"] = rows[name][f"bs{bs}"] / rows["baseline"][f"bs{bs}"]
    return {"slices": n, "input_shape": list(stack.shape), "network_input": list(x.shape[1:]),
            "slices_per_s": rows, "ratios": ratios}


def load_model(name: str | None) -> tuple[Any, str, Any]:
    """(bundle or None, description, (model, preprocessor)): ``--model``, else lgg-flair-seg, else the CV's
    fold-0 bundle, else the lgg-flair-seg network (unet2d, width 16, FLAIR 128x128) untrained."""
    from tumorscope.bundle import load_bundle
    from tumorscope.errors import TumorscopeError

    for cand in [name] if name else ["lgg-flair-seg", str(FALLBACK_RUN)]:
        try:
            b = load_bundle(cand)
        except TumorscopeError:
            if name:
                raise
            continue
        if b.task != "segmentation":
            raise TumorscopeError(f"bundle task is {b.task!r}, this benchmark needs segmentation", b.path)
        return b, f"bundle {b.name} ({b.path})", (b.model, b.preprocessor)
    from tumorscope.models import build_model
    from tumorscope.preprocess.pipeline import Preprocessor

    torch.manual_seed(0)
    pre = Preprocessor(channels="flair", size=(128, 128))
    model = build_model("unet2d", pre.in_channels, 1, width=16).eval()
    return None, "UNTRAINED unet2d (width 16, 128x128): no trained bundle found; speed does not depend on weights", (
        model, pre)


def bench_input(workdir: Path, override: Path | None = None) -> tuple[Path, str]:
    """The LGG example patient when the shared data is present, else a synthetic phantom folder."""
    from tumorscope.data.locate import shared_data_dir
    from tumorscope.data.phantom import write_phantom_slices

    if override is not None:
        return override, f"{override} (given)"
    root = shared_data_dir()
    if root is not None and (root / LGG_PATIENT).is_dir():
        return root / LGG_PATIENT, f"real LGG patient {root / LGG_PATIENT}"
    folder = write_phantom_slices(workdir / "phantom", n_slices=20)
    return folder, f"SYNTHETIC phantom folder {folder} (shared LGG data not found)"


def tile_slices(stack: np.ndarray, n: int) -> np.ndarray:
    """``n`` slices: the input's slices repeated in order (one volume, so normalisation is unchanged)."""
    return stack[np.arange(n) % stack.shape[0]]


def predict_e2e(bundle_path: Path, patient: Path, workdir: Path, threads: int | None, repeats: int) -> dict[str, Any]:
    """Median wall seconds of ``tumorscope predict`` as a subprocess, and its peak RSS."""
    env = dict(os.environ, TUMORSCOPE_PROGRESS="0")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    times, peaks = [], []
    for i in range(max(1, repeats)):
        out = workdir / f"pred{i}"
        cmd = [sys.executable, "-m", "tumorscope", "predict", "--model", str(bundle_path), "-i", str(patient),
               "-o", str(out)]
        t0 = time.perf_counter()
        code, stderr, peak = run_watching_rss(cmd, env)
        times.append(time.perf_counter() - t0)
        peaks.append(peak)
        if code != 0:
            raise RuntimeError(f"tumorscope predict failed ({code}): {stderr.strip()[-500:]}")
    summary = json.loads((workdir / "pred0" / "summary.json").read_text())
    return {"seconds": statistics.median(times), "runs": len(times), "slices": summary["n_slices"],
            "peak_rss_mb": max(peaks)}


def run_watching_rss(cmd: list[str], env: dict[str, str], poll_s: float = 0.02) -> tuple[int, str, float]:
    """Run ``cmd``; return its exit code, stderr and peak RSS in MiB (the child's ``VmHWM``, polled: rusage of
    a child would count this process's memory too, inherited through fork)."""
    peak = 0.0
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env, cwd=REPO)
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                hwm = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
                peak = max(peak, int(hwm.split()[1]) / 1024)
            except (OSError, StopIteration):
                pass
            time.sleep(poll_s)
        err.seek(0)
        return proc.returncode, err.read(), peak


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kilobytes


def format_report(res: dict[str, Any]) -> str:
    m = res["measure"]
    sizes = list(m["slices_per_s"]["baseline"])
    lines = [
        f"model: {res['model']}",
        f"input: {res['input']}",
        f"slices: {m['slices']} of {m['input_shape'][1]}x{m['input_shape'][2]} -> network "
        f"{m['network_input'][1]}x{m['network_input'][2]}; threads {res['threads']}; "
        f"median of {res['repeats']} after {res['warmup']} warm-up",
        "",
        f"{'slices/s':<44}" + "".join(f"{s:>10}" for s in sizes),
    ]
    labels = {"bundle": "bundle path (preprocess + bf16 + resize back)", "baseline": "baseline: MONAI eager fp32 forward",
              "forward_bf16": "forward only, bf16 autocast"}
    for key, label in labels.items():
        lines.append(f"{label:<44}" + "".join(f"{m['slices_per_s'][key][s]:>10.1f}" for s in sizes))
    lines += ["", "RATIOS vs baseline (same run; >1 = faster)"]
    lines += [f"  {k:<36}{v:>8.2f}x" for k, v in m["ratios"].items()]
    e2e = res.get("predict_e2e")
    if e2e:
        lines += ["", f"tumorscope predict end-to-end: {e2e['seconds']:.2f} s for {e2e['slices']} slices "
                  f"(median of {e2e['runs']}; peak RSS {e2e['peak_rss_mb']:.0f} MiB)"]
    lines.append(f"peak RSS of this process: {res['peak_rss_mb']:.0f} MiB")
    if res.get("load_note"):
        lines.append(f"note: {res['load_note']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="bundle name or folder (default: lgg-flair-seg, else runs/lgg_cv/fold0/bundle)")
    ap.add_argument("--input", type=Path, help="patient folder (default: the LGG example patient, else a phantom)")
    ap.add_argument("--slices", type=int, default=32, help="slices per timed run (the input's slices repeated)")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--e2e-repeats", type=int, default=3, help="runs of `tumorscope predict` (0: skip)")
    ap.add_argument("--threads", type=int, help="torch threads here and OMP_NUM_THREADS for the subprocess")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    args = ap.parse_args(argv)

    from tumorscope.atomic import write_json
    from tumorscope.bundle import save_bundle
    from tumorscope.predict.inputs import read_input

    if args.threads:
        torch.set_num_threads(args.threads)
    bundle, described, (model, pre) = load_model(args.model)
    load = os.getloadavg()[0]
    others = subprocess.run(["pgrep", "-f", "tumorscope (cv|train)"], capture_output=True, text=True).stdout.split()
    with tempfile.TemporaryDirectory(prefix="tumorscope_bench_") as tmp:
        work = Path(tmp)
        patient, input_desc = bench_input(work, args.input)
        stack = tile_slices(read_input(patient).slices, args.slices)
        res: dict[str, Any] = {
            "model": described, "input": input_desc, "threads": torch.get_num_threads(),
            "repeats": args.repeats, "warmup": args.warmup, "torch": torch.__version__,
            "load_average_1min_at_start": load, "training_processes_running": len(others),
            "measure": measure(model, pre, stack, args.batch_sizes, args.repeats, args.warmup),
        }
        if args.e2e_repeats > 0:
            bundle_path = bundle.path if bundle is not None else save_bundle(
                work / "untrained_bundle", model,
                {"name": "untrained-unet2d", "task": "segmentation", "classes": ["tumor"],
                 "model": {"name": "unet2d", "in_channels": pre.in_channels, "out_channels": 1,
                           "options": {"width": 16}}, "preprocessing": pre.to_dict()},
            ).path
            res["predict_e2e"] = predict_e2e(bundle_path, patient, work, args.threads, args.e2e_repeats)
    res["peak_rss_mb"] = _rss_mb()
    if others:
        res["load_note"] = (f"{len(others)} training process(es) were running (load {load:.1f}): numbers are "
                            "under load; the ratios are fairer than the absolute values")
    print(format_report(res))
    if args.json:
        write_json(args.json, res)
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
