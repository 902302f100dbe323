"""``datasets inspect`` of a BraTS dataset: cases, modalities present, label values and region volumes in mL."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import numpy as np

from tumorscope.data.brats import MODALITIES, REGIONS, voxel_ml
from tumorscope.data.brats_cases import Case, geometry, read_labels
from tumorscope.data.dataset import Dataset
from tumorscope.errors import TumorscopeError
from tumorscope.progress import progress


def inspect_brats(ds: Dataset) -> dict[str, Any]:
    """Counts over cases; ``per_case`` rows (modalities, labels with voxel counts, WT/TC/ET volumes in mL);
    ``problems``: files that could not be read (``datasets audit`` explains the rest)."""
    cases = [Case.of(s) for s in ds.samples]
    rows, problems = [], []
    sizes: Counter[str] = Counter()
    for case in progress(cases, "reading segmentations", total=len(cases)):
        row: dict[str, Any] = {"case": case.id, "modalities": list(case.modalities), "missing": case.missing}
        try:
            first = next(iter(case.modalities.values()), (case.seg, None))[0]
            if first is not None:
                g = geometry(first)
                sizes["x".join(map(str, g.shape))] += 1
            if case.seg is not None:
                labels, spacing = read_labels(case.seg)
                values, counts = np.unique(labels, return_counts=True)
                row["labels"] = {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist())}
                ml = voxel_ml(spacing)
                row["volumes_ml"] = {r: round(float(case.scheme.region(labels, r).sum()) * ml, 3) for r in REGIONS}
        except TumorscopeError as exc:
            problems.append(str(exc))
        rows.append(row)
    labelled = [r for r in rows if "volumes_ml" in r]
    return {
        "root": str(ds.root),
        "layout": ds.layout,
        "n_cases": len(cases),
        "label_schemes": dict(Counter(c.scheme.name for c in cases)),
        "splits": dict(sorted(Counter(s.split for s in ds.samples if s.split is not None).items())),
        "modalities": {m: sum(m in c.modalities for c in cases) for m in MODALITIES},
        "n_cases_missing_modalities": sum(bool(c.missing) for c in cases),
        "n_segmentations": sum(c.seg is not None for c in cases),
        "label_values": dict(sorted(Counter(v for r in labelled for v in r["labels"]).items(), key=lambda kv: int(kv[0]))),
        "image_sizes": dict(sizes.most_common()),
        "region_volumes_ml": {r: _spread([row["volumes_ml"][r] for row in labelled]) for r in REGIONS},
        "per_case": rows,
        "problems": problems,
    }


def _spread(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": round(statistics.fmean(values), 3), "median": round(statistics.median(values), 3),
            "min": min(values), "max": max(values), "n_empty": sum(v == 0 for v in values)}


def format_brats_inspection(info: dict[str, Any]) -> str:
    """:func:`inspect_brats` as a short table."""
    n = info["n_cases"]
    rows = [
        ("dataset", info["root"]),
        ("layout", f"{info['layout']} (label scheme: {', '.join(info['label_schemes'])})"),
        ("cases", str(n) + (f" ({', '.join(f'{k} {v}' for k, v in info['splits'].items())})" if info["splits"] else "")),
        ("modalities", ", ".join(f"{m} {k}/{n}" for m, k in info["modalities"].items())),
        ("missing modalities", f"{info['n_cases_missing_modalities']} case(s)"),
        ("segmentations", f"{info['n_segmentations']} of {n}"),
        ("label values", ", ".join(f"{v} (in {k} cases)" for v, k in info["label_values"].items()) or "none"),
        ("image sizes (x*y*z)", ", ".join(f"{s}: {k}" for s, k in info["image_sizes"].items())),
    ]
    for region, s in info["region_volumes_ml"].items():
        if s["n"]:
            rows.append((f"{region} volume (mL)", f"mean {s['mean']:.1f}, median {s['median']:.1f}, "
                         f"range {s['min']:.1f}-{s['max']:.1f}, empty in {s['n_empty']} case(s)"))
    rows += [("problem", p) for p in info["problems"]]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
