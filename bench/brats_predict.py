"""3-D predict of one BraTS case on 2 cores (issue 30 item 6): ``tumorscope predict`` against MONAI's eager
``sliding_window_inference`` of the same network on the same input, measured in the same run.

Two kinds of fresh child process alternate run by run (so background load falls on both alike), each with
``OMP_NUM_THREADS`` = ``--threads`` (2):

- ``tumorscope``: ``tumorscope predict --model BUNDLE -i INPUT -o OUT`` (its runtime choice: ``--runtime``,
  default auto, which for a 3-D bundle is PyTorch today, bf16 autocast where the CPU computes bf16 natively);
  INPUT is the case folder when ``predict`` reads BraTS case folders (item 4), else the case's modalities
  stacked in the bundle's order into one 4-D NIfTI (written once, untimed; the baseline reads the same file);
- ``monai``: this script as a child: nibabel reads the same NIfTI, the bundle's own normalisation
  (``volume_tensor``), the bundle's network in float32 eager PyTorch under ``torch.no_grad``,
  ``monai.inferers.sliding_window_inference`` with the bundle's patch, overlap, Gaussian blending and batch
  (and its flip TTA when the bundle uses one), sigmoid, the bundle's threshold, the mask saved with nibabel:
  what a MONAI user writes by hand (no small-component removal).

Each: wall seconds (process start to exit, imports included) and peak RSS (the child's ``VmHWM``, polled), medians
of ``--runs`` after one untimed warm-up each; ratios tumorscope / monai; the Dice of the two masks (first output).

``--bundle`` (default ``brats-glioma-seg`` when installed) takes any 3-D bundle; ``--stand-in WIDTH`` instead
builds an UNTRAINED ``unet3d`` of that width (4 inputs, 3 sigmoid outputs, patch planned for the case as the 3-D
trainer plans it) in a temporary bundle, for speed and memory before a trained model exists.

    PYTHONPATH=$PWD nice -n 10 /work/main/.venv/bin/python bench/brats_predict.py [--case DIR] [--bundle B |
        --stand-in 16] [--runs 3] [--threads 2] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.seg_inference import run_watching_rss
from tumorscope.data.locate import shared_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = "brats-glioma-seg"


def default_case() -> Path:
    root = shared_dataset("brats2018")
    if root is None:
        sys.exit("needs ../shared/data/brats2018 (or pass --case DIR)")
    return sorted(p for p in (root / "cases").iterdir() if p.is_dir())[0]


def stand_in_bundle(out: Path, width: int, case: Path) -> Path:
    """An untrained 4-in, 3-out ``unet3d`` bundle with the patch the 3-D trainer would plan for this case."""
    from tumorscope.bundle.bundle import save_bundle
    from tumorscope.bundle.postprocess import PostProcess
    from tumorscope.models import build_model
    from tumorscope.predict.volumetric import SlidingWindow, plan_patch
    from tumorscope.preprocess.pipeline import Preprocessor

    volume = read_case(case, ("flair", "t1", "t1ce", "t2"))
    patch = plan_patch(volume.shape[:3], (1.0, 1.0, 1.0), max_edge=128)
    import torch

    torch.manual_seed(0)
    net = build_model("unet3d", 4, 3, width=width)
    config = {"name": f"stand-in-unet3d-w{width}", "task": "segmentation", "classes": ["WT", "TC", "ET"],
              "modalities": ["flair", "t1", "t1ce", "t2"], "regions": ["WT", "TC", "ET"],
              "model": {"name": "unet3d", "in_channels": 4, "out_channels": 3, "options": {"width": width}},
              "preprocessing": Preprocessor(channels="all").to_dict(),
              "postprocessing": PostProcess(threshold=0.5, min_size=0, tta=False).to_dict(),
              "volumetric": SlidingWindow(patch_size=patch, sw_batch_size=1).to_dict()}
    save_bundle(out, net, config)
    return out


def read_case(case: Path, modalities: tuple[str, ...]) -> np.ndarray:
    """(Z, Y, X, C) voxels of a BraTS case folder in ``modalities`` order."""
    from tumorscope.data.brats_cases import Case
    from tumorscope.data.dataset import load_dataset
    from tumorscope.evaluate.brats_model import case_volume

    (sample,) = load_dataset(case).samples
    return case_volume(Case.of(sample), modalities)


def write_4d(case: Path, modalities: tuple[str, ...], out: Path) -> Path:
    """The case's modalities as one 4-D NIfTI (x, y, z, C) on the case's grid."""
    import nibabel as nib

    from tumorscope.data.dataset import load_dataset

    first = load_dataset(case).samples[0].extra["modalities"][modalities[0]][0]
    ref = nib.load(str(first))
    data = np.moveaxis(read_case(case, modalities), [0, 1, 2], [2, 1, 0])  # (Z, Y, X, C) -> (x, y, z, C)
    nib.save(nib.Nifti1Image(data.astype(np.float32), ref.affine), str(out))
    return out


def monai_child(bundle_path: str, nifti: str, out: str) -> None:
    """The baseline, run in a fresh process: nibabel + the bundle's normalisation + eager float32 MONAI."""
    import nibabel as nib
    import torch
    from monai.inferers import sliding_window_inference

    from tumorscope.bundle import load_bundle
    from tumorscope.predict.volumetric import SlidingWindow, volume_tensor

    bundle = load_bundle(bundle_path)
    if "brats" in bundle.config:  # a BraTS region bundle: the same plan's input, then eager float32 MONAI
        _monai_region_child(bundle, Path(nifti), out)
        return
    img = nib.load(nifti)
    data = np.asarray(img.dataobj, dtype=np.float32)
    volume = np.moveaxis(data if data.ndim == 4 else data[..., None], [0, 1, 2], [2, 1, 0])  # (Z, Y, X, C)
    window = SlidingWindow.for_bundle(bundle.config, volume.shape[:3])
    model = bundle.model.eval()
    post = bundle.postprocess

    def infer(x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(sliding_window_inference(x, window.patch_size, window.sw_batch_size, model,
                                                        overlap=window.overlap, mode=window.mode))

    with torch.no_grad():
        x = volume_tensor(bundle.preprocessor, volume)[None]
        logits = infer(x)
        if post.tta:  # the bundle's flip test-time augmentation, as tumorscope runs it
            logits = (logits + infer(x.flip(-1)).flip(-1)) / 2
        mask = (torch.sigmoid(logits[0, 0]) >= post.threshold).numpy().astype(np.uint8)
    nib.save(nib.Nifti1Image(np.moveaxis(mask, [0, 1, 2], [2, 1, 0]), img.affine), out)


def _monai_region_child(bundle: Any, case_dir: Path, out: str) -> None:
    """The baseline for a BraTS region bundle: the case prepared by the bundle's plan (tumorscope's own code: the
    input the network was trained on), then MONAI's eager float32 sliding window (+ the mirrored pass when the
    bundle uses it), upsampled back; the WT mask is written for the Dice against predict's label map."""
    import nibabel as nib
    import torch
    from monai.inferers import sliding_window_inference

    from tumorscope.data.brats import MODALITIES
    from tumorscope.data.brats_volumes import prepare_arrays, read_modalities
    from tumorscope.predict.brats_case import read_case_folder
    from tumorscope.predict.brats_plan import BratsPlan
    from tumorscope.predict.brats_regions import RegionPost, to_original
    from tumorscope.predict.volumetric import SlidingWindow

    brats = bundle.config["brats"]
    case = read_case_folder(case_dir)
    images, spacing, _ = read_modalities(case)
    prepared = prepare_arrays(images, spacing, BratsPlan.from_dict(brats["plan"]).spacing, case_id=case.id)
    window = SlidingWindow.from_dict(bundle.config["volumetric"])
    model = bundle.model.eval()

    def probs(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(torch.as_tensor(sliding_window_inference(
            x, window.patch_size, window.sw_batch_size, model, overlap=window.overlap, mode=window.mode)))

    with torch.no_grad():
        x = torch.from_numpy(prepared.images)[None]
        p = probs(x)
        if brats.get("tta"):
            p = (p + probs(x.flip(-1)).flip(-1)) / 2
    wt = to_original(p[0], prepared)[0] >= RegionPost.from_dict(brats["postprocessing"]).threshold
    ref = nib.load(str(case.modalities[MODALITIES[0]][0]))
    nib.save(nib.Nifti1Image(np.moveaxis(wt.astype(np.uint8), [0, 1, 2], [2, 1, 0]), ref.affine), out)


def run(cmd: list[str], threads: int) -> tuple[float, float]:
    """(wall s, peak RSS MiB) of one fresh child process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(REPO), TUMORSCOPE_PROGRESS="0", OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    code, stderr, peak = run_watching_rss(cmd, env)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}): {stderr.strip()[-800:]}")
    return time.perf_counter() - t0, peak


def predict_input(bundle: Any, case: Path, work: Path, threads: int, runtime: str | None) -> tuple[str, list[str]]:
    """The input ``tumorscope predict`` is timed on: the case folder if predict reads it, else the 4-D NIfTI."""
    from tumorscope.evaluate.brats_model import input_modalities

    nifti = str(work / "case_4d.nii.gz")
    write_4d(case, input_modalities(bundle.config, None), Path(nifti))
    extra = ["--runtime", runtime] if runtime else []
    try:  # the untimed warm-up run doubles as the test
        run(tumorscope_cmd(str(bundle.path), str(case), work / "warm_folder", extra), threads)
        return str(case), extra
    except RuntimeError:
        run(tumorscope_cmd(str(bundle.path), nifti, work / "warm_nifti", extra), threads)
        return nifti, extra


def tumorscope_cmd(bundle: str, inp: str, out: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-P", "-m", "tumorscope", "predict", "--model", bundle, "-i", inp, "-o", str(out), *extra]


def written_mask(out: Path) -> Path:
    """The mask (or label map) ``tumorscope predict`` wrote into ``out``."""
    found = out / "mask.nii.gz"
    return found if found.exists() else sorted(out.glob("*.nii.gz"))[0]


def mask_dice(a: Path, b: Path) -> float:
    import nibabel as nib

    x, y = (np.asarray(nib.load(str(p)).dataobj) > 0 for p in (a, b))
    x = x[..., 0] if x.ndim == 4 else x
    total = int(x.sum() + y.sum())
    return 1.0 if total == 0 else float(2 * (x & y).sum() / total)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    if argv and argv[0] == "--monai-child":
        monai_child(*argv[1:4])
        return {}
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", type=Path, help="a BraTS case folder (default: the first shared case)")
    ap.add_argument("--bundle", help=f"a 3-D bundle (default: {DEFAULT_BUNDLE})")
    ap.add_argument("--stand-in", type=int, metavar="WIDTH", help="an untrained unet3d of this width instead")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runtime", help="tumorscope predict --runtime (default: its own choice)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    from tumorscope.bundle import load_bundle

    case = args.case or default_case()
    with tempfile.TemporaryDirectory(prefix="brats_bench_") as tmp:
        work = Path(tmp)
        path = str(stand_in_bundle(work / "bundle", args.stand_in, case)) if args.stand_in else (
            args.bundle or DEFAULT_BUNDLE)
        bundle = load_bundle(path)
        inp, extra = predict_input(bundle, case, work, args.threads, args.runtime)
        nifti = str(work / "case_4d.nii.gz")
        baseline_input = str(case) if "brats" in bundle.config else nifti  # a region bundle reads the case folder
        monai = [sys.executable, "-P", str(Path(__file__).resolve()), "--monai-child", str(bundle.path), baseline_input]
        run([*monai, str(work / "monai_warm.nii.gz")], args.threads)
        res: dict[str, list[float]] = {k: [] for k in ("tumorscope_wall", "tumorscope_rss", "monai_wall", "monai_rss")}
        for i in range(args.runs):
            wall, rss = run(tumorscope_cmd(str(bundle.path), inp, work / f"ts{i}", extra), args.threads)
            res["tumorscope_wall"].append(wall)
            res["tumorscope_rss"].append(rss)
            wall, rss = run([*monai, str(work / f"monai{i}.nii.gz")], args.threads)
            res["monai_wall"].append(wall)
            res["monai_rss"].append(rss)
        summary = json.loads((work / "ts0" / "summary.json").read_text())
        med = {k: statistics.median(v) for k, v in res.items()}
        out = {
            "bundle": bundle.name, "stand_in_width": args.stand_in, "case": str(case),
            "predict_input": "case folder" if inp == str(case) else "4-D NIfTI of the case's modalities",
            "patch_size": bundle.config["volumetric"]["patch_size"], "threads": args.threads, "runs": args.runs,
            "runtime": summary.get("runtime", "tumorscope's choice (3-D bundles: PyTorch, no exported variant)"),
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "median": med,
            "all": res, "ratios": {"wall_tumorscope_over_monai": med["tumorscope_wall"] / med["monai_wall"],
                                   "rss_tumorscope_over_monai": med["tumorscope_rss"] / med["monai_rss"]},
            "mask_dice_tumorscope_vs_monai": mask_dice(written_mask(work / "ts0"), work / "monai0.nii.gz"),
        }
    print(format_report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


def format_report(r: dict[str, Any]) -> str:
    m, q = r["median"], r["ratios"]
    return "\n".join([
        f"bundle {r['bundle']} (patch {r['patch_size']}), case {r['case']}, input: {r['predict_input']}",
        f"{r['threads']} threads, median of {r['runs']} runs; tumorscope runtime: {r['runtime']}",
        f"tumorscope predict : {m['tumorscope_wall']:7.1f} s wall  {m['tumorscope_rss']:7.0f} MiB peak RSS",
        f"MONAI eager        : {m['monai_wall']:7.1f} s wall  {m['monai_rss']:7.0f} MiB peak RSS",
        f"ratio tumorscope / MONAI: wall {q['wall_tumorscope_over_monai']:.2f}x, RSS {q['rss_tumorscope_over_monai']:.2f}x; "
        f"mask Dice between them {r['mask_dice_tumorscope_vs_monai']:.3f}",
    ])


if __name__ == "__main__":
    main(sys.argv[1:])
