"""``tumorscope report``: one self-contained HTML page from run, evaluation and explanation folders.

Each folder is recognised by what it holds: a training run (``metrics.csv`` + ``config.json`` + ``bundle/``,
maybe ``test_metrics.json``), an evaluation (``metrics.json``), a faithfulness evaluation
(``explain_metrics.json``) or a bundle. Folders of the same model are merged into one part of the report.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import write_text
from tumorscope.errors import TumorscopeError
from tumorscope.report.html import ModelReport, render
from tumorscope.results import MetricsReport

log = logging.getLogger(__name__)

_EPILOG = """\
examples:
  tumorscope report runs/lgg_cv/fold0 -o report.html
  tumorscope report runs/seg runs/seg/eval runs/seg/explain -o report.html
  tumorscope report eval_dir --model lgg-flair-seg --data ../shared/data/lgg_mri_segmentation -o report.html
  tumorscope report runs/a runs/b --comparison compare.json -o report.html   (compare --tests --json compare.json)
  tumorscope report runs/lgg_tuned --tune tune/lgg -o report.html   (the search that chose the run's options)

Sections: metrics with CIs, ROC/PR curves, confusion matrix, calibration (classification), training curves,
per-patient Dice (segmentation), best/median/worst cases with heatmaps, explanation faithfulness, t-SNE of
the model's embeddings, the hyperparameter search (--tune).
A section that cannot be drawn says why (e.g. the dataset was not found)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="one self-contained HTML report of runs, evaluations and explanations",
        description="Write one HTML file (images inlined, no scripts, no external links) from run, evaluation "
        "and explain folders.", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dirs", nargs="*", type=Path, metavar="RUN_OR_EVAL_DIR")
    p.add_argument("--comparison", action="append", type=Path, default=[], metavar="COMPARE.json",
                   help="add a model-comparison section from `tumorscope compare --json` (repeatable)")
    p.add_argument("--tune", action="append", type=Path, default=[], metavar="TUNE_DIR",
                   help="add a hyperparameter-search section from a `tumorscope tune` folder (repeatable)")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="REPORT.html")
    p.add_argument("--model", help="the model, when a folder does not say where it is (name or folder)")
    p.add_argument("--data", type=Path, metavar="DIR", help="the dataset, when the recorded path is not found here")
    p.add_argument("--method", default="gradcam", help="heatmap method for the gallery (default gradcam)")
    p.add_argument("--max-volumes", type=int, default=40, help="segmentation: predict at most this many volumes")
    p.add_argument("--max-embed", type=int, default=800, help="t-SNE: embed at most this many slices/images")
    p.add_argument("--title", default="tumorscope report")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.set_defaults(func=_cmd_report)


@dataclass
class Source:
    """What one folder contributes."""

    path: Path
    kind: str  # run | evaluation | explanation | bundle
    model_ref: str | None = None  # where the model is (bundle folder, run folder or zoo name)
    metrics: MetricsReport | None = None
    history: list[dict[str, float]] | None = None
    explain: MetricsReport | None = None
    data: str | None = None
    split: str | None = None
    fold: int = 0
    notes: list[str] = field(default_factory=list)


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TumorscopeError(f"cannot read ({exc})", path) from exc


def read_history(path: Path) -> list[dict[str, float]]:
    """metrics.csv of a training run -> one dict of floats per epoch."""
    with open(path, newline="") as f:
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()} for row in csv.DictReader(f)]


