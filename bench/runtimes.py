"""Per-slice throughput of each inference runtime against eager PyTorch float32, on the same networks in one run.

For the segmentation bundle (lgg-flair-seg: four MONAI U-Nets) and the classification bundle
(brain-mri-tumor-type: six classifiers) it exports, into a temporary copy of each bundle, the variants
`tumorscope export` makes (ONNX fp32, OpenVINO fp32, OpenVINO int8 and ONNX int8), each verified on real
validation images as export verifies them (export's defaults: 13 patients, 400 images; ``--patients``,
``--images``), then times one batch of real preprocessed inputs through every runtime's whole network
(all members and the ensemble's averaging): ``--repeats`` timed rounds after a warm-up, the runtimes in turn
within each round, medians. Ratios are against eager PyTorch float32 of the same run; a variant that failed
verification is timed from a scratch export but marked REJECTED, since predict never runs it. Also prints the CPU's vector/matrix
extensions (AVX2, AVX-512, VNNI, AMX), read at run time.

    nice -n 10 python bench/runtimes.py [--threads 2] [--batch 32] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
MODELS = {"lgg-flair-seg": DATA / "lgg_mri_segmentation", "brain-mri-tumor-type": DATA / "brain_tumor_mri_4class"}
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def cpu_flags() -> tuple[str, list[str]]:
    """(model name, which of FLAGS this CPU has), from /proc/cpuinfo."""
    name, flags = "unknown CPU", set()
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    return name, [fl for fl in FLAGS if fl in flags]


def timed(net: Any, x: torch.Tensor, bf16: bool = False) -> float:
    from tumorscope.models.precision import autocast

    start = time.perf_counter()
    with torch.no_grad(), autocast(bf16):
        net(x)
    return time.perf_counter() - start


def bench_model(name: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    from tumorscope.bundle import load_bundle
    from tumorscope.bundle.runtime import variant_network
    from tumorscope.bundle.variants import VARIANTS_DIR
    from tumorscope.export.graphs import write_graphs
    from tumorscope.export.make import Exporter
    from tumorscope.export.verify import calibration_batch, choose_data
    from tumorscope.models.precision import native_bf16

    src = load_bundle(name)
    shutil.copytree(src.path, scratch / name)
    bundle = load_bundle(scratch / name)
    limit = args.patients if bundle.task == "segmentation" else args.images
    checks = choose_data(bundle, MODELS[name], limit)
    exporter = Exporter(bundle, checks, command="bench/runtimes.py", calibration_size=args.calibration)
    nets: dict[str, tuple[Any, bool]] = {"pytorch-fp32 (eager)": (bundle.model, False)}
    if native_bf16():
        nets["pytorch-bf16 (autocast, predict's default here)"] = (bundle.model, True)
    verdicts = {}
    for runtime, int8 in (("onnx", False), ("openvino", False), ("openvino", True), ("onnx", True)):
        rec = exporter.make(runtime, int8)
        vname = f"{runtime}-{rec['precision']}"
        verdicts[vname] = rec["verification"]["summary"]
        if rec["passed"]:
            nets[vname] = (variant_network(bundle, bundle.path / VARIANTS_DIR / vname, rec), False)
        else:  # timed from a scratch export, marked: predict never runs it
            verdicts[vname] += " -> REJECTED (predict never runs it)"
            folder = scratch / f"{name}-{vname}-rejected"
            calibration = calibration_batch(bundle, checks, args.calibration) if int8 else None
            rec["graphs"] = write_graphs(bundle.model, bundle.config["model"]["in_channels"],
                                         tuple(bundle.preprocessor.size), runtime, folder, calibration)
            nets[f"{vname} (REJECTED)"] = (variant_network(bundle, folder, rec), False)
    x = calibration_batch(bundle, checks, args.batch)  # real preprocessed inputs
    for net, bf16 in nets.values():
        timed(net, x, bf16)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in nets}
    for _ in range(args.repeats):
        for k, (net, bf16) in nets.items():
            times[k].append(timed(net, x, bf16))
    base = statistics.median(times["pytorch-fp32 (eager)"])
    rows = {k: {"slices_per_s": round(len(x) / statistics.median(v), 1),
                "ratio_vs_eager_fp32": round(base / statistics.median(v), 2)} for k, v in times.items()}
    return {"model": name, "batch": len(x), "input": list(x.shape[1:]), "runtimes": rows, "verification": verdicts,
            "verified_on": checks.description}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--patients", type=int, default=13, help="segmentation verification patients (export's default)")
    ap.add_argument("--images", type=int, default=400, help="classification verification images (export's default)")
    ap.add_argument("--calibration", type=int, default=128)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not all(MODELS[m].exists() for m in args.models):
        print(f"needs the real datasets under {DATA}")
        return 2
    torch.set_num_threads(args.threads)
    cpu, flags = cpu_flags()
    print(f"CPU: {cpu}, {os.cpu_count()} cores, torch threads {args.threads}; extensions: {', '.join(flags) or 'none'}")
    print(f"AVX-512: {'yes' if 'avx512f' in flags else 'no'}; VNNI: "
          f"{'yes' if {'avx512_vnni', 'avx_vnni'} & set(flags) else 'no'}; AMX: {'yes' if 'amx_tile' in flags else 'no'}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            r = bench_model(name, args, Path(tmp))
            results.append(r)
            print(f"\n{name}: batch of {r['batch']} real inputs {r['input']}, medians of {args.repeats}")
            print(f"  {'runtime':<48} {'slices/s':>9} {'vs eager fp32':>14}")
            for k, row in r["runtimes"].items():
                print(f"  {k:<48} {row['slices_per_s']:>9.1f} {row['ratio_vs_eager_fp32']:>13.2f}x")
            print(f"  verified on {r['verified_on']}:")
            for k, v in r["verification"].items():
                print(f"    {k}: {v}")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "flags": flags, "threads": args.threads, "results": results},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
