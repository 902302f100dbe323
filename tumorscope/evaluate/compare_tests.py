"""``tumorscope compare --tests``: every pair of runs tested on the items both held out.

Runs are paired by image path (classification: the ``predictions`` rows) or patient id (segmentation: the
``per_patient`` rows) of their metrics files - a CV folder's ``fold*/test_metrics.json``, a run's
``test_metrics.json`` or an evaluation's ``metrics.json``. For each pair, B - A with a paired-bootstrap 95% CI and:
DeLong's p for the macro AUC and McNemar's p for accuracy (classification); Wilcoxon signed-rank p for per-patient
Dice, IoU and HD95 (segmentation). Holm's adjustment runs over all pairs, one metric at a time. With ``presence``
a segmentation run of a slice dataset counts as a tumor-presence classifier of its slices (its metrics files'
``slice_predictions``), so it pairs with slice classifiers.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.classification import macro_auc, resampling_units
from tumorscope.evaluate.segmentation import PRESENCE_CLASSES
from tumorscope.evaluate.significance import (
    PairedTest,
    delong_test,
    holm,
    mcnemar_test,
    paired_bootstrap_ci,
    paired_mean_test,
)
from tumorscope.options.describe import read_json
from tumorscope.results import PER_CASE_KEY

SEGMENTATION_METRICS = ("dice", "iou", "hd95")


@dataclass
class RunItems:
    """One run's held-out items: ``rows`` keyed by image path (classification) or patient id (segmentation)."""

    path: str
    task: str
    classes: list[str]
    rows: dict[str, dict[str, Any]]


def metrics_files(path: str | Path) -> list[Path]:
    """The metrics files holding a run's per-item rows: every fold's test part of a CV folder, a run's test part,
    or an evaluation's ``metrics.json`` (or the file itself)."""
    p = Path(path)
    if p.is_file():
        return [p]
    return sorted(p.glob("fold*/test_metrics.json")) or [f for f in (p / "test_metrics.json", p / "metrics.json")
                                                         if f.exists()]


def load_items(path: str | Path, presence: bool = False) -> RunItems:
    """The per-item rows of a run (see :func:`metrics_files`); an item held out twice is an error. ``presence``:
    a segmentation run's slices as a tumor-presence classifier's images (``slice_predictions``)."""
    files = metrics_files(path)
    bodies = [read_json(f) for f in files]
    task = bodies[0].get("task") if bodies else None
    if task not in PER_CASE_KEY:
        raise TumorscopeError("no classification or segmentation metrics file with per-item rows here", path)
    as_slices = presence and task == "segmentation"
    key = "slice_predictions" if as_slices else PER_CASE_KEY[task]
    field = "path" if task == "classification" or as_slices else "id"
    rows: dict[str, dict[str, Any]] = {}
    for f, body in zip(files, bodies):
        if body.get("task") != task:
            raise TumorscopeError(f"mixes {task} and {body.get('task')} metrics files", f)
        if as_slices and not body.get(key):
            raise TumorscopeError("no slice-level predictions in this segmentation metrics file (they are written "
                                  "for 2-D slice datasets only; an older file: score the model again with "
                                  "`tumorscope evaluate`)", f)
        for r in body.get(key) or []:
            k = os.path.normpath(str(r[field])) if field == "path" else str(r[field])
            if k in rows:
                raise TumorscopeError(f"{field} {k!r} is held out twice", f)
            rows[k] = r
    if not rows:
        raise TumorscopeError(f"no per-item rows ({key}) here to pair", path)
    if as_slices:
        return RunItems(str(path), "classification", list(PRESENCE_CLASSES), rows)
    return RunItems(str(path), task, list(bodies[0].get("classes") or []), rows)


def common_items(a: RunItems, b: RunItems) -> list[str]:
    """The items both runs held out; runs of different tasks, classes or labels, or with nothing in common, are
    refused with one line naming both."""
    if a.task != b.task:
        raise TumorscopeError(f"cannot pair a {a.task} run ({a.path}) with a {b.task} run ({b.path})")
    if a.classes != b.classes:
        raise TumorscopeError(f"{a.path} and {b.path} have different classes ({a.classes} vs {b.classes})")
    common = sorted(set(a.rows) & set(b.rows))
    what = "image" if a.task == "classification" else "patient"
    if not common:
        raise TumorscopeError(f"{a.path} and {b.path} share no held-out {what}: not runs on the same split")
    if a.task == "classification":
        differ = sum(a.rows[k]["true"] != b.rows[k]["true"] for k in common)
        if differ:
            raise TumorscopeError(f"{a.path} and {b.path} disagree on the label of {differ} of {len(common)} "
                                  "shared images: not the same data")
    return common