def discover(path: Path) -> Source:
    """Recognise a folder (or a metrics / explain_metrics JSON file)."""
    if path.is_file():
        path, name = path.parent, path.name
    else:
        name = None
    if not path.is_dir():
        raise TumorscopeError("no such folder", path)
    if name == "explain_metrics.json" or (name is None and (path / "explain_metrics.json").exists()):
        e = MetricsReport.read(path / "explain_metrics.json")
        x = e.extra
        return Source(path, "explanation", x.get("model_path") or x.get("model"), explain=e, data=x.get("data"),
                      split=x.get("split"))
    if (path / "metrics.csv").exists() and (path / "config.json").exists():
        cfg = _json(path / "config.json")
        src = Source(path, "run", str(path), history=read_history(path / "metrics.csv"), data=cfg.get("data"),
                     fold=int(cfg.get("fold") or 0))
        if (path / "test_metrics.json").exists():
            src.metrics, src.split = MetricsReport.read(path / "test_metrics.json"), "test"
        return src
    if name is not None or (path / "metrics.json").exists():
        m = MetricsReport.read(path / (name or "metrics.json"))
        ref = next((str(c) for c in (path, path.parent, path.parent.parent) if (c / "bundle" / "config.json").exists()),
                   m.extra.get("model"))
        return Source(path, "evaluation", ref, metrics=m, data=m.extra.get("data"), split=m.extra.get("split"))
    from tumorscope.bundle.weights import find_weights  # imports torch: not at CLI start-up

    if (path / "config.json").exists() and find_weights(path) is not None:
        return Source(path, "bundle", str(path))
    hint = "; for a cross-validation folder pass its fold folders" if (path / "cv_config.json").exists() else ""
    raise TumorscopeError("not a run, evaluation, explain or bundle folder (no metrics.csv, metrics.json, "
                          f"explain_metrics.json or bundle weights){hint}", path)


def _resolve_data(ref: str | None, bases: list[Path]) -> Path | None:
    if not ref:
        return None
    p = Path(ref)
    for cand in [p] + ([] if p.is_absolute() else [b / p for base in bases for b in (base, *base.parents)]):
        if cand.is_dir():
            return cand
    return None


def build_models(sources: list[Source], model: str | None = None, data: Path | None = None,
                 method: str = "gradcam", max_volumes: int = 40, max_embed: int = 800) -> list[ModelReport]:
    """Merge sources per model and gather the predictions each part of the report needs."""
    from tumorscope.bundle import load_bundle

    groups: dict[str, tuple[Any, str | None, list[Source]]] = {}
    for s in sources:
        ref = model or s.model_ref
        bundle, problem = None, None
        try:
            bundle = load_bundle(ref) if ref else None
            problem = None if bundle else f"{s.path}: the folder does not say which model it is (pass --model)"
        except TumorscopeError as exc:
            problem = f"model {ref!r} not found ({exc}); pass --model"
        key = str(bundle.path.resolve()) if bundle is not None else f"unresolved:{ref}"
        groups.setdefault(key, (bundle, problem, []))[2].append(s)
    return [_model_report(b, prob, srcs, data, method, max_volumes, max_embed) for b, prob, srcs in groups.values()]


def _model_report(bundle: Any, problem: str | None, sources: list[Source], data: Path | None, method: str,
                  max_volumes: int, max_embed: int) -> ModelReport:
    first = sources[0]
    name = bundle.name if bundle is not None else str(first.model_ref or first.path.name)
    m = ModelReport(name=name, bundle=bundle, bundle_problem=problem, heatmap_method=method)
    if bundle is not None:
        m.task, m.classes = bundle.task, bundle.classes
    for s in sources:
        used = []
        if s.history:
            m.history = s.history
            used.append("training curves")
        if s.metrics and (m.metrics is None or s.kind == "evaluation"):
            m.metrics, m.metrics_from = s.metrics, str(s.path)
            used.append("metrics")
        if s.explain:
            m.explain = s.explain
            used.append("explanation faithfulness")
        m.sources.append((str(s.path), f"{s.kind}: " + (", ".join(used) or "model")))
    if m.task is None and m.metrics:
        m.task = m.metrics.task
    if bundle is None:
        m.evidence_problem = f"predictions, cases and embeddings need the model: {problem}"
        return m
    if bundle.is_classical:
        from tumorscope.report.classical import classical_evidence, importance_html

        m.importance = importance_html(s.path for s in sources)
        m.evidence = classical_evidence(bundle, m.metrics)
        m.evidence_problem = "a classical model on radiomics features: no image heatmaps or embeddings"
        return m
    try:
        m.evidence = _evidence(bundle, m, sources, data, max_volumes, max_embed)
    except TumorscopeError as exc:
        m.evidence_problem = f"predictions, cases and embeddings need the data: {exc}"
    return m


