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
