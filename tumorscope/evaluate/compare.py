"""``tumorscope compare``: one Markdown table of results across runs (classification: seed 0's
"Model | Accuracy | Precision | Recall | F1 | AUC"; segmentation: per-patient Dice, IoU, HD95), generated from the
runs' own metrics files, and with ``--tests`` the paired significance tests of every pair (``compare_tests``).

Each argument is a CV folder (``cv_summary.json``: pooled held-out metrics, plus mean +- sd over folds),
a training run with a test fold (``test_metrics.json``), an evaluation folder or a ``metrics.json``.
Precision and recall are macro averages over classes; each cell shows the 95% bootstrap CI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import write_json, write_text
from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.compare_tests import load_items, markdown_table, pairwise_tests, tests_table
from tumorscope.evaluate.segmentation import PRESENCE_CLASSES
from tumorscope.options.describe import COLUMNS, describe, read_json, run_config
from tumorscope.results import MetricsReport

__all__ = ["comparison_table", "load_result", "write_comparison"]

COMPARE_SCHEMA = "tumorscope.compare/1"  # compare --json, read by the report
DETECTION_COLUMNS = ("Sensitivity (tumor)", "Specificity (tumor-free)")  # two-class no_tumor / tumor tables
SEGMENTATION_COLUMNS = (("Dice", "dice_mean"), ("Dice median", "dice_median"), ("IoU", "iou_mean"),
                        ("HD95 (mm)", "hd95_mean_mm"))


def _cv_summary(p: Path) -> dict[str, Any] | None:
    """``cv_summary.json``, or - for a folder of fold runs trained one by one (``train --splits
    CV/fold<i>/splits.json --out DIR/fold<i>``, e.g. another seed) - their test folds pooled the same way."""
    if (p / "cv_summary.json").exists():
        return read_json(p / "cv_summary.json")
    done = [int(f.parent.name[4:]) for f in p.glob("fold*/test_metrics.json") if f.parent.name[4:].isdigit()]
    if not done:
        return None
    from tumorscope.evaluate.folds import summarize_folds

    k = read_json(p / "cv_config.json").get("folds", 0) if (p / "cv_config.json").exists() else 0
    summary = summarize_folds(p, max(k, max(done) + 1))
    if not k:  # fold runs trained one by one (`train --splits`): how many folds the CV has is not recorded
        summary["k"] = None
    return summary


def load_result(path: str | Path, presence: bool = False) -> dict[str, Any]:
    """Metrics, what they were measured on, and the training recipe behind one run/CV/evaluation. ``presence``:
    a segmentation run is re-scored as a tumor-presence classifier of its slices (pooled over its folds)."""
    p = Path(path)
    config: dict[str, Any] = {}
    seconds = None
    folds = None
    by_source: dict[str, Any] = {}
    cv = _cv_summary(p)
    if cv is not None:
        if cv.get("task") == "segmentation":
            metrics = {**cv, "n": cv.get("n_patients")}
        elif cv.get("task") != "classification" or "pooled" not in cv:
            raise TumorscopeError("not a classification or segmentation cross-validation summary",
                                  p / "cv_summary.json")
        else:
            metrics = cv["pooled"]
        by_source = cv.get("pooled_by_source") or {}
        folds = {key: cv["across_folds"][key] for _, key in COLUMNS if key in cv["across_folds"]}
        done, k = cv["folds_done"], cv.get("k", cv["folds_done"])
        where = (f"{k}-fold CV pooled" if done == k else f"{done} of {k} CV folds pooled" if k
                 else f"{done} CV folds pooled") + f", n={metrics['n']}"
        config = run_config(p)
        times = [read_json(f / "train_summary.json").get("train_seconds") for f in sorted(p.glob("fold*"))
                 if (f / "train_summary.json").exists()]
        seconds = sum(t for t in times if t) / max(len(times), 1) if times else None
    elif (p / "test_metrics.json").exists():
        metrics = read_json(p / "test_metrics.json")
        where = f"held-out test fold, n={_n(metrics)}"
        config = read_json(p / "config.json") if (p / "config.json").exists() else {}
        if (p / "train_summary.json").exists():
            seconds = read_json(p / "train_summary.json").get("train_seconds")
    else:
        file = p if p.is_file() else p / "metrics.json"
        if not file.exists():
            raise TumorscopeError("no cv_summary.json, test_metrics.json or metrics.json here", p)
        metrics = read_json(file)
        where = f"{Path(str(metrics.get('data', ''))).name or 'evaluation'}, n={_n(metrics)}"
    if metrics.get("task") not in ("classification", "segmentation"):
        raise TumorscopeError("not classification or segmentation metrics", p)
    if presence and metrics.get("task") == "segmentation":
        from tumorscope.evaluate.classification import metrics_from_predictions

        items = load_items(p, presence=True)
        metrics = metrics_from_predictions(list(items.rows.values()), items.classes)
        where = f"{where.split(', n=')[0]}, its slices' tumor decision, n={metrics['n']}"
        folds = {} if folds is not None else None  # no classification metrics per fold; still a CV
    return {"path": str(p), "metrics": metrics, "folds": folds, "config": config, "where": where,
            "train_seconds": seconds, "by_source": by_source}


def _n(metrics: dict[str, Any]) -> Any:
    """How many units the metrics are over: images (classification) or patients (segmentation)."""
    return metrics.get("n") if metrics.get("task") == "classification" else metrics.get("n_patients")


def _cell(metrics: dict[str, Any], key: str) -> str:
    est = MetricsReport.from_json(metrics).estimate(key)
    return "-" if est is None else est.format()


def detection_cells(path: str | Path, presence: bool = False, n_boot: int = 1000) -> list[str]:
    """Sensitivity on the tumor images and specificity on the tumor-free ones (the decision as predicted), pooled
    over a run's held-out items with 95% CIs resampling patients: what a tumor-presence table must show."""
    from tumorscope.evaluate.classification import binary_estimates

    items = list(load_items(path, presence).rows.values())
    classes = list(PRESENCE_CLASSES)
    y = np.array([classes.index(r["true"]) for r in items])
    probs = np.array([[r["probabilities"][c] for c in classes] for r in items])
    rates = binary_estimates(y, probs, classes.index("tumor"), [r.get("group") for r in items], n_boot=n_boot)
    return [rates["sensitivity"].format(), rates["specificity"].format()]