def _evidence(bundle: Any, m: ModelReport, sources: list[Source], data: Path | None, max_volumes: int,
              max_embed: int) -> Any:
    """Predictions on the evaluated cases: those listed in metrics.json, else the run's test/val part."""
    from tumorscope.explain import evidence

    predictions = m.metrics.per_case if m.metrics and m.metrics.task == "classification" else []
    if bundle.task == "classification" and predictions:
        missing = [p["path"] for p in predictions if not Path(p["path"]).exists()]
        if missing:
            raise TumorscopeError(f"{len(missing)} evaluated image(s) not found, e.g. {missing[0]}")
        probs = [[p["probabilities"][c] for c in bundle.classes] for p in predictions]
        return evidence.classification_evidence(bundle, [p["path"] for p in predictions],
                                                [p["true"] for p in predictions], np.array(probs), max_embed)
    samples = _samples(bundle, m, sources, data)
    if bundle.task == "classification":
        labelled = [s for s in samples if s.label in bundle.classes]
        return evidence.classification_evidence(bundle, [s.image for s in labelled], [s.label for s in labelled],
                                                None, max_embed)
    from tumorscope.data.volumes import load_stacks, volume_key

    keys = sorted({volume_key(s) for s in samples})
    if len(keys) > max_volumes:
        keep = {keys[i] for i in np.unique(np.round(np.linspace(0, len(keys) - 1, max_volumes)).astype(int))}
        samples = [s for s in samples if volume_key(s) in keep]
        log.info("report: predicting %d of %d volumes (--max-volumes)", max_volumes, len(keys))
    stacks = [s for s in load_stacks(samples) if s.masks is not None]
    if not stacks:
        raise TumorscopeError("the evaluated samples have no masks")
    return evidence.segmentation_evidence(bundle, stacks, max_embed)


def _samples(bundle: Any, m: ModelReport, sources: list[Source], data: Path | None) -> list[Any]:
    """The evaluated samples: the patients of metrics.json per_patient, else the run's test or val part."""
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.splits import load_splits, select
    from tumorscope.data.volumes import volume_key

    ref = next((s.data for s in sources if s.data), None)
    root = data or _resolve_data(ref, [Path.cwd()] + [s.path for s in sources])
    if root is None:
        raise TumorscopeError(f"dataset {ref!r} not found from here (pass --data DIR)" if ref
                              else "no folder records its dataset (pass --data DIR)")
    ds = load_dataset(root)
    ids = {str(r["id"]) for r in m.metrics.per_case} if m.metrics and m.metrics.task == "segmentation" else set()
    if ids:
        picked = [s for s in ds.samples if (s.patient_id or volume_key(s)) in ids]
        if picked:
            return picked
    run = next((s for s in sources if s.kind == "run"), None)
    if run is not None and (run.path / "splits.json").exists():
        splits = load_splits(run.path / "splits.json")
        split = splits[min(run.fold, len(splits) - 1)]
        for part in ("test", "val"):
            picked = select(ds, split, part)
            if picked:
                return picked
    return list(ds.samples)


def _cmd_report(args: argparse.Namespace) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.dirs and not args.comparison and not args.tune:
        raise TumorscopeError("nothing to report: give run/evaluation folders, --comparison COMPARE.json or "
                              "--tune TUNE_DIR")
    from tumorscope.report.comparison import comparison_section, read_comparison
    from tumorscope.report.tune import read_tune, tune_section

    preamble = "".join(comparison_section(read_comparison(c), str(c)) for c in args.comparison)
    preamble += "".join(tune_section(read_tune(t), str(t)) for t in args.tune)
    sources = [discover(d) for d in args.dirs]
    models = build_models(sources, args.model, args.data, args.method, args.max_volumes, args.max_embed)
    page = render(models, args.title, preamble)
    if args.out.suffix.lower() not in (".html", ".htm"):
        raise TumorscopeError("the report is an HTML file: give -o NAME.html", args.out)
    write_text(args.out, page)
    missing = page.count('class="missing"')
    print(f"report: {args.out} ({len(page) / 1e6:.1f} MB, {len(models)} model(s), {missing} section(s) not shown)")
    return 0
