"""The self-contained HTML report: one file, PNG figures inlined as base64, no scripts, no external URLs.

Every model gets the same sections in the same order (:data:`SECTIONS`); a section that cannot be
drawn for this model says why (wrong task, no run folder, dataset not found) instead of vanishing."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope import __version__
from tumorscope.results import Estimate, MetricsReport

SECTIONS = (
    ("overview", "Overview"),
    ("metrics", "Metrics with 95% confidence intervals"),
    ("roc", "ROC and precision-recall curves"),
    ("confusion", "Confusion matrix"),
    ("calibration", "Calibration"),
    ("training", "Training curves"),
    ("dice", "Per-patient Dice distribution"),
    ("gallery", "Best, median and worst cases"),
    ("faithfulness", "Explanation faithfulness"),
    ("importance", "Feature importance: SHAP and permutation (classical models)"),
    ("tsne", "t-SNE of the model's embeddings"),
)
_NO_IMPORTANCE = "SHAP and permutation importance are drawn for classical models (svm, rf, gbm, logreg on radiomics)"

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1120px;margin:0 auto;padding:24px}
h1{font-size:1.7em;margin:0 0 4px} h2{font-size:1.3em;margin:0 0 10px;color:#0b3d6b}
h3{font-size:1.05em;margin:14px 0 6px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:16px 20px;margin:14px 0}
.model{border-top:4px solid #0b3d6b;margin-top:30px;padding-top:6px}
.missing{color:#7a4b00;background:#fff6e0;border-left:4px solid #f0b400;padding:8px 12px;margin:6px 0}
.note{color:#4a5568;font-size:.92em}
table{border-collapse:collapse;margin:6px 0 10px;font-size:.93em}
th,td{border:1px solid #dde1e7;padding:4px 10px;text-align:left} th{background:#eef2f7}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;display:block;margin:6px 0}
.row{display:flex;flex-wrap:wrap;gap:12px}.row img{max-width:49%}
nav a{margin-right:12px;font-size:.9em} code{background:#eef2f7;padding:1px 4px;border-radius:3px}
pre{white-space:pre-wrap;font-size:.85em;background:#f6f7f9;padding:8px} summary{cursor:pointer;margin-top:8px}
"""


@dataclass
class ModelReport:
    """Everything known about one model, gathered from the folders given to ``tumorscope report``."""

    name: str
    task: str | None = None
    classes: list[str] = field(default_factory=list)
    bundle: Any = None
    bundle_problem: str | None = None
    sources: list[tuple[str, str]] = field(default_factory=list)  # (folder, what it contributed)
    metrics: MetricsReport | None = None
    metrics_from: str | None = None
    history: list[dict[str, float]] | None = None
    explain: MetricsReport | None = None  # explanation faithfulness (kind "explanation")
    evidence: Any = None  # tumorscope.explain.evidence.Evidence
    evidence_problem: str | None = None
    heatmap_method: str = "gradcam"
    importance: str | None = None  # a classical model's importance section (HTML, report/cli.py); None: none


@dataclass
class Section:
    key: str
    body: str = ""
    missing: str | None = None

    @property
    def title(self) -> str:
        return dict(SECTIONS)[self.key]


# -- HTML pieces ----------------------------------------------------------------------------------------
def esc(text: object) -> str:
    return html.escape(str(text))