def comparison_rows(paths: list[str | Path], names: list[str] | None = None,
                    presence: bool = False) -> dict[str, Any]:
    """The table as data: ``header``, ``rows`` (one per run in the order given, plus one per source folder of a
    classification CV) and the ``note`` on how its cells were made. ``presence``: segmentation runs as slice
    classifiers (:func:`load_result`)."""
    if names and len(names) != len(paths):
        raise TumorscopeError(f"--names gives {len(names)} name(s) for {len(paths)} run(s)")
    results = [load_result(path, presence) for path in paths]
    tasks = sorted({r["metrics"]["task"] for r in results})
    if len(tasks) > 1:
        raise TumorscopeError("cannot tabulate classification and segmentation runs together: "
                              + ", ".join(f"{r['path']} ({r['metrics']['task']})" for r in results))
    segmentation = tasks == ["segmentation"]
    columns = SEGMENTATION_COLUMNS if segmentation else COLUMNS
    detection = not segmentation and all(r["metrics"].get("classes") == list(PRESENCE_CLASSES) for r in results)
    head = ["Model", "Training", *(c for c, _ in columns), *(DETECTION_COLUMNS if detection else []),
            *([] if segmentation else ["Accuracy across folds"]), "Evaluated on", "Train time"]
    rows = []
    for i, r in enumerate(results):
        model, training = describe(r)
        if names:
            model = names[i]
        acc = r["folds"].get("accuracy") if r["folds"] else None
        folds = [] if segmentation else [f"{acc['mean']:.3f} ± {acc['sd']:.3f}" if acc else "-"]
        t = r["train_seconds"]
        time = "-" if t is None else f"{t / 60:.1f} min" + (" / fold" if r["folds"] is not None else "")
        rates = detection_cells(r["path"], presence) if detection else []
        rows.append([model, training, *(_cell(r["metrics"], key) for _, key in columns), *rates, *folds, r["where"],
                     time])
        for src, m in r["by_source"].items():  # the same held-out predictions, one source folder at a time
            rows.append([model, training, *(_cell(m, key) for _, key in COLUMNS), "-",
                         f"its `{src}/` images only, n={m['n']}", "-"])
    note = ("Cells: value [95% bootstrap CI over patients] where the run recorded one. Dice, IoU and HD95 are "
            "per-patient (volumetric) means." if segmentation else "Cells: value [95% bootstrap CI]. Precision and "
            "recall are macro averages over classes; AUC is the macro one-vs-rest AUC.")
    if presence and any("tumor decision" in r["where"] for r in results):
        note += (" A segmentation run's slice is 'tumor' when its post-processed mask is non-empty; its score is "
                 "0.5 + half its largest probability inside the mask, else half its largest probability.")
    return {"task": tasks[0], "header": head, "rows": rows, "note": note + " Generated by `tumorscope compare`."}


