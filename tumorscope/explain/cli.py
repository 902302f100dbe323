"""``tumorscope explain``: heatmaps for one input, or ``--evaluate`` their faithfulness on a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError
from tumorscope.explain.names import METHODS
from tumorscope.results import Estimate

_EPILOG = """\
examples:
  tumorscope explain --model lgg-flair-seg -i PATIENT_DIR -o out/ --method gradcam
  tumorscope explain --model runs/cls -i image.png -o out/ --method ig
  tumorscope explain --evaluate --model runs/lgg_cv/fold0 --data ../shared/data/lgg_mri_segmentation \\
      --split test --max-slices 200 -o runs/lgg_cv/fold0/explain

Methods: gradcam, gradcampp (Grad-CAM/Grad-CAM++ on the U-Net bottleneck or a classifier's last conv
block; --layer overrides), saliency (|gradient|), ig (integrated gradients from a black baseline),
occlusion (drop in score when a patch is hidden). Segmentation explains the mean tumor logit inside the
predicted mask (whole image when none is predicted); classification the predicted class.

--evaluate writes OUT/explain_metrics.json: per method the pointing game (heatmap maximum inside the
tumor mask grown by --tolerance pixels), the share of positive heatmap energy inside the mask, and the
deletion/insertion AUCs (model probability as the most-salient pixels are removed / inserted first; lower
deletion = more faithful), each with a 95% bootstrap CI over patients, beside chance baselines.
Each method's results are saved in OUT/explain_parts/ as soon as it finishes: rerunning the same command
skips finished methods and recomputes an interrupted one. A method that fails is recorded (explain_metrics.json
"failed"), the others still run, and the command exits with status 1 naming it."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="heatmaps of what a model looked at, and how faithful they are",
        description="Explain a model's prediction on one input (-i), or measure explanation faithfulness on a "
        "dataset with tumor masks (--evaluate --data).", epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default="lgg-flair-seg", help="bundled model name, bundle folder or run folder")
    p.add_argument("-i", "--input", type=Path, help="image, folder of slices, patient folder, DICOM series, NIfTI")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUT_DIR")
    p.add_argument("--method", choices=METHODS, help="explanation method for -i (default: gradcam; a 3-D model: "
                   "saliency, ig and occlusion)")
    p.add_argument("--layer", help="Grad-CAM target layer (default: chosen automatically)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    g = p.add_argument_group("faithfulness evaluation")
    g.add_argument("--evaluate", action="store_true", help="score every method on --data (needs tumor masks)")
    g.add_argument("--data", type=Path, metavar="DIR", help="dataset folder with masks (LGG, BUSI, ...)")
    g.add_argument("--split", choices=("train", "val", "test"), help="only this part of --splits")
    g.add_argument("--splits", type=Path, metavar="JSON", help="splits.json (default: the run folder's)")
    g.add_argument("--fold", type=int, default=0, help="which fold of a k-fold splits.json")
    g.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), help="methods to score")
    g.add_argument("--max-slices", type=int, help="explain at most this many tumor slices (evenly spread)")
    g.add_argument("--tolerance", type=float, default=5.0, help="pointing game: mask grown by this many pixels")
    g.add_argument("--steps", type=int, default=10, help="deletion/insertion curve steps")
    g.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the CIs")
    p.set_defaults(func=_cmd_explain)


def _cmd_explain(args: argparse.Namespace) -> int:
    import torch

    from tumorscope.bundle import load_bundle

    if args.threads:
        torch.set_num_threads(args.threads)
    bundle = load_bundle(args.model)
    if args.evaluate:
        return _cmd_evaluate(args, bundle)
    if args.input is None:
        raise TumorscopeError("explain needs -i INPUT (or --evaluate --data DIR)")
    from tumorscope.predict.volumetric import is_volumetric

    if is_volumetric(bundle.model):
        from tumorscope.explain.volume_methods import VOLUME_METHODS
        from tumorscope.explain.volume_run import explain_volume

        summary = explain_volume(bundle, args.input, args.out, (args.method,) if args.method else VOLUME_METHODS,
                                 steps=args.steps)
        print(format_importance(summary))
        print(f"written: {args.out}")
        return 0
    from tumorscope.explain.run import explain_input

    method = args.method or "gradcam"
    summary = explain_input(bundle, args.input, args.out, method, layer=args.layer)
    print(f"{len(summary['slices'])} heatmap(s) ({method}) written: {args.out}")
    return 0


