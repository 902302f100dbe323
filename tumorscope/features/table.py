"""Writing the feature table (CSV, or Parquet with pyarrow) and its settings beside it, each file atomically.

``features.csv`` -> ``features.params.json`` and ``features.params3d.json`` (the pyradiomics params for 2-D rows
- slices, images - and for volume rows; each reusable with ``--params`` and by pyradiomics itself) and
``features.meta.json`` (what was run: data, ROI modes, channel, level, model, LBP, versions, counts, CPU time).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from tumorscope.atomic import atomic_path, write_json
from tumorscope.errors import TumorscopeError
from tumorscope.features.extract import ID_COLUMNS

FORMATS = (".csv", ".parquet")


def check_output(out: Path) -> None:
    """The output's format is known and writable here (Parquet needs pyarrow)."""
    if out.suffix.lower() not in FORMATS:
        raise TumorscopeError("the output must end in .csv or .parquet", out)
    if out.suffix.lower() == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise TumorscopeError("writing Parquet needs pyarrow (pip install 'tumorscope[parquet]'); "
                                  "or write a .csv", out) from exc
    if out.is_dir():
        raise TumorscopeError("output path is a folder; name a .csv or .parquet file", out)


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """Id columns first, then features in the order the first complete row lists them."""
    seen: dict[str, None] = dict.fromkeys(ID_COLUMNS)
    for row in sorted(rows, key=lambda r: r["roi_status"] != "ok"):
        seen.update(dict.fromkeys(row))
    return list(seen)


def sidecar(out: Path, kind: str) -> Path:
    """``features.csv`` -> ``features.<kind>.json``."""
    return out.with_name(f"{out.stem}.{kind}.json")


def write_table(rows: list[dict[str, Any]], out: Path) -> list[str]:
    """Write ``rows`` (missing features as empty cells / nulls); the column names written."""
    names = columns(rows)
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            data = {n: [_cell(r.get(n)) for r in rows] for n in names}
            pq.write_table(pa.table(data), tmp)
        else:
            with tmp.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(names)
                for r in rows:
                    writer.writerow(["" if (v := _cell(r.get(n))) is None else v for n in names])
    return names


def write_settings(out: Path, params: dict[str, dict[str, Any]], meta: dict[str, Any]) -> list[Path]:
    """The params files (``2d``, ``3d``) and the meta file beside ``out``."""
    written = []
    for ndim, p in params.items():
        path = sidecar(out, "params" if ndim == "2d" else "params3d")
        write_json(path, p)
        written.append(path)
    path = sidecar(out, "meta")
    write_json(path, meta)
    return [*written, path]


def _cell(value: Any) -> Any:
    """NaN and None as missing; everything else as is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


JOIN_KEYS = ("patient_id", "image_id", "slice_index", "roi")


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a feature table as written (CSV cells as text, Parquet values as stored)."""
    if not path.is_file():
        raise TumorscopeError("no such feature table", path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def join_tables(paths: list[Path]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of several tables of the same slices joined on :data:`JOIN_KEYS` (the first table's rows and id
    columns; ``roi_status`` ok only where every table's is), and the joined table's meta (``kind`` joined, its
    parts; the radiomics part's settings as ``params2d``/``params3d``)."""
    import json

    if len(paths) < 2:
        raise TumorscopeError("--join needs two or more tables")
    tables = [read_rows(p) for p in paths]
    metas = [json.loads(sidecar(p, "meta").read_text()) if sidecar(p, "meta").is_file() else {} for p in paths]
    key = lambda r: tuple(str(r.get(k) if r.get(k) is not None else "") for k in JOIN_KEYS)  # noqa: E731
    seen: set[str] = set()
    for path, rows in zip(paths, tables):
        feats = {c for c in (rows[0] if rows else {}) if c not in ID_COLUMNS}
        if seen & feats:
            raise TumorscopeError(f"shares feature column {sorted(seen & feats)[0]!r} with another table", path)
        seen |= feats
    out = []
    index = [{key(r): r for r in rows} for rows in tables[1:]]
    for row in tables[0]:
        parts = [ix.get(key(row)) for ix in index]
        if any(p is None for p in parts):
            missing = paths[1 + [p is None for p in parts].index(True)]
            raise TumorscopeError(f"has no row for {dict(zip(JOIN_KEYS, key(row)))}: not a table of the same data",
                                  missing)
        joined = dict(row)
        for p in parts:
            assert p is not None
            joined.update({c: v for c, v in p.items() if c not in ID_COLUMNS})
            if joined["roi_status"] == "ok" and p.get("roi_status") != "ok":
                joined["roi_status"] = p.get("roi_status")
        out.append(joined)
    radiomics = next((p for p, m in zip(paths, metas) if m.get("kind", "radiomics") == "radiomics"), None)
    first = metas[0]
    meta = {"kind": "joined", "parts": [{"table": str(p), **{k: m.get(k) for k in ("kind", "model", "rois", "level")}}
                                        for p, m in zip(paths, metas)],
            "data": first.get("data"), "layout": first.get("layout"), "level": first.get("level"),
            "rois": sorted(set.intersection(*(set(m.get("rois", [])) for m in metas))),
            "channel": next((m.get("channel") for m in metas if m.get("kind", "radiomics") == "radiomics"), None),
            "lbp": next((m.get("lbp") for m in metas if m.get("kind", "radiomics") == "radiomics"), None),
            "rows": len(out)}
    params = {n: json.loads(sidecar(radiomics, n).read_text()) if radiomics and sidecar(radiomics, n).is_file() else {}
              for n in ("params", "params3d")}
    return out, {**meta, "params2d": params["params"], "params3d": params["params3d"]}