def comparison_table(paths: list[str | Path], names: list[str] | None = None) -> str:
    """The Markdown table (one row per run, in the order given)."""
    t = comparison_rows(paths, names)
    return markdown_table(t["header"], t["rows"]) + "\n" + t["note"] + "\n"


def correct_by_image(path: str | Path) -> dict[str, bool]:
    """Whether each held-out image was classified correctly: every fold's test part of a CV folder, a run's
    test part, or an evaluation's ``metrics.json``."""
    items = load_items(path)
    if items.task != "classification":
        raise TumorscopeError("no per-image predictions here to pair", path)
    return {k: r["true"] == r["predicted"] for k, r in items.rows.items()}


def paired_table(paths: list[str | Path]) -> str:
    """Each run against the first on the images both held out: errors fixed, errors made, and the exact
    McNemar test (two-sided binomial on the discordant images) - a paired test, far more sensitive than
    comparing two CIs."""
    from scipy.stats import binomtest

    base = correct_by_image(paths[0])
    lines = [f"Paired against `{paths[0]}` on the images both held out:", "",
             "| Run | Images | Accuracy (run / first) | Fixed | Broke | Exact McNemar p |", "|---|---|---|---|---|---|"]
    for path in paths[1:]:
        other = correct_by_image(path)
        common = sorted(set(base) & set(other))
        if not common:
            raise TumorscopeError(f"no held-out image in common with {paths[0]}", path)
        fixed = sum(other[k] and not base[k] for k in common)
        broke = sum(base[k] and not other[k] for k in common)
        p = binomtest(fixed, fixed + broke).pvalue if fixed + broke else 1.0
        acc = f"{np.mean([other[k] for k in common]):.3f} / {np.mean([base[k] for k in common]):.3f}"
        lines.append(f"| {path} | {len(common)} | {acc} | {fixed} | {broke} | {p:.4f} |")
    return "\n".join(lines) + "\n"


def write_comparison(paths: list[str | Path], out: str | Path | None, names: list[str] | None = None,
                     paired: bool = False, tests: bool = False, json_out: str | Path | None = None,
                     n_boot: int = 1000, presence: bool = False) -> str:
    """The Markdown comparison (the table, ``paired``: the McNemar table against the first run, ``tests``: every
    pair's significance tests), written to ``out``; ``json_out``: the rows and tests as JSON for the report.
    ``presence``: segmentation runs are scored as tumor-presence classifiers of their slices."""
    rows = comparison_rows(paths, names, presence)
    table = markdown_table(rows["header"], rows["rows"]) + "\n" + rows["note"] + "\n"
    text = table + ("\n" + paired_table(paths) if paired and len(paths) > 1 else "")
    result = None
    if tests:
        result = pairwise_tests(paths, names, n_boot=n_boot, presence=presence)
        text += "\n" + tests_table(result)
    if out is not None:
        write_text(out, text)
    if json_out is not None:
        write_json(json_out, {"schema": COMPARE_SCHEMA, "runs": [str(p) for p in paths], "names": names,
                              "table": rows, "table_markdown": table, "tests": result})
    return text
