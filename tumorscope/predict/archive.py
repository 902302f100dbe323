"""``tumorscope predict`` on an archive: a folder of cases (one case per subfolder or file) or a text file listing
case paths, each predicted into ``OUT/<case>/`` by the single-input writers, with a summary ``OUT/archive.csv``.

Idempotent: a case whose folder holds a summary.json of the same model and post-processing is finished (folders
are written atomically, so a folder is complete or absent) and is skipped; a killed run resumes where it stopped.
A case that cannot be read or predicted gets an error line in the summary; the others go on. The engines are
``local`` (this machine, ``--workers`` processes, no Ray: :mod:`~tumorscope.predict.archive_worker`) and ``ray``
(:mod:`tumorscope.predict.archive_ray`); both run the same :class:`~tumorscope.predict.archive_worker.CasePredictor`
on batches of cases, so their results are the same.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tumorscope.atomic import write_text
from tumorscope.errors import TumorscopeError
from tumorscope.predict.archive_worker import Case, Settings, result_row, run_local

LIST_SUFFIXES = (".txt", ".lst", ".list")
NOT_CASES = (".txt", ".lst", ".list", ".csv", ".json", ".jsonl", ".md")  # files beside the cases, never cases
SUMMARY = "archive.csv"
COLUMNS = ["case", "input", "status", "tumor_found", "probability", "volume_pixels", "volume_mm3", "n_components",
           "n_slices", "seconds", "error"]

def is_archive(path: Path) -> bool:
    """A list file, or a folder holding several kaggle_3m patient folders (other archives need ``--engine``)."""
    if path.is_file():
        return path.suffix.lower() in LIST_SUFFIXES
    from tumorscope.data.layouts import lgg_kaggle3m

    return path.is_dir() and len(lgg_kaggle3m.patient_dirs(path)) > 1


def list_cases(source: Path) -> list[Case]:
    """The cases of an archive: the lines of a list file (relative to the file's folder; ``#`` comments), else
    the kaggle_3m patient folders of a folder, else its entries (hidden ones and list/table files left out)."""
    if not source.exists():
        raise TumorscopeError("no such file or folder", source)
    if source.is_file():
        try:
            lines = source.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        except OSError as exc:
            raise TumorscopeError(f"cannot read the case list: {exc.strerror or exc}", source) from exc
        paths = [source.parent / s for s in (line.strip() for line in lines) if s and not s.startswith("#")]
    else:
        from tumorscope.data.layouts import lgg_kaggle3m

        paths = lgg_kaggle3m.patient_dirs(source) or sorted(
            p for p in source.iterdir() if not p.name.startswith(".") and p.suffix.lower() not in NOT_CASES)
    if not paths:
        raise TumorscopeError("no cases: an archive is a folder of cases or a text file of case paths", source)
    cases: dict[str, str] = {}
    for p in paths:
        name = case_name(p)
        if name in cases:
            raise TumorscopeError(f"two cases would write to the same folder {name!r}: {cases[name]} and {p}", source)
        cases[name] = os.path.abspath(p)
    return list(cases.items())


def case_name(path: Path) -> str:
    """Output folder name of a case: its folder or file name without the image suffix (``.nii.gz`` as one)."""
    name = path.name or path.resolve().name
    for suffix in (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".dcm", ".tif", ".tiff", ".png", ".jpg", ".jpeg"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def finished(folder: Path, model: str, postprocessing: dict[str, Any]) -> dict[str, Any] | None:
    """The summary of a case already predicted by the same model and post-processing, else None."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    same = summary.get("model") == model and summary.get("postprocessing") == postprocessing
    return summary if same else None


def write_summary(out: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """archive.csv (atomically): one line per case, in the archive's order."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    write_text(out / SUMMARY, buf.getvalue())
    return out / SUMMARY


def _line(row: dict[str, Any], done: int, total: int) -> str:
    if row["status"] == "error":
        return f"[{done}/{total}] {row['case']}: error: {row['error']}"
    size = f"{row['volume_mm3']:.0f} mm^3" if row["volume_mm3"] is not None else f"{row['volume_pixels']} pixels"
    verdict = f"tumor found ({size})" if row["tumor_found"] else "no tumor found"
    return f"[{done}/{total}] {row['case']}: {verdict}"


def run_archive(args: argparse.Namespace, changes: dict[str, Any]) -> int:
    """``tumorscope predict -i ARCHIVE -o OUT [--engine local|ray]``: exit 0 when every case has its results,
    1 when some failed (each listed with its problem in archive.csv)."""
    from tumorscope.bundle import load_bundle

    if args.workers < 1 or args.batch_size < 1 or (args.threads is not None and args.threads < 1):
        raise TumorscopeError("--workers, --batch-size and --threads must be at least 1")
    if args.engine != "ray" and args.address:
        raise TumorscopeError("--address connects to a Ray cluster: use it with --engine ray")
    cases = list_cases(args.input)
    bundle = load_bundle(args.model)
    if bundle.task != "segmentation":
        raise TumorscopeError("archive prediction runs segmentation models", Path(args.model))
    post = replace(bundle.postprocess, **changes).to_dict()
    if args.out.is_file():
        raise TumorscopeError("output path exists and is a file", args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, path in cases:
        summary = finished(args.out / name, bundle.name, post)
        if summary is not None:
            rows[name] = result_row(name, path, "skipped", summary)
    todo = [c for c in cases if c[0] not in rows]
    workers = min(args.workers, max(1, len(todo)))
    batch_size = min(args.batch_size, -(-len(todo) // workers) or 1)  # at least one batch for each worker
    print(f"{len(cases)} cases: {len(rows)} finished before, {len(todo)} to predict "
          f"({args.engine or 'local'} engine, {workers} worker(s))")
    model = os.path.abspath(args.model) if Path(args.model).exists() else str(args.model)  # workers' cwd differ
    settings = Settings(model, changes, threads=args.threads or max(1, (os.cpu_count() or 1) // workers))
    if not todo:
        results: Iterable[dict[str, Any]] = ()
    elif args.engine == "ray":
        from tumorscope.predict.archive_ray import run_ray

        results = run_ray(todo, args.out, settings, workers, batch_size, args.address, args.threads)
    else:
        results = run_local(todo, args.out, settings, workers, batch_size)
    for i, row in enumerate(results, 1):
        rows[row["case"]] = row
        print(_line(row, i, len(todo)), flush=True)
    ordered = [rows[name] for name, _ in cases]
    failed = sum(r["status"] == "error" for r in ordered)
    table = write_summary(args.out, ordered)
    print(f"{len(ordered) - failed} of {len(ordered)} cases have results; {failed} failed; summary: {table}")
    return 1 if failed else 0
