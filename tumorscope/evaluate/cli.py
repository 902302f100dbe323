"""``tumorscope evaluate``: score a bundle on a dataset (or one part of a splits.json)."""

from __future__ import annotations

import argparse
import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tumorscope.atomic import atomic_path
from tumorscope.errors import TumorscopeError, printable
from tumorscope.results import Estimate, MetricsReport

_EPILOG = """\
examples:
  tumorscope evaluate --model lgg-flair-seg --data ../shared/data/lgg_mri_segmentation --out eval/
  tumorscope evaluate --model runs/lgg --data DIR --split test --splits runs/lgg/splits.json --out eval/
  tumorscope evaluate --predictions preds/ --data ../shared/data/brats2018 --out eval/   # BraTS label maps
  tumorscope evaluate --model lgg-flair-seg --data ../shared/data/brats2018 --modalities flair --region WT --out eval/

Segmentation writes metrics.json (per-patient volumetric Dice/IoU/HD95 with 95% bootstrap CIs over
patients, slice-level tumor-presence sensitivity/specificity/AUC) and per_patient.csv.
Classification writes metrics.json (accuracy, balanced accuracy, macro AUC/sensitivity/specificity/
precision/F1 with CIs, per-class metrics, confusion matrix) and ROC/confusion/calibration plots.
BraTS (--predictions: a folder of <case>.nii.gz label maps, --data: a BraTS dataset) writes metrics.json with
regions -> WT/TC/ET -> Dice, HD95, lesion-wise Dice/HD95/sensitivity/false positives and volumes (mL) with CIs
over cases, per_case, and per_case.csv (conventions: docs/brats.md). --model on a BraTS dataset runs the model on
each case (--modalities as its input channels) and scores its outputs as the regions --region names."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="score a model on a dataset with bootstrap confidence intervals",
        description="Evaluate a bundle (zoo name, bundle folder or run folder) on every sample of DIR, or on one "
        "part of a splits.json.", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="bundled model name, bundle folder or training run folder")
    source.add_argument("--predictions", type=Path, metavar="PRED_DIR",
                        help="BraTS: score these predicted label maps (<case>.nii.gz) instead of running a model")
    p.add_argument("--data", required=True, type=Path, metavar="DIR")
    p.add_argument("--out", required=True, type=Path, metavar="OUT_DIR")
    p.add_argument("--split", choices=("train", "val", "test"), help="evaluate only this part of --splits")
    p.add_argument("--splits", type=Path, metavar="JSON", help="splits.json (default: the run folder's)")
    p.add_argument("--fold", type=int, default=0, help="which fold of a k-fold splits.json")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="flip test-time augmentation on/off (default: the bundle's own setting)")
    p.add_argument("--min-size", type=int, help="segmentation: override the bundle's small-component removal")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples for the CIs")
    p.add_argument("--modalities", nargs="+", metavar="MODALITY", help="BraTS --model: the modalities fed as the "
                   "input channels, in order (default: the bundle's, or flair t1 t1ce t2 for 4 channels)")
    p.add_argument("--region", nargs="+", metavar="REGION", help="BraTS --model: the region (WT, TC, ET) each "
                   "output channel is scored as (default: the bundle's, or WT TC ET for 3 outputs)")
    p.set_defaults(func=run_evaluate)

    p = sub.add_parser(
        "compare", help="one Markdown table of results across runs, with paired significance tests",
        description="Compare classification or segmentation runs: CV folders (pooled held-out metrics + mean +- sd "
        "over folds), training runs with a test fold, or evaluation folders. Classification columns: Model | "
        "Training | Accuracy | Precision | Recall | F1 | AUC; segmentation: Dice | IoU | HD95; 95% bootstrap CIs.",
        epilog="examples:\n  tumorscope compare runs/busi_cnn_cv runs/busi_resnet18_cv runs/busi_transfer_cv -o table.md"
        "\n  tumorscope compare --tests runs/busi_cnn_cv runs/busi_transfer_cv -o table.md --json table.json"
        "\n  tumorscope compare --tests --presence runs/lgg_svm_cv runs/lgg_unet_cv   # U-Net's slice decisions"
        "\n\nStatistical tests: docs/comparison.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("-o", "--out", type=Path, help="write the table to this Markdown file")
    p.add_argument("--names", nargs="+", help="row labels instead of the model names from each run's config")
    p.add_argument("--paired", action="store_true", help="add each run vs the first on the same held-out images: "
                   "errors fixed / made and the exact McNemar p-value")
    p.add_argument("--tests", action="store_true", help="add every pair's significance tests on the items both "
                   "held out (paired by image / patient id): B - A with paired-bootstrap 95%% CIs, DeLong p (AUC), "
                   "McNemar p (accuracy), Wilcoxon p (per-patient Dice/IoU/HD95), Holm-adjusted p; runs that share "
                   "no held-out item are refused")
    p.add_argument("--json", type=Path, metavar="JSON", help="also write the table and the tests as JSON "
                   "(for the report)")
    p.add_argument("--boot", type=int, default=1000, help="--tests: paired bootstrap resamples for the CIs")
    p.add_argument("--presence", action="store_true", help="score segmentation runs of a slice dataset (kaggle_3m) "
                   "as tumor-presence classifiers of their slices (tumor = non-empty post-processed mask), so they "
                   "sit in one table and pair with slice classifiers")
    p.set_defaults(func=_cmd_compare)


def samples_for(args: argparse.Namespace) -> tuple[Any, list]:
    """The dataset and the samples to evaluate (all, or one split part)."""
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.splits import load_splits, select

    ds = load_dataset(args.data)
    if not args.split:
        return ds, ds.samples
    if args.splits is None and getattr(args, "model", None) is None:
        raise TumorscopeError("--split needs --splits JSON when scoring --predictions")
    splits_path = args.splits or Path(args.model) / "splits.json"
    if not splits_path.exists():
        raise TumorscopeError("--split needs a splits.json (pass --splits)", splits_path)
    splits = load_splits(splits_path)
    if args.fold >= len(splits):
        raise TumorscopeError(f"fold {args.fold} not in file ({len(splits)} fold(s))", splits_path)
    return ds, select(ds, splits[args.fold], args.split)


def evaluate(args: argparse.Namespace) -> MetricsReport:
    """The metrics report of ``args.model`` on the selected samples (nothing written)."""
    from tumorscope.bundle import load_bundle

    bundle = load_bundle(args.model)
    ds, samples = samples_for(args)
    if not samples:
        raise TumorscopeError("nothing to evaluate: no samples selected", args.data)
    if bundle.task == "segmentation":
        report = evaluate_segmentation_bundle(bundle, samples, args)
    else:
        from tumorscope.evaluate.classification import evaluate_classification_bundle

        report = evaluate_classification_bundle(bundle, samples, n_boot=args.boot, tta=args.tta)
    report.extra.update({"model": bundle.name, "data": str(args.data), "split": args.split})
    return report


def run_evaluate(args: argparse.Namespace, figures: Callable[[MetricsReport, Path], list[str]] | None = None,
                 score: Callable[[argparse.Namespace], MetricsReport] | None = None) -> int:
    """``tumorscope evaluate``: metrics.json (+ per_patient.csv) in --out, and the PNGs ``figures`` draws there
    (the top-level CLI passes the report stage's; this stage alone writes no figures). ``score`` replaces
    :func:`evaluate` (the top-level CLI's runs classical bundles, whose stage sits above this one)."""
    if getattr(args, "predictions", None) is not None:  # callers that build args by hand may leave it out
        return _run_predictions(args)
    from tumorscope.data.brats_cases import BRATS_LAYOUTS
    from tumorscope.data.dataset import detect_layout

    if detect_layout(args.data) in BRATS_LAYOUTS:
        return _run_brats_model(args)
    report = (score or evaluate)(args)
    args.out.mkdir(parents=True, exist_ok=True)
    if report.task == "segmentation":
        write_per_patient_csv(report.per_case, args.out / "per_patient.csv")
    if figures is not None and (names := figures(report, args.out)):
        report.extra["figures"] = names
    report.write(args.out / "metrics.json")
    print(format_metrics(report))
    print(f"written: {args.out / 'metrics.json'}")
    return 0


def _run_predictions(args: argparse.Namespace) -> int:
    """``--predictions``: BraTS scores of a folder of label maps (metrics.json + per_case.csv)."""
    from tumorscope.evaluate.brats_eval import brats_report, score_predictions

    ds, samples = samples_for(args)
    report = brats_report(score_predictions(samples, ds.layout, args.predictions), n_boot=args.boot)
    report.extra.update({"predictions": str(args.predictions), "data": str(args.data), "split": args.split})
    return _write_brats(report, args)


def _run_brats_model(args: argparse.Namespace) -> int:
    """``--model`` on a BraTS dataset: run the model on every case, score its outputs as BraTS regions."""
    from tumorscope.bundle import load_bundle
    from tumorscope.evaluate.brats_eval import brats_report
    from tumorscope.evaluate.brats_model import input_modalities, output_regions, score_bundle

    bundle = load_bundle(args.model)
    if bundle.task != "segmentation":
        raise TumorscopeError(f"{bundle.name} is a {bundle.task} model; a BraTS dataset scores segmentation")
    modalities = input_modalities(bundle.config, getattr(args, "modalities", None))
    regions = output_regions(bundle.config, getattr(args, "region", None))
    post = _postprocess(bundle, args)
    ds, samples = samples_for(args)
    report = brats_report(score_bundle(bundle, samples, ds.layout, modalities, regions, post), n_boot=args.boot,
                          regions=regions)
    report.extra.update({"model": bundle.name, "data": str(args.data), "split": args.split,
                         "modalities": list(modalities), "output_regions": list(regions),
                         "postprocessing": post.to_dict(), "runtime": bundle.runtime_name})
    return _write_brats(report, args)


def _write_brats(report: MetricsReport, args: argparse.Namespace) -> int:
    from tumorscope.evaluate.brats_eval import format_brats_metrics

    args.out.mkdir(parents=True, exist_ok=True)
    write_per_patient_csv(report.per_case, args.out / "per_case.csv")
    report.write(args.out / "metrics.json")
    print(format_brats_metrics(report))
    print(f"written: {args.out / 'metrics.json'}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from tumorscope.evaluate.compare import write_comparison

    print(write_comparison(args.runs, args.out, args.names, args.paired, tests=args.tests, json_out=args.json,
                           n_boot=args.boot, presence=args.presence), end="")
    for written in (args.out, args.json):
        if written:
            print(f"written: {written}")
    return 0


def _postprocess(bundle: Any, args: argparse.Namespace) -> Any:
    """The bundle's post-processing with the --tta / --min-size overrides."""
    from dataclasses import replace

    post = bundle.postprocess
    if args.tta is not None:
        post = replace(post, tta=args.tta)
    if args.min_size is not None:
        post = replace(post, min_size=args.min_size)
    return post


def evaluate_segmentation_bundle(bundle: Any, samples: list, args: argparse.Namespace) -> MetricsReport:
    from tumorscope.data.volumes import load_stacks
    from tumorscope.evaluate.segmentation import evaluate_stacks, segmentation_report
    from tumorscope.predict.volumetric import SlidingWindow

    post = _postprocess(bundle, args)
    stacks = load_stacks(samples)
    for s in stacks:
        s.require_masks()
    window = SlidingWindow.for_bundle(bundle.config) if "volumetric" in bundle.config else None
    report = segmentation_report(evaluate_stacks(bundle.model, bundle.preprocessor, post, stacks, window=window),
                                 n_boot=args.boot)
    report.extra["postprocessing"] = post.to_dict()
    return report


def write_per_patient_csv(rows: list[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(printable(buf.getvalue()), encoding="utf-8")  # names may hold non-UTF-8 bytes


def format_metrics(m: MetricsReport | dict[str, Any]) -> str:
    """A short human summary of a metrics report (or its metrics.json body)."""
    r = m if isinstance(m, MetricsReport) else MetricsReport.from_json(m)

    def est(key: str) -> str:
        e = r.estimate(key)
        return "n/a" if e is None else e.format()

    def num(key: str, digits: int = 3) -> str:
        return Estimate(r.value(key)).format(digits)

    if r.task == "segmentation":
        c = r.counts
        lines = [
            f"patients: {c.get('n_patients')}  slices: {c.get('n_slices')}",
            f"Dice (per patient): mean {est('dice_mean')}  median {num('dice_median')}",
            f"IoU mean {num('iou_mean')}   HD95 mean {num('hd95_mean_mm', 2)}",
            f"slice tumor presence: sensitivity {est('slice_sensitivity')}  "
            f"specificity {est('slice_specificity')}  AUC {num('slice_auc')}",
            f"false-positive slices: {c.get('false_positive_slices')} of {c.get('tumor_free_slices')} tumor-free",
        ]
        return "\n".join(lines)
    keys = ("accuracy", "balanced_accuracy", "auc_macro", "sensitivity_macro", "specificity_macro", "f1_macro",
            "auc", "sensitivity", "specificity")  # the last three: a classical bundle's positive class (tumor)
    return "\n".join(f"{k:>18}: {est(k)}" for k in keys if r.estimate(k) is not None)
