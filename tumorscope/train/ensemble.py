"""Combine trained runs into one ensemble bundle (``tumorscope ensemble``): the members' mean probability.

The runs must share their split (same validation and test patients/groups, as runs of one CV fold do, or runs
trained with ``--splits`` of another run). For segmentation the ensemble's post-processing (threshold,
small-component removal, flip TTA) is chosen on the validation patients; a test part, when the runs have one,
is then scored into ``test_metrics.json`` so ``tumorscope ensemble --cv`` pools held-out results exactly as
``tumorscope cv`` does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from tumorscope.atomic import write_json
from tumorscope.bundle import Bundle, load_bundle, save_bundle
from tumorscope.bundle.bundle import as_stored
from tumorscope.data.dataset import load_dataset
from tumorscope.data.dedup import training_dedup
from tumorscope.data.splits import load_splits, save_splits, select
from tumorscope.data.volumes import load_stacks
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.classification import evaluate_classification_bundle
from tumorscope.evaluate.folds import summarize_folds
from tumorscope.evaluate.segmentation import evaluate_stacks, summarize
from tumorscope.models.ensemble import ProbabilityEnsemble
from tumorscope.predict.reference import split_reference
from tumorscope.preprocess.channels import KAGGLE3M_FLAIR
from tumorscope.preprocess.pipeline import Preprocessor
from tumorscope.report.figures import write_classification_figures
from tumorscope.train.brats_bundle import brats_fold_ensemble, is_brats_bundle
from tumorscope.train.classification import load_images
from tumorscope.train.postprocess_search import tune_postprocess
from tumorscope.train.selection import calibrate, choose_tta, validation_views

log = logging.getLogger(__name__)

SHARED_PREPROCESSING = ("normalization", "enhancement", "size", "context", "crop")


def member_channels(ensemble_mode: str, member_mode: str, n: int) -> list[int]:
    """Which channels of the ensemble's input a member reads."""
    if member_mode == ensemble_mode:
        return list(range(n))
    if ensemble_mode == "mri3" and member_mode == "flair":
        return [KAGGLE3M_FLAIR]
    raise TumorscopeError(f"cannot ensemble a {member_mode!r}-input model with {ensemble_mode!r}-input models "
                          "(supported: equal channel modes, or flair with mri3)")


def ensemble_preprocessor(bundles: list[Bundle]) -> Preprocessor:
    """The members' common preprocessing, with the widest channel mode (mri3 when any member reads it) and, for
    classifiers, the largest member's input size (each smaller member resizes the batch to its own)."""
    pres = [b.preprocessor.to_dict() for b in bundles]
    resizable = bundles[0].task == "classification"
    for b, p in zip(bundles[1:], pres[1:]):
        diff = [k for k in SHARED_PREPROCESSING if p.get(k) != pres[0].get(k) and not (k == "size" and resizable)]
        if diff:
            raise TumorscopeError(f"preprocessing differs from {bundles[0].path} in {', '.join(diff)}", b.path)
    modes = {p["channels"] for p in pres}
    mode = "mri3" if "mri3" in modes else pres[0]["channels"]
    base = next(p for p in pres if p["channels"] == mode)
    largest = max((p["size"] for p in pres), key=lambda hw: hw[0] * hw[1])
    return Preprocessor.from_dict({**base, "size": largest})


