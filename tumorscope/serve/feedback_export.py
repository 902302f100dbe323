"""The service's reviewed cases as a training dataset (``tumorscope feedback export``).

Each finished segmentation counts by its **latest** review: ``correct`` exports that corrected mask, ``accept``
the latest correction accepted with it (a reader who corrects, then accepts) or else the model's mask; ``reject`` (and anything unreviewed) is left out and counted. One case per patient
folder or input: when two predictions name the same case, the more recent review wins. The images are read
again from the stored upload exactly as the model read them.

Layouts the dataset readers already know (:mod:`tumorscope.data.layouts`):

* 2-D inputs (slices, kaggle_3m patient folders): ``OUT/kaggle_3m/<case>/<case>_<k>.tif`` + ``_<k>_mask.tif``
  (``lgg_kaggle3m``: ``tumorscope datasets inspect OUT`` and ``train --data OUT`` read them);
* volumes (NIfTI, DICOM series, multi-page TIFF): ``OUT/imagesTr/<case>_0000.nii.gz`` +
  ``OUT/labelsTr/<case>.nii.gz`` + ``OUT/dataset.json`` (``nnunet``; the image in its own geometry).

plus ``manifest.csv`` (one row per case) and ``provenance.json`` (source, selection rule, counts). The case
name is a zipped kaggle_3m patient folder's own name (its patient id is what the layout reads from it), else the
pseudonym ``case-`` + the first 12 hex digits of the input's SHA-256: never a DICOM header field, a file name
from the upload or a review comment. The folder is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tumorscope import __version__
from tumorscope.atomic import atomic_path
from tumorscope.data.layouts import lgg_kaggle3m
from tumorscope.errors import TumorscopeError
from tumorscope.predict.inputs import PredictInput
from tumorscope.predict.overlap import dice
from tumorscope.progress import progress
from tumorscope.serve.db import Prediction, Review, as_utc
from tumorscope.serve.errors import ServiceError
from tumorscope.serve.review import conform_mask, mask_stack
from tumorscope.serve.settings import Settings
from tumorscope.serve.uploads import prepare_input, read_upload, stored_upload
from tumorscope.serve.views import file_path

log = logging.getLogger(__name__)

DECISIONS = ("accept", "correct")  # the decisions whose case can be exported
PSEUDONYM = "case-"
SLICES_DIR = "kaggle_3m"
MANIFEST = "manifest.csv"
PROVENANCE = "provenance.json"
FORMAT_VERSION = 1
MANIFEST_FIELDS = ("patient_id", "case", "layout", "n_slices", "tumor_pixels", "decision", "mask_source",
                   "edit_dice", "prediction_id", "review_id", "reviewer", "reviewed_at", "model", "model_version",
                   "weights_sha256", "input_sha256", "input_kind")
COUNTS = ("exported", "accepted", "corrected")
EXCLUDED = ("rejected", "unreviewed", "not_included", "not_segmentation", "duplicates", "unreadable")


@dataclass
class Case:
    """One case being exported: the prediction, its latest review, the input as read and the mask to train on."""

    name: str
    prediction: Prediction
    review: Review
    input: PredictInput
    mask: np.ndarray  # (N, Y, X) bool
    edit_dice: float
    corrected: bool = False  # the mask is a reader's correction (not the model's)

    @property
    def layout(self) -> str:
        return "nnunet" if self.input.family == "volume" and self.input.volume is not None else "lgg_kaggle3m"


def export_feedback(engine: Engine, settings: Settings, out: Path, include: tuple[str, ...] = DECISIONS,
                    model: str | None = None) -> dict[str, Any]:
    """Write the accepted / corrected cases (``include``) of finished predictions (of ``model``, or all) to ``out``
    atomically, one case at a time; returns the provenance (with ``counts``). TumorscopeError when nothing is left
    to export or ``out`` is a folder that is not an earlier export."""
    bad = sorted(set(include) - set(DECISIONS))
    if bad or not include:
        raise TumorscopeError(f"--include takes {' and/or '.join(DECISIONS)}, not {','.join(bad) or 'nothing'}")
    _check_target(out)
    counts: Counter[str] = Counter({k: 0 for k in COUNTS + EXCLUDED})
    reviewed = _latest_reviews(engine, model, counts)
    rows: dict[str, dict[str, Any]] = {}  # case name -> manifest row
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for pred, review, correction in progress(reviewed, desc="exporting", total=len(reviewed)):
            if review.decision not in include:
                counts["rejected" if review.decision == "reject" else "not_included"] += 1
            elif not (pred.result or {}).get("mask_files"):
                counts["not_segmentation"] += 1
            elif (name := _readable(case_name, settings, pred)) in rows:
                counts["duplicates"] += 1  # an older review of a case exported already
            elif name is None or (case := _readable(_read_case, settings, pred, review, correction, name)) is None:
                counts["unreadable"] += 1
            else:
                rows[name] = _write_case(case, tmp)
        if not rows:
            raise TumorscopeError("nothing to export: no finished segmentation whose latest review is "
                                  f"{' or '.join(include)} ({_excluded(counts) or 'no reviewed predictions'})")
        manifest = [rows[k] for k in sorted(rows)]
        counts.update(exported=len(manifest), accepted=sum(r["decision"] == "accept" for r in manifest),
                      corrected=sum(r["decision"] == "correct" for r in manifest))
        _write_tables(tmp, manifest)
        provenance = _provenance(engine, settings, include, model, counts, manifest)
        (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return provenance


def _check_target(out: Path) -> None:
    """Replace only an earlier export (never a folder of something else: ``-o ~`` must not empty a home)."""
    if out.is_dir() and any(out.iterdir()) and not (out / PROVENANCE).is_file():
        raise TumorscopeError("exists and is not an earlier feedback export: choose a new folder", out)
    if out.exists() and not out.is_dir():
        raise TumorscopeError("exists and is not a folder", out)


def _latest_reviews(engine: Engine, model: str | None, counts: Counter[str]
                    ) -> list[tuple[Prediction, Review, Review | None]]:
    """Finished predictions (of ``model``) with their latest review and latest correction (None without one), the
    most recently reviewed first; the finished ones nobody reviewed are counted as ``unreviewed``."""
    wanted = [Prediction.status == "done"] + ([Prediction.model == model] if model is not None else [])
    latest = select(Review.prediction_id, func.max(Review.id).label("rid")).group_by(Review.prediction_id).subquery()
    with Session(engine, expire_on_commit=False) as s:
        rows = s.execute(select(Prediction, Review).join(latest, latest.c.prediction_id == Prediction.id)
                         .join(Review, Review.id == latest.c.rid).where(*wanted).order_by(Review.id.desc())).all()
        finished = s.scalar(select(func.count()).select_from(Prediction).where(*wanted)) or 0
        corrections = {r.prediction_id: r for r in s.scalars(select(Review).where(Review.decision == "correct")
                                                             .order_by(Review.id))}  # the latest one stays
        s.expunge_all()
    counts["unreviewed"] = int(finished) - len(rows)
    return [(p, r, corrections.get(p.id)) for p, r in rows]


T = TypeVar("T")


def _readable(read: Callable[..., T], settings: Settings, pred: Prediction, *args: Any) -> T | None:
    """``read(settings, pred, *args)``, or None (logged) when the prediction's stored files cannot be read."""
    try:
        return read(settings, pred, *args)
    except (ServiceError, TumorscopeError, OSError) as exc:
        log.warning("prediction %s: skipped, its stored files cannot be read (%s)", pred.id,
                    exc.message if isinstance(exc, ServiceError) else exc)
        return None