def png_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def figure(draw: Callable[[Path], None], alt: str) -> str:
    """Run a plot function that writes a PNG to the path it is given; inline the result."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{uuid.uuid4().hex}.png"
        draw(path)
        return png_tag(path.read_bytes(), alt)


def table(header: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float | np.floating):
            return f'<td class="num">{_fmt(float(v))}</td>'
        if isinstance(v, int | np.integer):
            return f'<td class="num">{v}</td>'
        return f"<td>{esc(v)}</td>"

    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"


def _ci(est: Estimate | None) -> str:
    ci = est.ci if est is not None else None
    return "" if ci is None else f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


# -- sections -------------------------------------------------------------------------------------------
def _overview(m: ModelReport) -> Section:
    rows: list[list[object]] = [["model", m.name], ["task", m.task or "unknown"]]
    if m.classes:
        rows.append(["classes", ", ".join(m.classes)])
    if m.bundle is not None:
        rows.append(["bundle", str(m.bundle.path)])
    if m.metrics:
        known = {**m.metrics.extra, **m.metrics.counts}
        rows += [[key, known[key]] for key in ("data", "split", "n_patients", "n_slices", "n") if known.get(key) is not None]
    body = table(["", ""], rows)
    body += "<h3>Folders read</h3>" + table(["folder", "used for"], [[p, what] for p, what in m.sources])
    if m.bundle is not None and m.bundle.card:
        body += f"<details><summary>model card</summary><pre>{esc(m.bundle.card)}</pre></details>"
    notes = [p for p in (m.bundle_problem, m.evidence_problem) if p]
    body += "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    return Section("overview", body)


def metric_rows(metrics: MetricsReport | dict[str, Any]) -> list[list[object]]:
    """(metric, value, 95% CI) for every metric, then every count, of a metrics report (or metrics.json body
    of any version: :meth:`MetricsReport.from_json` finds the intervals)."""
    r = metrics if isinstance(metrics, MetricsReport) else MetricsReport.from_json(metrics)
    rows: list[list[object]] = [[key, est.value, _ci(est)] for key, est in r.metrics.items()]
    return rows + [[key, value, ""] for key, value in r.counts.items()]


def _metrics(m: ModelReport) -> Section:
    if not m.metrics:
        return Section("metrics", missing="no metrics found: give an evaluation folder (metrics.json from "
                       "`tumorscope evaluate`) or a run folder with test_metrics.json")
    body = f'<p class="note">from {esc(m.metrics_from)}</p>' + table(["metric", "value", "95% CI"],
                                                                    metric_rows(m.metrics))
    per_class = m.metrics.per_class
    if per_class:
        keys = sorted({k for v in per_class.values() if isinstance(v, dict) for k in v})
        body += "<h3>Per class</h3>" + table(["class", *keys], [
            [c, *[float(x) if isinstance(x := v.get(k), int | float) else "n/a" for k in keys]]
            for c, v in per_class.items() if isinstance(v, dict)
        ])
    return Section("metrics", body)


def _need_evidence(m: ModelReport, key: str) -> Section | None:
    if m.evidence is None:
        return Section(key, missing=m.evidence_problem or "the model's predictions could not be computed")
    return None


def _binary_view(ev: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Binary tasks drawn for the positive class (index 1): the plots draw the first class of a pair."""
    if len(ev.classes) == 2:
        return 1 - ev.y_true, ev.probs[:, ::-1], ev.classes[::-1]
    return ev.y_true, ev.probs, ev.classes


def _roc(m: ModelReport) -> Section:
    from tumorscope.report.figures import roc_plot
    from tumorscope.report.plots import pr_plot

    if (missing := _need_evidence(m, "roc")) is not None:
        return missing
    ev = m.evidence
    if len(np.unique(ev.y_true)) < 2:
        return Section("roc", missing="only one class among the evaluated cases: ROC and PR curves are undefined")
    y, probs, classes = _binary_view(ev)
    what = ("slice-level tumor presence (score: the slice's maximum tumor probability)"
            if ev.task == "segmentation" else "each class against the rest")
    body = f'<p class="note">{esc(what)}; {len(ev.y_true)} cases.</p><div class="row">'
    body += figure(lambda p: roc_plot(y, probs, classes, p), "ROC curves")
    body += figure(lambda p: pr_plot(ev.y_true, ev.probs, ev.classes, p), "precision-recall curves") + "</div>"
    return Section("roc", body)


def _confusion(m: ModelReport) -> Section:
    from tumorscope.evaluate.classification import confusion_matrix
    from tumorscope.report.figures import confusion_plot

    if m.task == "classification" and m.metrics and m.metrics.confusion_matrix:
        cm = np.array(m.metrics.confusion_matrix)
        classes = m.metrics.classes or m.classes
        return Section("confusion", figure(lambda p: confusion_plot(cm, classes, p), "confusion matrix"))
    if (missing := _need_evidence(m, "confusion")) is not None:
        return missing
    ev = m.evidence
    if ev.task == "segmentation":
        truth = np.concatenate([r.slice_truth for r in ev.patients]).astype(int)
        pred = np.concatenate([r.slice_pred for r in ev.patients]).astype(int)
        note = '<p class="note">slice level: tumor predicted on the slice (after post-processing) vs tumor in the mask.</p>'
    else:
        truth, pred, note = ev.y_true, ev.probs.argmax(1), ""
    cm = confusion_matrix(truth, pred, len(ev.classes))
    return Section("confusion", note + figure(lambda p: confusion_plot(cm, ev.classes, p), "confusion matrix"))