def classification_tests(a: RunItems, b: RunItems, keys: list[str], n_boot: int = 1000,
                         seed: int = 0) -> list[PairedTest]:
    """Accuracy (McNemar) and macro AUC (DeLong) of B against A on ``keys``, CIs by the paired bootstrap over
    patients (images without a patient id count as their own unit)."""
    classes = a.classes
    y = np.array([classes.index(a.rows[k]["true"]) for k in keys])
    pa, pb = (np.array([[r.rows[k]["probabilities"][c] for c in classes] for k in keys]) for r in (a, b))
    groups = [a.rows[k].get("group") for k in keys]
    clustered = any(g is not None for g in groups)
    units = resampling_units(groups, len(keys))
    unit = "patient" if clustered else "image"
    ca, cb = pa.argmax(1) == y, pb.argmax(1) == y

    def acc_diff(rows: np.ndarray) -> float:
        return float(cb[rows].mean() - ca[rows].mean())

    def auc_diff(rows: np.ndarray) -> float:
        return macro_auc(y[rows], pb[rows]) - macro_auc(y[rows], pa[rows])

    p, test, fixed, broke = mcnemar_test(ca, cb)
    low, high = paired_bootstrap_ci(units, acc_diff, n_boot, seed)
    acc = PairedTest("accuracy", float(ca.mean()), float(cb.mean()), float(cb.mean() - ca.mean()), low, high, p,
                     f"{test} ({fixed} fixed, {broke} broken)", len(units), unit)
    ids = [g if g is not None else f"\0{k}" for g, k in zip(groups, keys)] if clustered else None
    nan = float("nan")
    try:
        auc = delong_test(y, pa, pb, ids)
    except TumorscopeError:  # one class only among the shared images: no AUC to compare
        return [acc, PairedTest("auc_macro", nan, nan, nan, nan, nan, nan, "undefined (one class)", len(units), unit)]
    low, high = paired_bootstrap_ci(units, auc_diff, n_boot, seed)
    return [acc, replace(auc, metric="auc_macro", low=low, high=high, n=len(units), unit=unit)]


def segmentation_tests(a: RunItems, b: RunItems, keys: list[str], n_boot: int = 1000,
                       seed: int = 0) -> list[PairedTest]:
    """Per-patient Dice, IoU and HD95 of B against A: mean difference, bootstrap CI, Wilcoxon p."""
    def values(run: RunItems, metric: str) -> list[float]:
        return [float("nan") if run.rows[k].get(metric) is None else float(run.rows[k][metric]) for k in keys]

    tests = []
    for m in SEGMENTATION_METRICS:
        va, vb = values(a, m), values(b, m)
        if np.isfinite(np.array(va) + np.array(vb)).any():  # e.g. HD95 is undefined where a mask is empty
            tests.append(paired_mean_test(m, va, vb, "patient", n_boot, seed))
    return tests


def pairwise_tests(paths: list[str | Path], names: list[str] | None = None, n_boot: int = 1000,
                   seed: int = 0, presence: bool = False) -> dict[str, Any]:
    """Every pair (A, B) of runs, in the order given, tested on the items both held out; Holm-adjusted per
    metric across the pairs. The JSON-ready result (``pairs``: one entry per pair with its ``tests``).
    ``presence``: segmentation runs are scored as slice classifiers (see :func:`load_items`)."""
    if len(paths) < 2:
        raise TumorscopeError("paired tests need at least two runs")
    runs = [load_items(p, presence) for p in paths]
    labels = names or [str(p) for p in paths]
    pairs: list[dict[str, Any]] = []
    tested: list[list[PairedTest]] = []
    for (i, a), (j, b) in itertools.combinations(enumerate(runs), 2):
        keys = common_items(a, b)
        run_tests = classification_tests if a.task == "classification" else segmentation_tests
        tested.append(run_tests(a, b, keys, n_boot, seed))
        pairs.append({"a": labels[i], "b": labels[j], "a_path": a.path, "b_path": b.path, "n_items": len(keys),
                      "n_a": len(a.rows), "n_b": len(b.rows)})
    for m in dict.fromkeys(t.metric for tests in tested for t in tests):  # one Holm family per metric
        at = [(pi, ti) for pi, tests in enumerate(tested) for ti, t in enumerate(tests) if t.metric == m]
        for (pi, ti), t in zip(at, holm([tested[pi][ti] for pi, ti in at])):
            tested[pi][ti] = t
    for pair, tests in zip(pairs, tested):
        pair["tests"] = [t.to_json() for t in tests]
    return {"task": runs[0].task, "runs": [{"name": n, "path": r.path, "n": len(r.rows)} for n, r in zip(labels, runs)],
            "pairs": pairs, "ci": {"method": "paired percentile bootstrap", "level": 0.95, "n_boot": n_boot,
                                   "seed": seed},
            "multiplicity": f"Holm across the {len(pairs)} pair(s), per metric"}


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                      *("| " + " | ".join(map(str, r)) + " |" for r in rows)]) + "\n"


def _p(v: float | None) -> str:
    if v is None:
        return "n/a"
    return "< 0.0001" if v < 1e-4 else f"{v:.4f}"


def _num(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


TESTS_HEADER = ["A", "B", "Paired", "Metric", "A value", "B value", "B − A [95% CI]", "Test", "p", "Holm p"]


def tests_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row per pair and metric of :func:`pairwise_tests`' result, under :data:`TESTS_HEADER`."""
    rows = []
    for pair in result["pairs"]:
        for t in pair["tests"]:
            diff = f"{_num(t['difference'])} [{_num(t['low'])}, {_num(t['high'])}]"
            paired = f"{t['n']} {t['unit']}s" + (f" ({pair['n_items']} images)" if t["unit"] == "patient"
                                                 and result["task"] == "classification" else "")
            rows.append([pair["a"], pair["b"], paired, t["metric"], _num(t["a"]), _num(t["b"]), diff, t["test"],
                         _p(t["p"]), _p(t["p_holm"])])
    return rows


def tests_note(result: dict[str, Any]) -> str:
    ci = result["ci"]
    return (f"Paired tests on the items both runs held out. CI: {ci['method']} of the difference "
            f"({ci['n_boot']} resamples of the paired units, seed {ci['seed']}); p: two-sided; "
            f"{result['multiplicity']}. Generated by `tumorscope compare --tests`.")


def tests_table(result: dict[str, Any]) -> str:
    """The Markdown table of :func:`pairwise_tests`' result, with a note on how it was made."""
    return markdown_table(TESTS_HEADER, tests_rows(result)) + "\n" + tests_note(result) + "\n"
