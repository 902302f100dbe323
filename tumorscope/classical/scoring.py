"""Running a classical bundle: features of every slice (image, volume) of a dataset or patient folder extracted
with the bundle's recorded settings, then the fitted pipeline's probabilities; scored with CIs over patients
(``tumorscope evaluate``) or written per slice (``tumorscope predict``: predictions.csv + summary.json)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.bundle import Bundle
from tumorscope.classical.rows import (
    LABEL_TARGET,
    Rows,
    extract_rows,
    patient_targets,
    to_rows,
    with_image_paths,
)
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.classification import binary_estimates, classification_report, prediction_rows
from tumorscope.predict.outputs import write_table_and_summary
from tumorscope.results import MetricsReport

log = logging.getLogger(__name__)


def bundle_rows(bundle: Bundle, samples: list[Sample], data_root: Path | None = None, jobs: int = 0) -> Rows:
    """The bundle's feature rows of ``samples`` (extracted as when it was trained), with their labels."""
    spec = bundle.config["classical"]
    target = spec["target"]
    targets = patient_targets(data_root, target) if target != LABEL_TARGET and data_root is not None else None
    records = extract_rows(samples, spec["features"], jobs)
    rows = to_rows(records, spec["features"]["roi"], spec["columns"], target, targets,
                   relative=spec["features"].get("patient_relative", False))
    return with_image_paths(rows, samples)


def fitted_classes(pipeline: Any, classes: Sequence[str]) -> list[str]:
    """The class names in the order of a fitted pipeline's ``classes_``: integer codes (indices into ``classes``,
    how pipelines are fitted since scikit-learn's balanced class weights fail on numeric-looking string labels
    such as grade "1"/"2") or, in bundles fitted before, the names themselves."""
    return [classes[int(k)] if isinstance(k, int | np.integer) else str(k) for k in pipeline.classes_]


def probabilities(bundle: Bundle, rows: Rows) -> np.ndarray:
    """(N, K) class probabilities in the order of ``bundle.classes``."""
    pipe = bundle.pipeline
    fitted = fitted_classes(pipe, bundle.classes)
    order = [fitted.index(c) for c in bundle.classes]
    return np.asarray(pipe.predict_proba(rows.X))[:, order]


def score_rows(bundle: Bundle, rows: Rows, n_boot: int = 2000) -> MetricsReport:
    """The classification report of ``rows`` (labelled), plus sensitivity/specificity/AUC of the positive class
    (``classical.positive``, e.g. tumor) with CIs over patients; ``per_case``: one prediction per row."""
    classes = bundle.classes
    known = np.array([t is not None for t in rows.y])
    if not known.any():
        raise TumorscopeError("no labelled slices/images to score (labels come from the masks or --target)")
    rows = rows.take(known)
    unknown = sorted({t for t in rows.y} - set(classes), key=str)
    if unknown:
        raise TumorscopeError(f"labels {unknown} are not classes of model {bundle.name!r} ({', '.join(classes)})")
    y = np.array([classes.index(str(t)) for t in rows.y])
    probs = probabilities(bundle, rows)
    report = classification_report(y, probs, classes, rows.groups, n_boot=n_boot)
    positive = bundle.config["classical"].get("positive")
    if positive in classes:
        k = classes.index(positive)
        report.metrics.update(binary_estimates(y, probs, k, rows.groups, n_boot=n_boot))
        report.metrics["auc"] = report.metrics["auc_macro"]  # two classes: the positive class's AUC
        report.extra["positive_class"] = positive
    report.extra["roi_status"] = {s: sum(1 for i in rows.ids if i.get("roi_status") == s)
                                  for s in sorted({str(i.get("roi_status")) for i in rows.ids})}
    report.per_case = prediction_rows([_row_name(i) for i in rows.ids], rows.groups, [None] * len(y), y, probs, classes)
    return report


def _row_name(ids: dict[str, Any]) -> str:
    """A row's name in predictions: its image file (:func:`with_image_paths`), else its image id (a slice file's
    stem, or a volume's id)."""
    return str(ids.get("image") or ids.get("image_id"))


def write_predictions(bundle: Bundle, rows: Rows, out_dir: Path, input_path: Path) -> dict[str, Any]:
    """predictions.csv (one row per slice/image: ids, probabilities, predicted class) and summary.json, written
    into ``out_dir`` atomically; returns the summary."""
    classes = bundle.classes
    probs = probabilities(bundle, rows)
    positive = bundle.config["classical"].get("positive")
    table = []
    for ids, p, truth in zip(rows.ids, probs, rows.y):
        k = int(np.argmax(p))
        table.append({"patient_id": ids.get("patient_id") or "", "image_id": ids.get("image_id"),
                      "slice_index": ids.get("slice_index") if ids.get("slice_index") not in (None, "") else "",
                      "roi_status": ids.get("roi_status"), "predicted": classes[k],
                      **{f"p_{c}": round(float(v), 6) for c, v in zip(classes, p)}, "label": truth or ""})
    table.sort(key=lambda r: (str(r["patient_id"]), _index(r["slice_index"]), str(r["image_id"])))
    summary: dict[str, Any] = {"input": str(input_path), "model": bundle.name, "classes": classes,
                               "n_slices": len(table), "counts": {c: sum(r["predicted"] == c for r in table) for c in classes}}
    if positive in classes:
        p = probs[:, classes.index(positive)]
        hits = [r for r in table if r["predicted"] == positive]
        summary.update({"positive_class": positive, f"{positive}_found": bool(hits),
                        "max_probability": round(float(p.max()), 6) if len(p) else None,
                        f"slices_with_{positive}": [r["slice_index"] if r["slice_index"] != "" else r["image_id"]
                                                     for r in hits]})
    write_table_and_summary(out_dir, table, summary)
    return summary


def _index(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("inf")


def evaluate_args(args: Any) -> MetricsReport:
    """``tumorscope evaluate --model CLASSICAL_BUNDLE --data DIR [--split ...]``: every selected slice (image) scored,
    CIs over patients. Patients the bundle was fitted on are counted (``patients_seen_in_training``) and warned
    about: score held-out patients only with ``--split val|test --splits RUN/splits.json``."""
    from tumorscope.bundle import load_bundle
    from tumorscope.evaluate.cli import samples_for

    bundle = load_bundle(args.model)
    ds, samples = samples_for(args)
    if not samples:
        raise TumorscopeError("nothing to evaluate: no samples selected", args.data)
    report = score_rows(bundle, bundle_rows(bundle, samples, ds.root), n_boot=args.boot)
    seen = set(bundle.config["classical"].get("training_patients", [])) & {s.patient_id for s in samples}
    if seen:
        log.warning("%d of the evaluated patients were in model %s's training part: these scores are not held out",
                    len(seen), bundle.name)
    report.counts["patients_seen_in_training"] = len(seen)
    report.extra.update({"model": bundle.name, "data": str(args.data), "split": args.split})
    return report


def predict_folder(bundle: Bundle, input_path: Path, out_dir: Path) -> dict[str, Any]:
    """``tumorscope predict --model CLASSICAL_BUNDLE -i FOLDER -o OUT``: per-slice probabilities of a patient
    folder (or any dataset folder) into OUT/predictions.csv and OUT/summary.json."""
    from tumorscope.data.dataset import load_dataset

    if not input_path.is_dir():
        raise TumorscopeError("a classical model predicts a patient folder (its slices' features need the whole "
                              "volume's foreground); give the folder", input_path)
    ds = load_dataset(input_path)
    rows = bundle_rows(bundle, ds.samples, ds.root)
    return write_predictions(bundle, rows, out_dir, input_path)
