"""Re-choose a finished segmentation run's post-processing on ITS OWN validation patients, then re-score its test
patients with it (no retraining; the run's splits.json decides who is validation and who is test).

Used for runs trained before the post-processing search covered the threshold and flip TTA.
Usage: python scripts/retune_postprocess.py runs/lgg_cv_flair/fold0 [more run folders]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tumorscope.atomic import write_json
from tumorscope.bundle import load_bundle
from tumorscope.data.volumes import load_stacks
from tumorscope.evaluate.segmentation import evaluate_stacks, summarize
from tumorscope.train.config import TrainConfig
from tumorscope.train.data_split import split_for_run
from tumorscope.train.segmentation import tune_postprocess


def retune(run: Path) -> None:
    cfg = TrainConfig.load(run / "config.json")
    bundle = load_bundle(run)
    parts = split_for_run(cfg, run)
    post = tune_postprocess(bundle.model, bundle.preprocessor, load_stacks(parts["val"]), cfg.bf16, run)
    config = json.loads((bundle.path / "config.json").read_text())
    config["postprocessing"] = post.to_dict()
    write_json(bundle.path / "config.json", config)
    summary = json.loads((run / "train_summary.json").read_text())
    summary["postprocessing"] = post.to_dict()
    if parts["test"]:
        test = summarize(evaluate_stacks(bundle.model, bundle.preprocessor, post, load_stacks(parts["test"])))
        write_json(run / "test_metrics.json", test)
        summary["test_dice_mean"] = test["dice_mean"]
    write_json(run / "train_summary.json", summary)
    print(f"{run}: {post}  test Dice {summary.get('test_dice_mean')}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        retune(Path(arg))