def ensemble_runs(runs: list[Path], out: Path, data: str | Path | None = None, calibrate_t: bool = False,
                  weights_dtype: str = "float32", tta: bool | None = None) -> dict[str, Any]:
    """Write ``out/bundle`` (one network: the members' mean probability); for segmentation the post-processing
    is chosen on the shared validation patients, for classification mirror TTA (unless ``tta`` sets it; and with
    ``calibrate_t`` a softmax temperature). Score the shared test part when there is one. ``weights_dtype`` stores the weights
    as float16 / int8: they are rounded so before any choice or score, so the scores are the stored model's."""
    if len(runs) < 2:
        raise TumorscopeError("an ensemble needs at least two runs")
    bundles = [load_bundle(r) for r in runs]
    if is_brats_bundle(bundles[0]):  # the folds of a BraTS CV (nnU-Net's ensemble): no common split needed
        return brats_fold_ensemble(bundles, out, weights_dtype, tta=tta)
    task = bundles[0].task
    if tta is not None and task != "classification":
        raise TumorscopeError("--tta (mirror test-time augmentation) is a classification option", runs[0])
    for b in bundles:
        if b.config["model"]["name"] == "ensemble":
            raise TumorscopeError("is already an ensemble: list its member runs instead", b.path)
        if b.task != task or b.classes != bundles[0].classes:
            raise TumorscopeError(f"task/classes differ from {bundles[0].path}", b.path)
    splits = [load_splits(r / "splits.json")[0] for r in runs]
    split = splits[0]
    for r, other in zip(runs[1:], splits[1:]):
        if any(sorted(other.groups.get(p, ())) != sorted(split.groups.get(p, ())) for p in ("val", "test")):
            raise TumorscopeError(f"its validation/test patients differ from {runs[0]}: ensembles need one split", r)
    pre = ensemble_preprocessor(bundles)
    specs = []
    for b in bundles:
        m = b.config["model"]
        chans = member_channels(pre.channels, b.preprocessor.channels, m["in_channels"])
        spec = {"name": m["name"], "in_channels": m["in_channels"], "options": m.get("options", {}), "channels": chans}
        if tuple(b.preprocessor.size) != tuple(pre.size):
            spec["size"] = list(b.preprocessor.size)
        specs.append(spec)
    n_in = next(b.config["model"]["in_channels"] for b in bundles if b.preprocessor.channels == pre.channels)
    k = bundles[0].config["model"]["out_channels"]
    model = ProbabilityEnsemble([b.model for b in bundles], [s["channels"] for s in specs], out_channels=k,
                                sizes=[s.get("size") for s in specs])
    as_stored(model, weights_dtype).eval()
    members_training = [b.config.get("training", {}) for b in bundles]
    ds = load_dataset(data or members_training[0]["config"]["data"])
    if task == "classification" and members_training[0]["config"].get("dedup", True):
        ds = training_dedup(ds).dataset  # the dataset the members' split was made on
    out.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "name": out.name,
        "task": task,
        "classes": bundles[0].classes,
        "model": {"name": "ensemble", "in_channels": n_in, "out_channels": k, "options": {"members": specs}},
        "preprocessing": pre.to_dict(),
        "training": {"ensemble_of": [str(r) for r in runs], "members": members_training},
    }
    summary: dict[str, Any] = {
        "members": [str(r) for r in runs],
        "train_seconds": float(sum(t.get("train_seconds", 0.0) for t in members_training)),
    }
    test_samples = select(ds, split, "test")
    if task == "segmentation":
        val = load_stacks(select(ds, split, "val"), desc="reading val")
        post = tune_postprocess(model, pre, val, bf16=True, run=out)
        config["postprocessing"] = summary["postprocessing"] = post.to_dict()
        reference = split_reference(Bundle(out / "bundle", config, model), val, [], ds.root)
        save_bundle(out / "bundle", model, config, weights_dtype=weights_dtype, reference=reference)
        write_json(out / "val_metrics.json", summarize(evaluate_stacks(model, pre, post, val, show_progress=False)))
        if test_samples:
            test = summarize(evaluate_stacks(model, pre, post, load_stacks(test_samples, desc="reading test")))
            write_json(out / "test_metrics.json", test)
            summary["test_dice_mean"] = test["dice_mean"]
    else:
        phashes = [h for b in bundles for h in (b.config.get("training_fingerprints") or {}).get("phash", [])]
        seen = bundles[0].config.get("training_fingerprints") or {}
        config["training_fingerprints"] = {**seen, "phash": sorted(set(phashes))}
        val_samples = select(ds, split, "val")
        if tta is not None:  # set by the caller (e.g. members trained without a validation part)
            config["inference"] = {"tta": tta}
            summary["tta_set"] = tta
        if val_samples and (tta is None or calibrate_t):
            images = load_images(val_samples, pre, bundles[0].classes, desc="reading val")
            views = validation_views(model, images)  # read and predicted once for both choices
            if tta is None:  # mirror TTA on or off, chosen on the shared validation images as segmentation's post-processing
                search = choose_tta(views, images.y)
                config["inference"] = {"tta": search["tta"]}
                summary["tta_search"] = search
            if calibrate_t:
                summary["calibration"] = calibrate(views if config["inference"]["tta"] else views[:1], images.y)
                model.temperature = summary["calibration"]["temperature"]  # after the TTA choice: it cannot change it
                config["model"]["options"]["temperature"] = model.temperature
        reference = split_reference(Bundle(out / "bundle", config, model), val_samples, select(ds, split, "train"),
                                    ds.root)
        save_bundle(out / "bundle", model, config, weights_dtype=weights_dtype, reference=reference)
        if test_samples:
            report = evaluate_classification_bundle(load_bundle(out / "bundle"), test_samples, n_boot=1000)
            report.extra["figures"] = write_classification_figures(report, out / "test_eval")
            test = report.to_json()
            write_json(out / "test_metrics.json", test)
            summary.update({f"test_{m}": test[m] for m in ("n", "accuracy", "balanced_accuracy", "auc_macro")})
    save_splits(out / "splits.json", split)
    write_json(out / "train_summary.json", summary)
    log.info("ensemble of %d runs written to %s", len(runs), out / "bundle")
    return summary


def ensemble_cv(cv_dirs: list[Path], out: Path, data: str | Path | None = None,
                calibrate_t: bool = False, weights_dtype: str = "float32", tta: bool | None = None) -> dict[str, Any]:
    """One ensemble per fold that every CV folder has finished, then the pooled CV summary."""
    configs = [json.loads((d / "cv_config.json").read_text()) if (d / "cv_config.json").exists() else None
               for d in cv_dirs]
    ks = {c["folds"] for c in configs if c}
    if len(ks) != 1:
        raise TumorscopeError(f"the CV folders need one common fold count (cv_config.json), found {sorted(ks)}")
    k = ks.pop()
    done = [i for i in range(k) if all((d / f"fold{i}" / "test_metrics.json").exists() for d in cv_dirs)]
    if not done:
        raise TumorscopeError("no fold is finished in every CV folder", cv_dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    task = next(c["task"] for c in configs if c)
    write_json(out / "cv_config.json", {"task": task, "folds": k, "ensemble_of": [str(d) for d in cv_dirs]})
    for i in done:
        if not (out / f"fold{i}" / "test_metrics.json").exists():
            ensemble_runs([d / f"fold{i}" for d in cv_dirs], out / f"fold{i}", data, calibrate_t, weights_dtype, tta)
    summary = summarize_folds(out, k)
    write_json(out / "cv_summary.json", summary)
    return summary
