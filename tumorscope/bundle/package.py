"""Packaging a trained run as a named bundle with a model card whose numbers come from files, not typing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tumorscope.bundle.bundle import load_bundle, save_bundle

# Keys whose CI is stored under another name in segmentation metrics.json.
_CI_KEYS = {"dice_mean": "dice_ci95", "iou_mean": "iou_ci95", "hd95_mean_mm": "hd95_ci95"}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, float) for x in v):
        return f"[{v[0]:.3f}, {v[1]:.3f}]"
    return str(v)


def metrics_table(metrics: dict[str, Any], keys: list[str]) -> str:
    """A two-column markdown table of the chosen metrics (with their ``<key>_ci95`` when present)."""
    rows = ["| metric | value | 95% CI |", "|---|---|---|"]
    for k in keys:
        if k in metrics:
            ci = metrics.get(f"{k}_ci95") or metrics.get(_CI_KEYS.get(k, ""))
            if ci is None and isinstance(metrics.get("ci95"), dict):
                ci = metrics["ci95"].get(k)
            rows.append(f"| {k} | {_fmt(metrics[k])} | {_fmt(ci) if ci else ''} |")
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
    ``weights_dtype`` float16 / int8 shrinks the weights file (loading turns them back into float32)."""
    src = load_bundle(run_dir)
    config = {**src.config, "name": name, "headline_metrics": headline, **(extra_config or {})}
    return save_bundle(out, src.model, config, card=card, weights_dtype=weights_dtype).path