def _read_case(settings: Settings, pred: Prediction, review: Review, correction: Review | None, name: str) -> Case:
    """The case of ``pred`` as its review decided: the input read as the model read it, and the mask."""
    inp = read_upload(stored_upload(settings.uploads, pred.input_sha256, pred.input_kind),
                      series_uid=(pred.options or {}).get("series"))
    predicted = mask_stack([file_path(settings, pred, f) for f in (pred.result or {})["mask_files"]]) > 0
    mask, edit = predicted, 1.0
    if correction is not None:  # the latest review is this correction, or an accept of it
        mask = _corrected(settings, pred, correction, predicted.shape)
        edit = dice(predicted, mask)
    if mask.shape != inp.slices.shape[:3]:
        raise TumorscopeError(f"its mask {mask.shape} does not fit the input's {inp.slices.shape[:3]} slices")
    return Case(name, pred, review, inp, mask, edit, corrected=correction is not None)


def _corrected(settings: Settings, pred: Prediction, review: Review, shape: tuple[int, ...]) -> np.ndarray:
    from tumorscope.io import read_image

    if not review.corrected_mask:
        raise TumorscopeError("a correction without its mask")
    arr = conform_mask(np.asarray(read_image(file_path(settings, pred, review.corrected_mask)).array), shape)
    if arr is None:
        raise TumorscopeError(f"the corrected mask does not fit the prediction's {shape}")
    return arr > 0


def case_name(settings: Settings, pred: Prediction) -> str:
    """A zipped kaggle_3m patient folder's own name, else ``case-`` + 12 hex digits of the input's SHA-256."""
    path = prepare_input(stored_upload(settings.uploads, pred.input_sha256, pred.input_kind))
    if path.is_dir():
        found = lgg_kaggle3m.patient_dirs(path)
        if len(found) == 1:
            return found[0].name
    return PSEUDONYM + pred.input_sha256[:12]


def _excluded(counts: Counter[str]) -> str:
    return ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in EXCLUDED if counts[k])