def format_importance(summary: dict[str, Any]) -> str:
    """3-D explanations: per region, each modality's ablation drop and attribution shares, then faithfulness."""
    methods = summary["methods"]
    lines = [f"{'region':<8} {'modality':<10} {'ablation drop':>13} " + " ".join(f"{m + ' share':>15}" for m in methods)]
    for region, row in summary["regions"].items():
        for modality, imp in row["importance"].items():
            lines.append(f"{region:<8} {modality:<10} {imp['ablation_drop']:>13.3f} "
                         + " ".join(f"{imp[m + '_share']:>15.3f}" for m in methods))
    lines.append(f"{'region':<8} {'method':<10} {'pointing':>9} {'energy':>7} {'deletion':>9} {'insertion':>9}")
    for region, row in summary["regions"].items():
        for m, f in list(row["faithfulness"].items()) + [("random", {
                "deletion_auc": row["baseline"]["deletion_auc_random_order"],
                "insertion_auc": row["baseline"]["insertion_auc_random_order"],
                "energy_in_mask": row["baseline"]["energy_in_mask_uniform_map"], "pointing_game": None})]:
            def num(v: Any) -> str:
                return "-" if v is None else f"{float(v):.3f}"

            lines.append(f"{region:<8} {m:<10} {num(f['pointing_game']):>9} {num(f['energy_in_mask']):>7} "
                         f"{num(f['deletion_auc']):>9} {num(f['insertion_auc']):>9}")
    return "\n".join(lines)


def _cmd_evaluate(args: argparse.Namespace, bundle: Any) -> int:
    from tumorscope.atomic import write_json
    from tumorscope.evaluate.cli import samples_for
    from tumorscope.explain.evaluate import evaluate_explanations, load_scorable

    if args.data is None:
        raise TumorscopeError("--evaluate needs --data DIR (a dataset with tumor masks)")
    _, samples = samples_for(args)
    stacks, skipped = load_scorable(samples)
    if not any(s.masks is not None and s.masks.any() for s in stacks):
        raise TumorscopeError("no tumor masks in the selected samples: faithfulness needs masks", args.data)
    metrics = evaluate_explanations(
        bundle, stacks, args.methods, max_slices=args.max_slices, tolerance=args.tolerance, steps=args.steps,
        n_boot=args.boot, layer=args.layer, out_dir=args.out,
    )
    metrics.update({"model": bundle.name, "model_path": str(bundle.path), "data": str(args.data), "split": args.split,
                    "skipped_unreadable": skipped})
    write_json(args.out / "explain_metrics.json", metrics)
    print(format_explain_metrics(metrics))
    print(f"written: {args.out / 'explain_metrics.json'}")
    if metrics["failed"]:
        for name, error in metrics["failed"].items():
            print(f"tumorscope: explain: method {name} failed: {error}", file=sys.stderr)
        print(f"tumorscope: explain: {len(metrics['failed'])} method(s) failed ({', '.join(metrics['failed'])}); "
              "rerun the same command to retry them (finished methods are skipped)", file=sys.stderr)
        return 1
    return 0


def format_explain_metrics(m: dict[str, Any]) -> str:
    """A table of the per-method means (with CIs) and the chance baselines."""
    def cell(s: dict[str, Any]) -> str:
        return Estimate.from_json(s).format()

    unit = "patients" if m.get("task") == "segmentation" else "groups (patients, or images without patient ids)"
    lines = [f"{m['n_slices']} tumor slices of {m['n_patients']} {unit} (pointing tolerance {m['tolerance_px']:g} px)",
             f"{'method':<10} {'pointing game':<24} {'energy in mask':<24} {'deletion AUC':<24} {'insertion AUC':<24}"]
    for name, e in m["methods"].items():
        lines.append(f"{name:<10} " + " ".join(f"{cell(e[k]):<24}" for k in
                                               ("pointing_game", "energy_in_mask", "deletion_auc", "insertion_auc")))
    b = m["baselines"]
    lines.append(f"{'chance':<10} " + " ".join(f"{cell(b[k]):<24}" for k in (
        "pointing_game_random_point", "energy_in_mask_uniform_map", "deletion_auc_random_order",
        "insertion_auc_random_order")))
    return "\n".join(lines)
