"""Training a classical model (``train``/``cv --task classification --model svm|rf|gbm|logreg``) into the same run
folder as a network: config.json, splits.json (the same patient-level split code), bundle/, metrics.json (the
validation patients' classification report with CIs over patients), test_metrics.json with a CV fold,
train_summary.json, importance.csv/.png (SHAP and permutation importance on the validation rows).

Features: read from ``--features TABLE`` or extracted from ``--data`` with the ROI ``--roi`` (cached atomically as
``features.csv`` in the run folder, reused when the settings match). The pipeline is fitted on the training
patients' rows only; validation and test patients are only scored.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import write_json
from tumorscope.bundle import load_bundle
from tumorscope.bundle.classical import save_classical_bundle
from tumorscope.classical.pipeline import build_pipeline, parse_hparams, parse_select, selected_columns
from tumorscope.classical.rows import (
    LABEL_TARGET,
    Rows,
    cached_rows,
    check_table,
    feature_spec,
    patient_targets,
    read_table,
    to_rows,
    with_image_paths,
)
from tumorscope.classical.scoring import fitted_classes, score_rows
from tumorscope.data.dataset import Dataset, load_dataset
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.explain.tabular import pipeline_importance, write_importances_csv
from tumorscope.options import TrainConfig, shell_join, to_argv
from tumorscope.report.figures import write_classification_figures
from tumorscope.report.plots import shap_importance_plot
from tumorscope.train.data_split import split_for_run

log = logging.getLogger(__name__)

FEATURES_FILE = "features.csv"
POSITIVE = ("tumor", "yes", "1", "true")  # the class whose sensitivity is reported, when the classes hold one


def train_classical(cfg: TrainConfig) -> dict[str, Any]:
    """Fit ``cfg``'s pipeline on the training patients, bundle it, score validation (and test) patients."""
    start = time.perf_counter()
    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)
    parse_select(cfg.select)
    hparams = parse_hparams(cfg.hparams)
    write_json(run / "config.json", cfg.to_dict())
    ds = load_dataset(cfg.data)
    parts = split_for_run(cfg, run, ds, allow_no_val=True)
    spec = feature_spec(cfg.roi, "flair" if ds.layout == "lgg_kaggle3m" else "gray", cfg.filters,
                        level="auto", patient_relative=cfg.patient_relative, target=cfg.target)
    if cfg.features:
        check_table(Path(cfg.features), spec)
    t0 = time.perf_counter()
    records = (read_table(Path(cfg.features)) if cfg.features
               else cached_rows(ds.samples, spec, run / FEATURES_FILE, jobs=cfg.threads or 0))
    extract_seconds = time.perf_counter() - t0
    targets = patient_targets(ds.root, cfg.target) if cfg.target != LABEL_TARGET else None
    rows = with_image_paths(to_rows(records, cfg.roi, None, cfg.target, targets, relative=cfg.patient_relative),
                            ds.samples)
    by_part = {p: rows.take(_in_part(rows, samples, ds)) for p, samples in parts.items()}
    by_part = {p: r.take([t is not None for t in r.y]) for p, r in by_part.items()}
    train = by_part["train"]
    classes = sorted({str(t) for r in by_part.values() for t in r.y})
    if len(set(train.y)) < 2:
        raise TumorscopeError(f"the training patients' rows hold fewer than 2 classes ({sorted(map(str, set(train.y)))})",
                              ds.root)
    pipeline = build_pipeline(cfg.model, cfg.select, hparams, cfg.seed, n_features=len(rows.columns))
    log.info("%s: fitting on %d rows of %d patients (%d features), %s", cfg.model, len(train.y),
             len(set(train.groups)), len(rows.columns), cfg.select)
    t1 = time.perf_counter()
    try:
        pipeline.fit(train.X, np.array([classes.index(str(t)) for t in train.y]))  # codes: see fitted_classes
    except ValueError as e:  # e.g. every feature constant over the training rows
        raise TumorscopeError(f"{cfg.model} could not be fitted on the {len(train.y)} training rows: {e}",
                              cfg.features or ds.root) from e
    fit_seconds = time.perf_counter() - t1
    positive = next((c for c in classes if c.lower() in POSITIVE), classes[-1] if len(classes) == 2 else None)
    config = _bundle_config(cfg, run, classes, positive, spec, rows.columns, pipeline, hparams, by_part)
    save_classical_bundle(run / "bundle", pipeline, config)
    bundle = load_bundle(run / "bundle")
    summary: dict[str, Any] = {"model": cfg.model, "select": cfg.select, "hparams": hparams, "classes": classes,
                               "n_features": len(rows.columns), "n_selected": len(config["classical"]["selected"]),
                               "extract_seconds": round(extract_seconds, 1), "fit_seconds": round(fit_seconds, 2),
                               **{f"n_{p}": len(r.y) for p, r in by_part.items()},
                               **{f"patients_{p}": len(set(r.groups)) for p, r in by_part.items()}}
    for part, name in (("val", "metrics.json"), ("test", "test_metrics.json")):
        if by_part[part].y:
            summary[part] = _score(bundle, by_part[part], run / name, run / f"{part}_eval", part)
    if by_part["val"].y:
        _importance(pipeline, by_part["val"], train, rows.columns, classes, positive, cfg.seed, run)
    summary["train_seconds"] = round(time.perf_counter() - start, 1)
    write_json(run / "train_summary.json", summary)
    return summary