def _write_case(case: Case, tmp: Path) -> dict[str, Any]:
    """Write one case into the export being built; its manifest row."""
    from tumorscope.io import write_image, write_mask

    if case.layout == "nnunet":
        assert case.input.volume is not None
        write_image(case.input.volume, tmp / "imagesTr" / f"{case.name}_0000.nii.gz")
        write_mask(case.mask, case.input.volume, tmp / "labelsTr" / f"{case.name}.nii.gz")
    else:
        _write_slices(case, tmp / SLICES_DIR / case.name)
    return _manifest_row(case)


def _write_tables(tmp: Path, manifest: list[dict[str, Any]]) -> None:
    """manifest.csv, and the nnU-Net dataset.json when there are volumes."""
    volumes = sum(r["layout"] == "nnunet" for r in manifest)
    if volumes:
        (tmp / "dataset.json").write_text(json.dumps({
            "name": "tumorscope feedback export", "channel_names": {"0": "image"},
            "labels": {"background": 0, "tumor": 1}, "numTraining": volumes, "file_ending": ".nii.gz"},
            indent=2) + "\n")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_FIELDS)
    writer.writeheader()
    writer.writerows(manifest)
    (tmp / MANIFEST).write_text(buf.getvalue(), encoding="utf-8")


def _provenance(engine: Engine, settings: Settings, include: tuple[str, ...], model: str | None,
                counts: Counter[str], manifest: list[dict[str, Any]]) -> dict[str, Any]:
    models = Counter((r["model"], r["model_version"], r["weights_sha256"]) for r in manifest)
    return {
        "format": "tumorscope feedback export", "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(), "tumorscope_version": __version__,
        "source": {"database": engine.url.render_as_string(hide_password=True),
                   "data_dir": str(settings.data_dir.resolve())},
        "selection": {"include": list(include), "model": model,
                      "rule": "the latest review of each finished segmentation: correct exports that corrected mask, "
                              "accept the latest correction before it or else the model's mask, reject and "
                              "unreviewed are left out; one case "
                              "per patient folder or input, the most recent review wins"},
        "counts": dict(counts),
        "patients": len({r["patient_id"] for r in manifest}),
        "layouts": sorted({r["layout"] for r in manifest}),
        "models": [{"name": n, "version": v, "weights_sha256": w, "cases": k} for (n, v, w), k in sorted(models.items())],
        "phi": "case names are a zipped kaggle_3m patient folder's name, else case- and the first 12 hex digits of "
               "the input's SHA-256; no DICOM header field, uploaded file name or review comment is copied",
    }


def _write_slices(case: Case, folder: Path) -> None:
    """kaggle_3m: ``<case>_<k>.tif`` (the pixels as read, lossless) and ``<case>_<k>_mask.tif`` (0 / 255)."""
    import tifffile  # the layout reads TIFF; tumorscope.io writes PNG and NIfTI only

    folder.mkdir(parents=True)
    numbers = _slice_numbers(case.name, case.input.names)
    for k, pixels, mask in zip(numbers, case.input.slices, case.mask):
        channels = pixels.shape[-1]
        image = pixels[..., 0] if channels == 1 else pixels
        tifffile.imwrite(folder / f"{case.name}_{k}.tif", image, compression="zlib",
                         photometric="rgb" if channels in (3, 4) else "minisblack")
        tifffile.imwrite(folder / f"{case.name}_{k}_mask.tif", mask.astype(np.uint8) * np.uint8(255),
                         compression="zlib", photometric="minisblack")


def _slice_numbers(name: str, stems: list[str]) -> list[int]:
    """A kaggle_3m patient's own slice numbers (``<name>_<k>``), else 1..N in the input's order."""
    pattern = re.compile(rf"^{re.escape(name)}_(\d+)$")
    found = [pattern.match(s) for s in stems]
    numbers = [int(m[1]) for m in found if m]
    if len(numbers) == len(stems) and len(set(numbers)) == len(numbers):
        return numbers
    return list(range(1, len(stems) + 1))


def _manifest_row(case: Case) -> dict[str, Any]:
    pred, review = case.prediction, case.review
    reviewed = as_utc(review.created_at)
    return {
        "patient_id": lgg_kaggle3m.patient_id(case.name), "case": case.name, "layout": case.layout,
        "n_slices": int(case.mask.shape[0]), "tumor_pixels": int(case.mask.sum()), "decision": review.decision,
        "mask_source": "corrected" if case.corrected else "model", "edit_dice": round(case.edit_dice, 4),
        "prediction_id": pred.id, "review_id": review.id, "reviewer": review.reviewer,
        "reviewed_at": reviewed.isoformat() if reviewed else "", "model": pred.model,
        "model_version": pred.model_version, "weights_sha256": pred.weights_sha256,
        "input_sha256": pred.input_sha256, "input_kind": pred.input_kind,
    }
