"""The end of a BraTS fold: choose the post-processing on the validation cases, predict the held-out cases on
their original grid in BraTS labels (``predictions/``) and score them as ``tumorscope evaluate`` does
(``test_metrics.json``). ``python -m tumorscope.train.brats_fold CV_DIR [--tta]`` redoes this for every finished
fold of a CV from its saved bundle (e.g. after a post-processing rule was added), without retraining."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import write_json
from tumorscope.data.brats import REGIONS, encode_regions
from tumorscope.data.brats_cases import Case, read_labels
from tumorscope.data.brats_volumes import PreparedCase, prepare_case
from tumorscope.data.dataset import load_dataset
from tumorscope.data.sample import Sample
from tumorscope.data.splits import load_splits, select
from tumorscope.evaluate.brats_eval import brats_report, score_predictions
from tumorscope.predict.brats_plan import BratsPlan
from tumorscope.predict.brats_regions import RegionPost, plan_probabilities, to_original
from tumorscope.predict.brats_write import write_label_map
from tumorscope.predict.volumetric import SlidingWindow
from tumorscope.progress import progress
from tumorscope.train.brats_post import choose_region_post


class FoldPredictor:
    """A fold's model with its plan and window: original-grid probabilities of a case."""

    def __init__(self, model: Any, plan: BratsPlan, window: SlidingWindow, bf16: bool = True, tta: bool = False):
        self.model, self.plan, self.window, self.bf16, self.tta = model, plan, window, bf16, tta

    def probs(self, case: Case | PreparedCase) -> np.ndarray:
        prepared = case if isinstance(case, PreparedCase) else prepare_case(case, self.plan.spacing)
        return to_original(plan_probabilities(self.model, prepared, self.window, self.bf16, self.tta), prepared)


def choose_post(predictor: FoldPredictor, val: list[Case]) -> tuple[RegionPost, dict[str, Any]]:
    """The post-processing chosen on the validation cases (their probabilities on the original grid)."""
    probs = [predictor.probs(c) for c in progress(val, desc="validation cases")]
    truths = [encode_regions(read_labels(c.seg)[0], c.scheme) for c in val if c.seg is not None]
    return choose_region_post(probs, truths)


def predict_test(predictor: FoldPredictor, post: RegionPost, test: list[Sample], run_dir: Path,
                 layout: str = "brats") -> dict[str, Any]:
    """Write ``run_dir/predictions/<case>.nii.gz`` and ``test_metrics.json``; the report as JSON."""
    folder = run_dir / "predictions"
    for sample in progress(test, desc="held-out cases"):
        case = Case.of(sample)
        write_label_map(predictor.probs(case), post, case, folder / f"{case.id}.nii.gz")
    report = brats_report(score_predictions(test, layout, folder)).to_json() | {"task": "brats"}
    write_json(run_dir / "test_metrics.json", report)
    return report


def test_dice(report: dict[str, Any]) -> dict[str, float]:
    return {f"test_{r}_dice_mean": report["regions"][r]["dice_mean"] for r in REGIONS}


def update_bundle_post(bundle_dir: Path, post: RegionPost, choice: dict[str, Any]) -> None:
    """Record a newly chosen post-processing in a fold bundle's config.json (the weights are untouched)."""
    config = json.loads((bundle_dir / "config.json").read_text())
    config["brats"]["postprocessing"] = post.to_dict()
    config.setdefault("training", {})["postprocessing_search"] = choice
    write_json(bundle_dir / "config.json", config)


def redo_cv(cv_dir: Path, tta: bool = False, folds: list[int] | None = None) -> None:
    """Choose the post-processing and predict the held-out cases again for every fold with a bundle (or the
    ``folds`` listed)."""
    from tumorscope.bundle import load_bundle

    config = json.loads((cv_dir / "cv_config.json").read_text())
    ds = load_dataset(config["data"])
    for fold in sorted(p for p in cv_dir.glob("fold*") if (p / "bundle" / "config.json").exists()):
        if folds is not None and int(fold.name[4:]) not in folds:
            continue
        bundle = load_bundle(fold / "bundle")
        brats = bundle.config["brats"]
        predictor = FoldPredictor(bundle.model, BratsPlan.from_dict(brats["plan"]),
                                  SlidingWindow.from_dict(bundle.config["volumetric"]), config.get("bf16", True), tta)
        split = load_splits(fold / "splits.json")[0]
        post, choice = choose_post(predictor, [Case.of(s) for s in select(ds, split, "val")])
        update_bundle_post(fold / "bundle", post, choice)
        report = predict_test(predictor, post, select(ds, split, "test"), fold, ds.layout)
        summary = json.loads((fold / "train_summary.json").read_text())
        summary |= {"postprocessing": post.to_dict(), "postprocessing_search": choice, "tta": tta, **test_dice(report)}
        write_json(fold / "train_summary.json", summary)
        print(fold.name, post.to_dict(), {k: round(v, 3) for k, v in test_dice(report).items()})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tumorscope.train.brats_fold", description=__doc__)
    parser.add_argument("cv_dir", type=Path)
    parser.add_argument("--tta", action="store_true", help="add the left-right mirrored pass")
    parser.add_argument("--folds", type=int, nargs="+", help="only these folds (default: every fold with a bundle)")
    args = parser.parse_args(argv)
    redo_cv(args.cv_dir, args.tta, args.folds)


if __name__ == "__main__":
    main()