def _calibration(m: ModelReport) -> Section:
    from tumorscope.evaluate.classification import calibration_bins
    from tumorscope.report.figures import reliability_plot

    if m.task == "segmentation":
        return Section("calibration", missing="calibration is shown for classification models: a segmentation "
                       "model's pixel probabilities are not a per-slice probability of tumor, so a reliability "
                       "diagram of them would mislead; see the slice-level ROC/PR curves instead")
    if m.metrics and m.metrics.calibration_bins:
        bins, ece = m.metrics.calibration_bins, m.metrics.value("ece")
    elif m.evidence is not None:
        ece, bins = calibration_bins(m.evidence.y_true, m.evidence.probs)
    else:
        return Section("calibration", missing=m.evidence_problem or "no calibration data (metrics.json has no "
                       "calibration_bins and the predictions could not be computed)")
    return Section("calibration", f'<p class="note">expected calibration error (ECE) {_fmt(ece)}: top-class '
                   "confidence against accuracy per bin.</p>" + figure(lambda p: reliability_plot(bins, ece, p),
                                                                        "reliability diagram"))


def _training(m: ModelReport) -> Section:
    from tumorscope.report.plots import training_curves

    if not m.history:
        return Section("training", missing="no training run folder given (pass the run folder: it holds "
                       "metrics.csv with one row per epoch)")
    best = max(m.history, key=lambda r: r.get("val_score", float("-inf")))
    note = (f'<p class="note">{len(m.history)} epochs; best validation score {_fmt(best.get("val_score"))} '
            f'at epoch {int(best["epoch"])}.</p>')
    return Section("training", note + figure(lambda p: training_curves(m.history or [], p), "training curves"))


def _dice(m: ModelReport) -> Section:
    from tumorscope.report.plots import dice_distribution_plot

    if m.task == "classification":
        return Section("dice", missing="Dice is a segmentation metric: a classification model outputs no masks")
    rows = m.metrics.per_case if m.metrics and m.metrics.task == "segmentation" else []
    if not rows and m.evidence is not None:
        rows = [r.row() for r in m.evidence.patients]
    if not rows:
        return Section("dice", missing="no per-patient results (metrics.json per_patient) and no predictions")
    dice = [float(r["dice"]) for r in rows]
    ids = [str(r["id"]) for r in rows]
    worst = sorted(rows, key=lambda r: r["dice"])[:5]
    body = figure(lambda p: dice_distribution_plot(dice, p, ids), "per-patient Dice")
    body += "<h3>Lowest Dice</h3>" + table(
        ["patient", "Dice", "tumor voxels", "predicted voxels"],
        [[r["id"], float(r["dice"]), int(r.get("truth_voxels", 0)), int(r.get("pred_voxels", 0))] for r in worst],
    )
    return Section("dice", body)


def _gallery(m: ModelReport) -> Section:
    from tumorscope.explain.evaluate import explainer_for
    from tumorscope.explain.evidence import gallery
    from tumorscope.explain.methods import normalized
    from tumorscope.predict.overlay import display_channel, heat_overlay, overlay
    from tumorscope.report.plots import image_panels

    if (missing := _need_evidence(m, "gallery")) is not None:
        return missing
    picks = gallery(m.evidence.cases)
    if not picks:
        return Section("gallery", missing="no case to show (segmentation: no evaluated patient has tumor)")
    explainer = explainer_for(m.bundle)
    rank = "per-patient Dice" if m.task == "segmentation" else "the probability given to the true class"
    legend = (" Green edge: ground truth; red fill with yellow edge: prediction." if m.task == "segmentation"
              else " The heatmap explains the predicted class.")
    body = f'<p class="note">ranked by {esc(rank)}; heatmap: {esc(m.heatmap_method)}.{legend}</p>'

    for name, case in picks:
        img = display_channel(case.image)
        heat = explainer.attribute(case.x[None], m.heatmap_method)
        heat_rgb = heat_overlay(img, normalized(m.bundle.preprocessor.to_input_grid(heat, case.image[None])[0]))
        if m.task == "segmentation":
            panels = [(overlay(img, None, case.truth), "ground truth"), (overlay(img, case.pred, case.truth), "prediction"),
                      (heat_rgb, m.heatmap_method)]
        else:
            panels = [(overlay(img, None, None), "image"), (heat_rgb, f"{m.heatmap_method} (predicted class)")]
        body += f"<h3>{esc(name)}: {esc(case.caption)}</h3>"
        body += figure(partial(image_panels, panels), f"{name} case")
    return Section("gallery", body)


