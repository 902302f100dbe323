"""The feature rows a classical model learns from and scores: extracted from a dataset with recorded settings
(cached atomically beside the run), or read from a ``tumorscope features`` table; with their targets.

The extraction settings (:func:`feature_spec`) travel in the bundle, so prediction extracts exactly what the
model was trained on. The ROI must exist at prediction time: ``foreground`` (the brain/body), ``whole`` or
``predicted`` (a segmentation bundle's mask) - the expert mask only for a data.csv target (grading the segmented
tumor, as the published radiomics studies do), never for tumor presence, where it IS the label.
A ``--features`` table may also hold deep features (``tumorscope features --kind deep``) or a join of tables
(``--join``): its ``kind`` is recorded in the spec and such a bundle scores tables, it does not extract.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import write_json
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.features.extract import ID_COLUMNS, Options, default_jobs, extract_features
from tumorscope.features.settings import default_params
from tumorscope.features.table import write_table
from tumorscope.options.train import CLASSICAL_ROIS

log = logging.getLogger(__name__)

ROIS = CLASSICAL_ROIS
FILTERS = ("wavelet", "log")
RELATIVE = "@patient"  # suffix of the patient-relative copy of a feature (--patient-relative)
LABEL_TARGET = "label"  # the layout's label: tumor / no_tumor from the kaggle_3m masks, a class folder...
FEATURE_ID_COLUMNS = tuple(c for c in ID_COLUMNS if c != "roi_pixels")  # roi_pixels is a feature (the ROI's area)


@dataclass
class Rows:
    """Feature rows: ids (one dict per row), the matrix (rows x ``columns``) and the labels (None: unknown)."""

    ids: list[dict[str, Any]]
    X: np.ndarray
    columns: list[str]
    y: list[str | None]

    def take(self, keep: np.ndarray | list[bool]) -> Rows:
        k = np.asarray(keep, dtype=bool)
        return Rows([i for i, m in zip(self.ids, k) if m], self.X[k], self.columns, [t for t, m in zip(self.y, k) if m])

    @property
    def groups(self) -> list[str | None]:
        return [i.get("patient_id") or None for i in self.ids]


def feature_spec(roi: str = "foreground", channel: str = "flair", filters: str = "wavelet,log",
                 log_sigma: tuple[float, ...] = (1.0, 3.0), lbp: bool = True, seg_model: str = "lgg-flair-seg",
                 level: str = "slice", patient_relative: bool = False, target: str = LABEL_TARGET) -> dict[str, Any]:
    """The extraction settings a classical bundle records (``classical.features``)."""
    if roi not in ROIS or (roi == "mask" and target == LABEL_TARGET):
        raise TumorscopeError(f"--roi {roi!r}: a classical model needs an ROI that exists at prediction time: "
                              "foreground, whole or predicted (the expert mask only with a data.csv --target: "
                              "for tumor presence the mask is the label)")
    names = tuple(sorted({f.strip().lower() for f in filters.split(",") if f.strip()} - {"none"}))
    if set(names) - set(FILTERS):
        raise TumorscopeError(f"--filters {filters!r}: choose wavelet, log, wavelet,log or none")
    return {"kind": "radiomics", "roi": roi, "channel": channel, "level": level, "filters": list(names),
            "log_sigma": list(log_sigma), "lbp": lbp, "seg_model": seg_model if roi == "predicted" else None,
            "patient_relative": patient_relative,
            "params2d": default_params(2, names, log_sigma), "params3d": default_params(3, names, log_sigma)}


def extract_rows(samples: list[Sample], spec: dict[str, Any], jobs: int = 0) -> list[dict[str, Any]]:
    """Feature rows (``tumorscope features``' dicts) of ``samples`` with the settings ``spec``."""
    if spec.get("kind", "radiomics") != "radiomics":
        raise TumorscopeError(f"this model was trained on a {spec['kind']} feature table ({spec.get('table')}): "
                              "it scores such tables, it does not extract them")
    options = Options(rois=(spec["roi"],), level=spec["level"], channel=spec["channel"], params2d=spec["params2d"],
                      params3d=spec["params3d"], model=spec.get("seg_model") or "lgg-flair-seg", lbp=spec["lbp"])
    n_patients = len({s.group for s in samples})
    jobs = min(jobs or default_jobs(), max(1, n_patients))
    rows, _ = extract_features(samples, options, jobs=jobs)
    rows.sort(key=lambda r: (str(r["patient_id"]), str(r["image_id"]), r["slice_index"] or 0))
    return rows


def cached_rows(samples: list[Sample], spec: dict[str, Any], table: Path, jobs: int = 0) -> list[dict[str, Any]]:
    """The rows of ``samples``: read from ``table`` when it was extracted with ``spec`` (its ``.spec.json``
    beside it), else extracted and written there atomically (a killed run leaves no half table)."""
    marker = table.with_name(table.stem + ".spec.json")
    extraction = json.loads(json.dumps({k: v for k, v in spec.items() if k != "patient_relative"}))
    if table.exists() and marker.exists() and json.loads(marker.read_text()) == extraction:
        log.info("features: reusing %s", table)
        return read_table(table)
    rows = extract_rows(samples, spec, jobs)
    write_table(rows, table)
    write_json(marker, extraction)
    return read_table(table)


def read_table(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``tumorscope features`` table (.csv or .parquet); numbers as floats, empty cells NaN."""
    if not path.is_file():
        raise TumorscopeError("no such feature table", path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        records = pq.read_table(path).to_pylist()
    else:
        with path.open(newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
    if not records or "roi" not in records[0] or "patient_id" not in records[0]:
        raise TumorscopeError("not a `tumorscope features` table (no roi / patient_id columns)", path)
    return records


def to_rows(records: list[dict[str, Any]], roi: str, columns: list[str] | None = None,
            target: str = LABEL_TARGET, targets: dict[str, str] | None = None, relative: bool = False) -> Rows:
    """The ``roi`` rows of a table as a matrix; ``columns`` fixes the features (a bundle's, in its order; those a
    table lacks are refused), else every feature column of the table, plus with ``relative`` each one relative to
    its patient (:func:`patient_relative`, named ``<feature>@patient``). Labels: the table's ``label`` column, or
    ``targets`` (patient -> value) for a data.csv target."""
    if columns is not None:
        columns = [c for c in columns if not c.endswith(RELATIVE)]
    chosen = [r for r in records if r.get("roi") == roi]
    if not chosen:
        found = sorted({str(r.get("roi")) for r in records})
        raise TumorscopeError(f"the feature table has no {roi!r} rows (it has {', '.join(found)})")
    ok = [r for r in chosen if r.get("roi_status") == "ok"] or chosen  # empty-ROI rows of extraction lack features
    names = columns or [c for c in ok[0] if c not in FEATURE_ID_COLUMNS]
    known = set(ok[0]).union(*ok[1:2])
    missing = [c for c in names if c not in known] if ok[0].get("roi_status") == "ok" else []
    if missing:
        raise TumorscopeError(f"the feature table lacks {len(missing)} column(s) the model needs, e.g. {missing[0]!r}"
                              " (extracted with other settings?)")
    X = np.array([[_number(r.get(c)) for c in names] for r in chosen], dtype=float)
    ids = [{c: r.get(c) for c in FEATURE_ID_COLUMNS} for r in chosen]
    for i in ids:
        i["patient_id"] = str(i["patient_id"]) if i.get("patient_id") not in (None, "") else None
    if target == LABEL_TARGET:
        y = [str(i["label"]) if i.get("label") not in (None, "") else None for i in ids]
    else:
        y = [(targets or {}).get(str(i["patient_id"])) for i in ids]
    if relative:
        X = np.hstack([X, patient_relative(X, [i["patient_id"] for i in ids])])
        names = [*names, *(n + RELATIVE for n in names)]
    return Rows(ids, X, list(names), y)


def with_image_paths(rows: Rows, samples: list[Sample]) -> Rows:
    """``rows`` whose image id is one sample's file stem get that file's path (``ids["image"]``): predictions are
    then keyed by the same path as a network's, so ``compare --tests`` pairs a classical run with a deep one
    image by image. Volume rows and stems shared by several files keep their id only."""
    paths: dict[str, str | None] = {}
    for s in samples:
        stem = s.image.stem
        paths[stem] = str(s.image) if stem not in paths else None
    ids = [{**i, "image": paths[str(i.get("image_id"))]} if paths.get(str(i.get("image_id"))) else i for i in rows.ids]
    return Rows(ids, rows.X, rows.columns, rows.y)


def patient_relative(X: np.ndarray, patients: list[str | None]) -> np.ndarray:
    """Each feature relative to its patient's rows: (value - the patient's median) / the patient's interquartile
    range (1 where it is 0). MR intensities have no absolute unit, so "brighter than this patient's other slices"
    carries what the raw value cannot; a row without a patient id is its own group (all zeros)."""
    import warnings

    out = np.zeros_like(X)
    keys = np.array([p if p is not None else f"\0row{i}" for i, p in enumerate(patients)], dtype=object)
    with warnings.catch_warnings():  # all-NaN columns of a patient (empty ROIs) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        for key in dict.fromkeys(keys):
            m = keys == key
            q25, med, q75 = np.nanpercentile(X[m], [25, 50, 75], axis=0)
            iqr = q75 - q25
            out[m] = (X[m] - med) / np.where(iqr > 0, iqr, 1.0)
    return out


def _number(v: Any) -> float:
    if v is None or v == "":
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def patient_targets(data_root: Path, column: str) -> dict[str, str]:
    """patient id -> the value of ``column`` in the dataset's data.csv (kaggle_3m: ``kaggle_3m/data.csv``, keyed by
    its ``Patient`` column); patients without a value are left out."""
    found = [p for p in (data_root / "data.csv", data_root / "kaggle_3m" / "data.csv") if p.is_file()]
    if not found:
        raise TumorscopeError(f"--target {column!r} reads a column of the dataset's data.csv; there is none", data_root)
    with found[0].open(newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    key = next((k for k in ("Patient", "patient_id", "patient") if records and k in records[0]), None)
    if key is None or column not in records[0]:
        have = ", ".join(records[0]) if records else "no rows"
        raise TumorscopeError(f"data.csv needs a Patient column and {column!r} (it has: {have})", found[0])
    out = {}
    for r in records:
        v = (r.get(column) or "").strip()
        if v and v.upper() not in ("NA", "NAN"):
            out[r[key].strip()] = _label(v)
    return out


def _label(v: str) -> str:
    """``2.0`` -> ``2``: a numeric code reads as the class it is."""
    try:
        f = float(v)
    except ValueError:
        return v
    return str(int(f)) if f == int(f) else v


def check_table(path: Path, spec: dict[str, Any]) -> None:
    """A ``--features`` table was extracted as the bundle will extract at prediction time: its sidecar files
    (``<table>.params.json``, ``<table>.meta.json``, written by ``tumorscope features``) match ``spec``. A deep or
    joined table (meta ``kind``) only needs the ROI; ``spec`` then records its kind and source."""
    from tumorscope.features.table import sidecar

    params, meta = sidecar(path, "params"), sidecar(path, "meta")
    if not params.is_file() or not meta.is_file():
        raise TumorscopeError("a --features table needs the settings `tumorscope features` writes beside it "
                              f"({params.name}, {meta.name}): prediction must extract the same features", path)
    info = json.loads(meta.read_text())
    kind = info.get("kind", "radiomics")
    if kind != "radiomics":  # deep or joined: the rows come from the table; what is recorded is where from
        if spec["roi"] not in info.get("rois", []):
            raise TumorscopeError(f"the {kind} table has no {spec['roi']!r} rows (ROIs: {info.get('rois')})", path)
        spec.update(kind=kind, table=str(path), parts=info.get("parts"), model=info.get("model"))
        return
    wanted = {"channel": spec["channel"], "lbp": spec["lbp"]}
    found = {"channel": info.get("channel"), "lbp": info.get("lbp") is not None}
    if json.loads(params.read_text()) != json.loads(json.dumps(spec["params2d"])) or found != wanted \
            or spec["roi"] not in info.get("rois", []):
        raise TumorscopeError(f"the table was extracted with other settings than this run's (--roi {spec['roi']}, "
                              f"--filters {','.join(spec['filters']) or 'none'}, channel {spec['channel']}, LBP "
                              f"{'on' if spec['lbp'] else 'off'}): extract it with those, or leave --features out", path)