def _in_part(rows: Rows, samples: list[Sample], ds: Dataset) -> list[bool]:
    """Which rows belong to ``samples`` (a split part): by patient id, else by image file name."""
    patients = {s.patient_id for s in samples if s.patient_id is not None}
    stems = {s.image.stem for s in samples}
    return [(i.get("patient_id") in patients) if i.get("patient_id") else (str(i.get("image_id")) in stems)
            for i in rows.ids]


def _bundle_config(cfg: TrainConfig, run: Path, classes: list[str], positive: str | None, spec: dict[str, Any],
                   columns: list[str], pipeline: Any, hparams: dict[str, Any], by_part: dict[str, Rows]) -> dict[str, Any]:
    return {
        "name": run.name,
        "task": "classification",
        "classes": classes,
        "model": {"name": cfg.model, "in_channels": 1, "out_channels": len(classes),
                  "options": {"select": cfg.select, "hparams": hparams}},
        "classical": {"features": spec, "columns": columns, "target": cfg.target, "positive": positive,
                      "selected": selected_columns(pipeline, columns),
                      "training_patients": sorted({str(g) for g in by_part["train"].groups if g}),
                      "steps": [f"{name}: {step!r}" for name, step in pipeline.steps]},
        "training": {"config": cfg.to_dict(), "command": "tumorscope train " + shell_join(to_argv(cfg)),
                     **{f"n_{p}": len(r.y) for p, r in by_part.items()}},
    }


def _score(bundle: Any, rows: Rows, path: Path, figures: Path, part: str) -> dict[str, Any]:
    """Score ``rows`` into ``path`` (metrics.json layout) and its figures; the headline numbers."""
    report = score_rows(bundle, rows)
    report.extra.update(model=bundle.name, split=part)
    report.extra["figures"] = write_classification_figures(report, figures)
    report.write(path)
    head = {k: report.metrics[k] for k in ("auc", "sensitivity", "specificity", "auc_macro", "balanced_accuracy")
            if k in report.metrics}
    for k, e in head.items():
        log.info("%s %s %s", part, k, e.format())
    return {k: {"value": e.value, "ci95": [e.low, e.high], "n": e.n, "unit": e.unit} for k, e in head.items()}


def _importance(pipeline: Any, val: Rows, train: Rows, columns: list[str], classes: list[str],
                positive: str | None, seed: int, run: Path) -> None:
    fitted = fitted_classes(pipeline, classes)
    y_val = np.array([fitted.index(t) for t in val.y if t in fitted])
    keep = np.array([t in fitted for t in val.y])
    explained = fitted.index(positive) if positive in fitted else len(fitted) - 1
    rows = pipeline_importance(pipeline, val.X[keep], y_val, train.X, columns, explained, seed=seed)
    write_importances_csv(rows, run / "importance.csv")
    shap_importance_plot(rows, run / "importance.png")