def _faithfulness(m: ModelReport) -> Section:
    from tumorscope.report.plots import faithfulness_curves_plot

    e = m.explain
    if not e:
        return Section("faithfulness", missing="no explain_metrics.json given: run `tumorscope explain --evaluate "
                       "--model M --data DIR -o OUT` and pass OUT to the report")
    keys = ("pointing_game", "energy_in_mask", "deletion_auc", "insertion_auc")
    raw, b = e.extra.get("methods") or {}, e.extra.get("baselines") or {}

    def cell(est: Estimate | None) -> str:
        return "n/a" if est is None else f"{_fmt(est.value)} {_ci(est)}"

    rows = [[name, *[cell(e.groups.get(name, {}).get(k)) for k in keys],
             f"{raw.get(name, {}).get('seconds_per_slice', float('nan')):.2f}"] for name in raw]
    chance = e.groups.get("baselines", {})
    rows.append(["chance", *[cell(chance.get(k)) for k in ("pointing_game_random_point", "energy_in_mask_uniform_map",
                                                         "deletion_auc_random_order", "insertion_auc_random_order")], ""])
    n_slices = e.counts.get("n_slices")
    counted = (f"{n_slices} tumor slices of {e.counts.get('n_patients')} patients" if e.task == "segmentation"
               else f"{n_slices} images with a lesion mask")
    x = e.extra
    body = (f'<p class="note">{counted}; explained score: '
            f'{esc(x.get("explained_score", ""))}; pointing tolerance {x.get("tolerance_px")} px; Grad-CAM layer '
            f'<code>{esc(x.get("layer"))}</code>. Mean [95% CI over patients, or images without patient ids]. '
            "Deletion: lower is more faithful; insertion: higher.</p>")
    body += table(["method", "pointing game", "energy in mask", "deletion AUC", "insertion AUC", "s / slice"], rows)
    curves = {n: (v["mean_deletion_curve"], v["mean_insertion_curve"]) for n, v in raw.items()
              if v.get("mean_deletion_curve")}
    if b.get("mean_deletion_curve_random_order"):
        curves["random order"] = (b["mean_deletion_curve_random_order"], b["mean_insertion_curve_random_order"])
    if curves:
        body += figure(lambda p: faithfulness_curves_plot(curves, p), "deletion and insertion curves")
    return Section("faithfulness", body)


def _tsne(m: ModelReport) -> Section:
    from tumorscope.explain.evidence import tsne_2d
    from tumorscope.report.plots import embedding_plot

    if (missing := _need_evidence(m, "tsne")) is not None:
        return missing
    ev = m.evidence
    if ev.features is None or len(ev.features) < 5:
        return Section("tsne", missing="fewer than 5 embedded cases: t-SNE needs more")
    coords = tsne_2d(ev.features)
    what = ("bottleneck features averaged over each slice, coloured by tumor in the mask" if ev.task == "segmentation"
            else "penultimate-layer features, coloured by true class")
    return Section("tsne", f'<p class="note">{len(coords)} cases; {esc(what)}.</p>'
                   + figure(lambda p: embedding_plot(coords, ev.feature_labels, p, "t-SNE of embeddings"), "t-SNE"))


def _importance(m: ModelReport) -> Section:  # a network's evidence is in "Explanation faithfulness"
    return Section("importance", m.importance or "", None if m.importance is not None else _NO_IMPORTANCE)


BUILDERS: tuple[Callable[[ModelReport], Section], ...] = (
    _overview, _metrics, _roc, _confusion, _calibration, _training, _dice, _gallery, _faithfulness, _importance, _tsne,
)


def model_sections(m: ModelReport) -> list[Section]:
    """All sections of one model, in :data:`SECTIONS` order; a builder that fails reports why."""
    out = []
    for build in BUILDERS:
        try:
            out.append(build(m))
        except Exception as exc:  # noqa: BLE001 - one broken section must not lose the whole report
            key = build.__name__.strip("_")
            out.append(Section(key, missing=f"could not be drawn: {type(exc).__name__}: {exc}"))
    return out


def render(models: list[ModelReport], title: str = "tumorscope report", preamble: str = "") -> str:
    """The whole HTML document; ``preamble``: HTML sections placed before the models (the comparison)."""
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
             f"<style>{_CSS}</style></head><body><main>",
             f"<h1>{esc(title)}</h1><p class=\"note\">generated {now} by tumorscope {esc(__version__)}; "
             f"{len(models)} model(s).</p>", preamble]
    for i, m in enumerate(models):
        sections = model_sections(m)
        nav = " ".join(f'<a href="#m{i}-{s.key}">{esc(s.title)}</a>' for s in sections)
        parts.append(f'<div class="model"><h1>{esc(m.name)}</h1><nav>{nav}</nav>')
        for s in sections:
            content = f'<p class="missing">Not shown: {esc(s.missing)}</p>' if s.missing else s.body
            parts.append(f'<section id="m{i}-{s.key}"><h2>{esc(s.title)}</h2>{content}</section>')
        parts.append("</div>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
