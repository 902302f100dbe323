"""``tumorscope evaluate``: score a bundle on a dataset (or one part of a splits.json)."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any

from tumorscope.atomic import atomic_path, write_json
from tumorscope.errors import TumorscopeError

_EPILOG = """\
examples:
  tumorscope evaluate --model lgg-flair-seg --data ../shared/data/lgg_mri_segmentation --out eval/
  tumorscope evaluate --model runs/lgg --data DIR --split test --splits runs/lgg/splits.json --out eval/

Segmentation writes metrics.json (per-patient volumetric Dice/IoU/HD95 with 95% bootstrap CIs over
patients, slice-level tumor-presence sensitivity/specificity/AUC) and per_patient.csv.
Classification writes metrics.json (accuracy, balanced accuracy, macro AUC/sensitivity/specificity/
precision/F1 with CIs, per-class metrics, confusion matrix) and ROC/confusion/calibration plots."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="score a model on a dataset with bootstrap confidence intervals",
        description="Evaluate a bundle (zoo name, bundle folder or run folder) on every sample of DIR, or on one "
        "part of a splits.json.", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="bundled model name, bundle folder or training run folder")
    p.add_argument("--data", required=True, type=Path, metavar="DIR")
    p.add_argument("--out", required=True, type=Path, metavar="OUT_DIR")
    p.add_argument("--split", choices=("train", "val", "test"), help="evaluate only this part of --splits")
    p.add_argument("--splits", type=Path, metavar="JSON", help="splits.json (default: the run folder's)")
    p.add_argument("--fold", type=int, default=0, help="which fold of a k-fold splits.json")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="flip test-time augmentation on/off (default: the bundle's own setting)")
    p.add_argument("--min-size", type=int, help="segmentation: override the bundle's small-component removal")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples for the CIs")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "compare", help="one Markdown table of classification results across runs",
        description="Compare classification runs: CV folders (pooled held-out metrics + mean +- sd over folds), "
        "training runs with a test fold, or evaluation folders. Columns: Model | Training | Accuracy | "
        "Precision | Recall | F1 | AUC with 95% bootstrap CIs.",
        epilog="example:\n  tumorscope compare runs/busi_cnn_cv runs/busi_resnet18_cv runs/busi_transfer_cv -o table.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("-o", "--out", type=Path, help="write the table to this Markdown file")
    p.add_argument("--names", nargs="+", help="row labels instead of the model names from each run's config")
    p.add_argument("--paired", action="store_true", help="add each run vs the first on the same held-out images: "
                   "errors fixed / made and the exact McNemar p-value")
    p.set_defaults(func=_cmd_compare)


def samples_for(args: argparse.Namespace) -> tuple[Any, list]:
    """The dataset and the samples to evaluate (all, or one split part)."""
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.splits import load_splits, select

    ds = load_dataset(args.data)
    if not args.split:
        return ds, ds.samples
    splits_path = args.splits or Path(args.model) / "splits.json"
    if not splits_path.exists():
        raise TumorscopeError("--split needs a splits.json (pass --splits)", splits_path)
    splits = load_splits(splits_path)
    if args.fold >= len(splits):
        raise TumorscopeError(f"fold {args.fold} not in file ({len(splits)} fold(s))", splits_path)
    return ds, select(ds, splits[args.fold], args.split)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tumorscope.bundle import load_bundle

    bundle = load_bundle(args.model)
    ds, samples = samples_for(args)
    if not samples:
        raise TumorscopeError("nothing to evaluate: no samples selected", args.data)
    if bundle.task == "segmentation":
        metrics = evaluate_segmentation_bundle(bundle, samples, args)
    else:
        from tumorscope.evaluate.classification import evaluate_classification_bundle

        metrics = evaluate_classification_bundle(bundle, samples, args.out, n_boot=args.boot, tta=args.tta)
    metrics.update({"model": bundle.name, "data": str(args.data), "split": args.split})
    write_json(args.out / "metrics.json", metrics)
    print(format_metrics(metrics))
    print(f"written: {args.out / 'metrics.json'}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from tumorscope.evaluate.compare import write_comparison

    print(write_comparison(args.runs, args.out, args.names, args.paired), end="")
    if args.out:
        print(f"written: {args.out}")
    return 0


def evaluate_segmentation_bundle(bundle: Any, samples: list, args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    from tumorscope.data.volumes import load_stacks
    from tumorscope.evaluate.segmentation import evaluate_stacks, summarize
    from tumorscope.predict.volumetric import SlidingWindow

    post = bundle.postprocess
    if args.tta is not None:
        post = replace(post, tta=args.tta)
    if args.min_size is not None:
        post = replace(post, min_size=args.min_size)
    stacks = load_stacks(samples)
    for s in stacks:
        s.require_masks()
    window = SlidingWindow.for_bundle(bundle.config) if "volumetric" in bundle.config else None
    metrics = summarize(evaluate_stacks(bundle.model, bundle.preprocessor, post, stacks, window=window), n_boot=args.boot)
    metrics["postprocessing"] = post.to_dict()
    args.out.mkdir(parents=True, exist_ok=True)
    write_per_patient_csv(metrics["per_patient"], args.out / "per_patient.csv")
    return metrics


def write_per_patient_csv(rows: list[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def format_metrics(m: dict[str, Any]) -> str:
    """A short human summary of metrics.json."""
    def ci(key: str) -> str:
        v = m.get(key)
        return f" [{v[0]:.3f}, {v[1]:.3f}]" if isinstance(v, list) and len(v) == 2 else ""

    if m.get("task") == "segmentation":
        lines = [
            f"patients: {m['n_patients']}  slices: {m['n_slices']}",
            f"Dice (per patient): mean {m['dice_mean']:.3f}{ci('dice_ci95')}  median {m['dice_median']:.3f}",
            f"IoU mean {m['iou_mean']:.3f}   HD95 mean {m['hd95_mean_mm']:.2f}",
            f"slice tumor presence: sensitivity {m['slice_sensitivity']:.3f}{ci('slice_sensitivity_ci95')}  "
            f"specificity {m['slice_specificity']:.3f}{ci('slice_specificity_ci95')}  AUC {m['slice_auc']:.3f}",
            f"false-positive slices: {m['false_positive_slices']} of {m['tumor_free_slices']} tumor-free",
        ]
        return "\n".join(lines)
    keys = ("accuracy", "balanced_accuracy", "auc_macro", "sensitivity_macro", "specificity_macro", "f1_macro")
    ci95 = m.get("ci95", {})
    return "\n".join(
        f"{k:>18}: {m[k]:.3f}" + (f" [{ci95[k][0]:.3f}, {ci95[k][1]:.3f}]" if k in ci95 else "") for k in keys if k in m
    )

