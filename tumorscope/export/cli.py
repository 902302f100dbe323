"""``tumorscope export``: verified ONNX / OpenVINO variants of a bundle's network (docs/runtime.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

_EPILOG = """\
examples:
  tumorscope export --model lgg-flair-seg --format openvino onnx
  tumorscope export --model lgg-flair-seg --format openvino --int8
  tumorscope export --model lgg-flair-seg --format openvino --int8-weights   (the variant the zoo bundle ships)
  tumorscope export --model brain-mri-tumor-type --format openvino --data ../shared/data/brain_tumor_mri_4class

Each variant is written to the bundle's variants/<format>-<fp32|int8|int8w>/ and verified against the float32
PyTorch network on the bundle's validation images (segmentation: per-patient Dice change <= 0.005, mean
<= 0.002; classification: class agreement >= 99.5%). Only a variant that passes is kept; the numbers go
into variants.json and the model card either way. predict then runs the fastest kept variant."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a bundle's network to OpenVINO / ONNX, verified on real images",
                       description="Export a bundle's network to OpenVINO IR or ONNX (float32, or int8 calibrated "
                       "on real images), verify it against the float32 PyTorch network and keep it only if it passes.",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="bundle name or folder (a zoo bundle is changed in place)")
    p.add_argument("--format", nargs="+", required=True, choices=("openvino", "onnx"), dest="formats")
    p.add_argument("--int8", action="store_true",
                   help="int8 variants (post-training quantization calibrated on training images) instead of float32")
    p.add_argument("--int8-weights", action="store_true", dest="weights_only",
                   help="OpenVINO: int8 weights with float32 activations (NNCF weight compression, no calibration): "
                        "about float32's accuracy at a quarter of its size")
    p.add_argument("--data", type=Path,
                   help="dataset to verify on (default: the data the bundle records it was trained on)")
    p.add_argument("--max-patients", type=int, default=13, metavar="N",
                   help="segmentation: verify on at most N validation patients (default 13)")
    p.add_argument("--max-images", type=int, default=400, metavar="N",
                   help="classification: verify on at most N images (default 400)")
    p.add_argument("--calibration", type=int, default=128, metavar="N", help="int8: calibration inputs (default 128)")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from tumorscope.bundle import load_bundle
    from tumorscope.errors import TumorscopeError
    from tumorscope.export.make import Exporter, default_data
    from tumorscope.export.verify import choose_data

    bundle = load_bundle(args.model)
    data = args.data or default_data(bundle)
    if not data.exists():
        raise TumorscopeError("verification data not found (give --data)", data)
    limit = args.max_patients if bundle.task == "segmentation" else args.max_images
    command = "tumorscope " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["export"] else ""
    exporter = Exporter(bundle, choose_data(bundle, data, limit), command=command, calibration_size=args.calibration)
    print(f"verifying on {exporter.checks.description}")
    failed = 0
    for runtime in args.formats:
        record = exporter.make(runtime, args.int8, args.weights_only)
        name = f"{runtime}-{record['precision']}"
        ver = record["verification"]
        verdict = "kept" if record["passed"] else "REJECTED (not kept)"
        print(f"{name}: {verdict}: {ver['summary']}; {ver['speedup_here']:.2f}x PyTorch fp32 on this machine"
              + (f"; {record['size_mb']} MB" if record["passed"] else ""))
        failed += not record["passed"]
    print(f"variants: {bundle.path / 'variants'} (recorded in variants.json and card.md)")
    return 1 if failed else 0
