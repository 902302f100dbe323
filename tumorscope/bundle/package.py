"""Packaging a trained run as a named bundle with a model card whose numbers come from files, not typing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tumorscope.bundle.bundle import load_bundle, save_bundle
from tumorscope.results import MetricsReport


def metrics_table(metrics: dict[str, Any] | MetricsReport, keys: list[str]) -> str:
    """A markdown table of the chosen metrics with their 95% CIs (any metrics.json version, or a report)."""
    report = metrics if isinstance(metrics, MetricsReport) else MetricsReport.from_json(metrics)
    rows = ["| metric | value | 95% CI |", "|---|---|---|"]
    for k in keys:
        est = report.estimate(k)
        if est is not None:
            ci = f"[{est.ci[0]:.3f}, {est.ci[1]:.3f}]" if est.ci else ""
            rows.append(f"| {k} | {est.value:.3f} | {ci} |")
        elif k in report.counts or k in report.extra:
            rows.append(f"| {k} | {report.counts.get(k, report.extra.get(k))} |  |")
    return "\n".join(rows)


def across_folds_table(cv: dict[str, Any], keys: list[str]) -> str:
    rows = ["| metric | mean | sd | per fold |", "|---|---|---|---|"]
    for k in keys:
        a = cv.get("across_folds", {}).get(k)
        if a:
            rows.append(f"| {k} | {a['mean']:.3f} | {a['sd']:.3f} | {', '.join(f'{x:.3f}' for x in a['per_fold'])} |")
    return "\n".join(rows)


def package(
    run_dir: Path, name: str, out: Path, card: str, headline: dict[str, Any], extra_config: dict[str, Any] | None = None,
    weights_dtype: str = "float32",
) -> Path:
    """Write ``run_dir``'s bundle to ``out`` (atomically) under ``name`` with ``card`` and headline metrics;
    ``weights_dtype`` float16 / int8 shrinks the weights file (loading turns them back into float32); the run's
    drift reference (``reference.json``) goes along."""
    src = load_bundle(run_dir)
    config = {**src.config, "name": name, "headline_metrics": headline, **(extra_config or {})}
    if src.is_classical:  # a fitted scikit-learn pipeline: stored as it is
        from tumorscope.bundle.classical import save_classical_bundle

        return save_classical_bundle(out, src.pipeline, config, card=card)
    return save_bundle(out, src.model, config, card=card, weights_dtype=weights_dtype, reference=src.reference).path
