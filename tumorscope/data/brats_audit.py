"""``datasets audit`` of a BraTS dataset: per case, missing modalities or segmentation, files whose grid (shape or
affine) differs from the case's first file, 4-D MSD images without four volumes, labels outside the scheme, and
unreadable files. Every finding names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.data.brats import MODALITIES
from tumorscope.data.brats_cases import Case, Geometry, geometry, read_labels
from tumorscope.data.dataset import Dataset
from tumorscope.errors import TumorscopeError
from tumorscope.progress import progress

_KEYS = ("missing_modalities", "missing_segmentations", "geometry_mismatches", "bad_labels", "unreadable")
_TITLES = {
    "missing_modalities": "cases missing modalities",
    "missing_segmentations": "cases without a segmentation",
    "geometry_mismatches": "files whose shape or affine differs within their case",
    "bad_labels": "segmentations with labels outside the scheme",
    "unreadable": "unreadable files",
}


def audit_brats(ds: Dataset) -> dict[str, Any]:
    """The findings over every case of ``ds`` (JSON-ready, file paths as strings)."""
    report: dict[str, list[dict[str, Any]]] = {k: [] for k in _KEYS}
    for sample in progress(ds.samples, "audit: checking cases", total=len(ds.samples)):
        _audit_case(Case.of(sample), report, with_labels=sample.split != "test")  # MSD imagesTs has no labels
    return {"root": str(ds.root), "layout": ds.layout, "n_cases": len(ds.samples),
            "summary": {k: len(v) for k, v in report.items()}, **report}


def _audit_case(case: Case, report: dict[str, list[dict[str, Any]]], with_labels: bool) -> None:
    if case.missing:
        report["missing_modalities"].append({"case": case.id, "file": str(case.files[0]), "missing": case.missing,
                                             "present": list(case.modalities)})
    if case.seg is None and with_labels:
        report["missing_segmentations"].append({"case": case.id, "file": str(case.files[0])})
    grids: list[tuple[str, Geometry]] = []
    for path in case.files:
        try:
            g = geometry(path)
        except TumorscopeError as exc:
            report["unreadable"].append({"case": case.id, "file": str(path), "problem": exc.problem})
            continue
        expected = len(MODALITIES) if any(i is not None and p == path for p, i in case.modalities.values()) else 1
        if g.n_volumes != expected:
            report["geometry_mismatches"].append({"case": case.id, "file": str(path),
                                                  "problem": f"holds {g.n_volumes} volume(s), expected {expected}"})
        grids.append((str(path), g))
    if grids:
        # the grid most of the case's files share is the reference; the others are named
        name, ref = max(grids, key=lambda fg: sum(fg[1].differs_from(o) is None for _, o in grids))
        for path_text, g in grids:
            if (problem := g.differs_from(ref)) is not None:
                report["geometry_mismatches"].append({"case": case.id, "file": path_text,
                                                      "problem": f"{problem} of {Path(name).name}"})
    if case.seg is not None:
        try:
            values = np.unique(read_labels(case.seg)[0])
        except TumorscopeError as exc:
            if not any(u["file"] == str(case.seg) for u in report["unreadable"]):
                report["unreadable"].append({"case": case.id, "file": str(case.seg), "problem": exc.problem})
            return
        bad = sorted(set(values.tolist()) - case.scheme.allowed)
        if bad:
            report["bad_labels"].append({"case": case.id, "file": str(case.seg), "labels": bad,
                                         "allowed": sorted(case.scheme.allowed), "scheme": case.scheme.name})


def format_brats_audit(report: dict[str, Any]) -> str:
    """A human summary: one line per finding kind, then each finding naming its file."""
    lines = [f"audit of {report['root']}: {report['n_cases']} cases, layout {report['layout']}"]
    for key in _KEYS:
        lines.append(f"{_TITLES[key]}: {len(report[key])}")
        for item in report[key]:
            if key == "missing_modalities":
                detail = f"missing {', '.join(item['missing'])} (present: {', '.join(item['present']) or 'none'})"
            elif key == "bad_labels":
                detail = f"labels {item['labels']} not in {item['allowed']} ({item['scheme']})"
            else:
                detail = item.get("problem", "no segmentation file")
            lines.append(f"    {item['file']}: {detail}")
    if not any(report[k] for k in _KEYS):
        lines.append("nothing found: every case has its four modalities and a segmentation on one grid")
    return "\n".join(lines)
