"""The demo behind ``make demo``: the bundled model on a real validation patient, or a labelled phantom."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from tumorscope.data.locate import shared_dataset

log = logging.getLogger(__name__)


def find_lgg() -> Path | None:
    """The LGG kaggle_3m dataset from $TUMORSCOPE_DATA (the dataset itself or a folder holding it) or ../shared/data."""
    env = os.environ.get("TUMORSCOPE_DATA")
    if env and (Path(env) / "kaggle_3m").is_dir():
        return Path(env)
    return shared_dataset("lgg_mri_segmentation")


def demo_input(out: Path, example_volume: str | None, force_synthetic: bool) -> tuple[Path, bool]:
    """(input path, is_synthetic)."""
    lgg = None if force_synthetic else find_lgg()
    if lgg is not None and example_volume and (lgg / "kaggle_3m" / example_volume).is_dir():
        return lgg / "kaggle_3m" / example_volume, False
    from tumorscope.data.phantom import write_phantom_slices

    return write_phantom_slices(out / "synthetic_example"), True


def run_demo(out: Path, model: str = "lgg-flair-seg", force_synthetic: bool = False) -> dict:
    from tumorscope.bundle import load_bundle
    from tumorscope.predict.inputs import read_input
    from tumorscope.predict.outputs import write_segmentation

    bundle = load_bundle(model)
    out.mkdir(parents=True, exist_ok=True)
    path, synthetic = demo_input(out, bundle.config.get("example_volume"), force_synthetic)
    kind = "SYNTHETIC phantom (no real data found)" if synthetic else "real LGG validation patient"
    print(f"example: {path}  [{kind}]")
    summary = write_segmentation(bundle, read_input(path), out / "prediction", synthetic=synthetic)
    verdict = "tumor found" if summary["tumor_found"] else "no tumor found"
    print(f"{bundle.name}: {verdict}, max probability {summary['probability']:.2f}, "
          f"{summary['volume_pixels']} pixels on {len(summary['slices_with_tumor'])} slice(s)")
    if "dice_vs_ground_truth" in summary:
        print(f"Dice against the expert mask: {summary['dice_vs_ground_truth']:.3f}")
    print(f"results: {out / 'prediction'} (summary.json, masks/, overlays/)")
    return summary


def register(sub: argparse._SubParsersAction) -> None:
    """``tumorscope demo`` (the README's first command)."""
    p = sub.add_parser(
        "demo", help="predict with the bundled default model on an example (what `make demo` runs)",
        description="Pick an example - an LGG validation patient of the bundled model when ../shared/data or "
        "$TUMORSCOPE_DATA holds the LGG dataset, else a deterministic synthetic phantom (labelled synthetic in "
        "every output) - and run `tumorscope predict` on it.",
    )
    p.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default: demo_output)")
    p.add_argument("--model", default="lgg-flair-seg")
    p.add_argument("--synthetic", action="store_true", help="use the synthetic phantom even when real data is there")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    run_demo(args.out, model=args.model, force_synthetic=args.synthetic)
    return 0
