"""``tumorscope consensus``: combine several readers' masks with STAPLE and report their agreement.

Two sources of masks: files given on the command line, or the reviews a service stored for a prediction
(each reviewer's latest review counts: ``correct`` brings its corrected mask, ``accept`` the AI mask,
``reject`` no mask). In service mode Fleiss' kappa of the decisions (accept/reject/correct) over every
prediction with at least two reviewers is reported too. The statistics are :mod:`tumorscope.evaluate.consensus`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.errors import TumorscopeError
from tumorscope.evaluate.consensus import DEFAULT_MAX_ITERATIONS, ConsensusReport
from tumorscope.serve.settings import DEFAULT_DATA_DIR

DECISIONS = ("accept", "reject", "correct")

_EPILOG = """\
examples:
  tumorscope consensus --masks reader1.nii.gz reader2.nii.gz reader3.nii.gz -o consensus/
  tumorscope consensus --masks a.png b.png c.png --threshold 0.5 --fraction 0.5 -o consensus/
  tumorscope consensus --data-dir tumorscope-data --prediction 3f2c...e1 -o consensus/
  tumorscope consensus --db postgresql://ts@db:5432/ts --data-dir /srv/ts --all -o consensus/

Writes OUT_DIR/consensus_mask.png (2-D masks from PNG/TIFF/BMP files) or consensus_mask.nii.gz (volumes,
NIfTI inputs), probability_map.nii.gz (STAPLE's per-voxel probability of foreground) and report.json
(pairwise Dice between readers, STAPLE's sensitivity and specificity per reader, each reader's Dice
against STAPLE, STAPLE vs the majority mask). The folder is written atomically (all files or none).

Service mode reads the reviews of --data-dir's database (or --db): for each reviewer their latest review
counts; 'correct' brings the corrected mask, 'accept' the AI mask, 'reject' no mask. report.json adds
Fleiss' kappa of the decisions over all predictions with at least 2 reviewers. --all writes one folder
per prediction with at least 2 reader masks, and OUT_DIR/report.json with the overview."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("consensus", help="STAPLE consensus of several readers' masks and their agreement",
                       description="Combine readers' masks (files, or a service's reviews) with STAPLE; report "
                       "pairwise Dice, per-reader sensitivity/specificity and Fleiss' kappa of review decisions.",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--masks", nargs="+", type=Path, metavar="FILE",
                        help="two or more readers' masks of one image (NIfTI, PNG, TIFF, BMP, DICOM)")
    source.add_argument("--prediction", metavar="ID", help="a service prediction whose reviews bring the masks")
    source.add_argument("--all", action="store_true", help="every service prediction with at least 2 reader masks")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUT_DIR")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help=f"service mode: the service's data dir (default: {DEFAULT_DATA_DIR})")
    p.add_argument("--db", metavar="URL", help="service mode: database URL (default: sqlite:///DATA_DIR/tumorscope.db)")
    p.add_argument("--threshold", type=float, default=0.5, metavar="P", help="STAPLE probability a consensus voxel needs (default 0.5)")
    p.add_argument("--fraction", type=float, default=0.5, metavar="F",
                   help="fraction of readers a majority voxel needs, for the comparison (default 0.5)")
    p.add_argument("--max-iterations", type=int, default=DEFAULT_MAX_ITERATIONS, metavar="N",
                   help=f"STAPLE's EM iterations at most (default {DEFAULT_MAX_ITERATIONS})")
    p.set_defaults(func=_cmd_consensus)


def _cmd_consensus(args: argparse.Namespace) -> int:
    from tumorscope.evaluate.consensus import consensus_report
    from tumorscope.evaluate.consensus_io import mask_suffix, read_reader_masks, write_consensus

    if args.masks:
        if args.db or args.data_dir:
            raise TumorscopeError("--db and --data-dir are for service mode (--prediction, --all), not --masks")
        masks, like = read_reader_masks(args.masks)
        report, result, _ = consensus_report(masks, [str(p) for p in args.masks], args.threshold, args.fraction,
                                             args.max_iterations)
        write_consensus(args.out, report, result, like, mask_suffix(like, args.masks))
        print(_summary(report, args.out))
        return 0
    return _service(args)


def _summary(report: ConsensusReport, out: Path) -> str:
    pw = report.pairwise_dice
    return (f"{len(report.readers)} readers: pairwise Dice mean {pw.mean:.3f} (min {pw.min:.3f}), "
            f"STAPLE vs {report.majority_fraction:g} majority Dice {report.staple_vs_majority_dice:.3f}; wrote {out}")


@dataclass(frozen=True)
class ReaderMask:
    """One reviewer's latest review of a prediction and the mask files it brings (none for ``reject``)."""

    reviewer: str
    decision: str
    review_id: int
    files: tuple[str, ...]  # names under the prediction (``reviews/...`` or the result's mask files)


def latest_reviews(session: Any) -> dict[str, list[Any]]:
    """Each prediction's reviews, only the latest per reviewer, ordered by reviewer name."""
    from sqlalchemy import select

    from tumorscope.serve.db import Review

    latest: dict[str, dict[str, Any]] = {}
    for row in session.scalars(select(Review).order_by(Review.created_at, Review.id)):
        latest.setdefault(row.prediction_id, {})[row.reviewer] = row
    return {pid: [rows[name] for name in sorted(rows)] for pid, rows in latest.items()}


def reader_masks(pred: Any, reviews: Sequence[Any]) -> list[ReaderMask]:
    """What each review brings: the corrected mask, the AI mask (its result's mask files), or nothing."""
    ai = tuple((pred.result or {}).get("mask_files") or ())
    out = []
    for r in reviews:
        files = (r.corrected_mask,) if r.decision == "correct" and r.corrected_mask else ai if r.decision == "accept" else ()
        out.append(ReaderMask(r.reviewer, r.decision, r.id, files))
    return out


def decision_agreement(by_prediction: dict[str, list[Any]]) -> dict[str, Any]:
    """Fleiss' kappa of the decisions over predictions with at least 2 reviewers."""
    from tumorscope.evaluate.consensus import category_counts, fleiss_kappa

    rated = {pid: [r.decision for r in rows] for pid, rows in sorted(by_prediction.items()) if len(rows) >= 2}
    out: dict[str, Any] = {"categories": list(DECISIONS), "n_predictions": len(rated),
                           "n_decisions": sum(len(v) for v in rated.values()), "fleiss_kappa": None}
    if rated:
        counts, _ = category_counts(list(rated.values()), DECISIONS)
        out["fleiss_kappa"] = fleiss_kappa(counts)
        out["decision_totals"] = dict(zip(DECISIONS, counts.sum(axis=0).tolist()))
    else:
        out["note"] = "no prediction has 2 or more reviewers"
    return out


def _load(settings: Any, pred: Any, names: Sequence[str]) -> tuple[np.ndarray, Any]:
    """A mask of the prediction (one file, or one per slice stacked) and the first file's image."""
    from tumorscope.evaluate.consensus_io import mask_pixels
    from tumorscope.io import read_image
    from tumorscope.serve.errors import ServiceError
    from tumorscope.serve.views import file_path

    try:
        paths = [file_path(settings, pred, n) for n in names]
    except ServiceError as exc:
        raise TumorscopeError(exc.message) from None
    images = [read_image(p) for p in paths]
    arrays = [mask_pixels(img) for img in images]
    return (np.stack(arrays) if len(arrays) > 1 or arrays[0].ndim == 2 else arrays[0]), images[0]


def _fit(arr: np.ndarray, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A mask in the reference shape; a single slice given as (Y, X) or (1, Y, X) is the same slice."""
    if arr.shape == shape:
        return arr
    squeezed = arr.reshape(arr.shape[1:]) if arr.ndim == 3 and arr.shape[0] == 1 else arr
    if squeezed.shape == shape:
        return squeezed
    if (1, *squeezed.shape) == shape:
        return squeezed[None]
    raise TumorscopeError(f"{where}: mask shape {arr.shape} differs from the prediction's {shape}")


def prediction_consensus(session: Any, settings: Any, pid: str, reviews: Sequence[Any], args: argparse.Namespace
                         ) -> tuple[ConsensusReport, Any, Any, str]:
    """The consensus of a prediction's reader masks: (report, STAPLE result, geometry image, mask suffix)."""
    from tumorscope.evaluate.consensus import check_masks, consensus_report
    from tumorscope.evaluate.consensus_io import mask_suffix
    from tumorscope.io import Image

    pred = _prediction(session, pid)
    readers = reader_masks(pred, reviews)
    with_mask = [r for r in readers if r.files]
    if len(with_mask) < 2:
        raise TumorscopeError(f"prediction {pid} has {len(with_mask)} reader mask(s) among {len(readers)} reviewer(s) "
                              "(accept or correct); consensus needs at least 2")
    ai_names = (pred.result or {}).get("mask_files") or []
    if not ai_names:
        raise TumorscopeError(f"prediction {pid} has no mask (a classification): nothing to combine")
    ref, like = _load(settings, pred, ai_names)
    if like.spatial_ndim == 2:  # one mask file per slice: (Y, X) for one slice, else (N, Y, X) without geometry
        shape = ref.shape[1:] if ref.shape[0] == 1 else ref.shape
        like = Image.from_array(np.zeros((*shape, 1), np.uint8))
    masks = [_fit(_load(settings, pred, r.files)[0], like.spatial_shape, f"review {r.review_id} by {r.reviewer}")
             for r in with_mask]
    check_masks(masks, [f"{r.files[0]} ({r.reviewer}, {r.decision})" for r in with_mask])  # errors name the file
    report, result, _ = consensus_report(masks, [r.reviewer for r in with_mask], args.threshold, args.fraction,
                                         args.max_iterations)
    report.extra.update(prediction=pid, model=pred.model, model_version=pred.model_version, reader_details=[
        {"reviewer": r.reviewer, "decision": r.decision, "review_id": r.review_id, "mask": list(r.files) or None}
        for r in readers])
    ext = mask_suffix(like, [n for r in with_mask for n in r.files])
    return report, result, like, ext


def _prediction(session: Any, pid: str) -> Any:
    from tumorscope.serve.errors import ServiceError
    from tumorscope.serve.views import get_prediction

    try:
        pred = get_prediction(session, pid)
    except ServiceError as exc:
        raise TumorscopeError(exc.message) from None
    if pred.status != "done":
        raise TumorscopeError(f"prediction {pid} is {pred.status}: it has no mask yet")
    return pred


def _service(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from tumorscope.atomic import atomic_path
    from tumorscope.evaluate.consensus import json_text
    from tumorscope.evaluate.consensus_io import REPORT_NAME, write_consensus, write_consensus_files
    from tumorscope.serve.db import open_database
    from tumorscope.serve.settings import Settings

    settings = Settings(data_dir=args.data_dir or DEFAULT_DATA_DIR, db=args.db)
    default_db = settings.data_dir / "tumorscope.db"
    if not args.db and not default_db.is_file():  # a reading command must not create an empty service
        raise TumorscopeError("no service database here: give the service's --data-dir (or --db)", default_db)
    engine = open_database(settings.db_url)
    with Session(engine) as s:
        everyone = latest_reviews(s)
        agreement = decision_agreement(everyone)
        if args.prediction:
            report, result, like, ext = prediction_consensus(s, settings, args.prediction,
                                                             everyone.get(args.prediction, []), args)
            report.extra["decision_agreement"] = agreement
            write_consensus(args.out, report, result, like, ext)
            print(_summary(report, args.out))
            print(_kappa_line(agreement))
            return 0
        overview: dict[str, Any] = {"decision_agreement": agreement, "predictions": {}, "skipped": {}}
        with atomic_path(args.out) as tmp:
            tmp.mkdir()
            for pid, rows in sorted(everyone.items()):
                try:
                    report, result, like, ext = prediction_consensus(s, settings, pid, rows, args)
                except TumorscopeError as exc:
                    overview["skipped"][pid] = exc.problem
                    continue
                (tmp / pid).mkdir()
                write_consensus_files(tmp / pid, report, result, like, ext)
                overview["predictions"][pid] = {
                    "readers": report.readers, "pairwise_dice_mean": report.pairwise_dice.mean,
                    "pairwise_dice_min": report.pairwise_dice.min,
                    "staple_vs_majority_dice": report.staple_vs_majority_dice}
            (tmp / REPORT_NAME).write_text(json_text(overview), encoding="utf-8")
    print(f"{len(overview['predictions'])} prediction(s) with 2+ reader masks, {len(overview['skipped'])} skipped; "
          f"wrote {args.out}")
    print(_kappa_line(agreement))
    return 0


def _kappa_line(agreement: dict[str, Any]) -> str:
    kappa = agreement["fleiss_kappa"]
    shown = "undefined" if kappa is None or kappa != kappa else f"{kappa:.3f}"
    return (f"Fleiss' kappa of review decisions: {shown} over {agreement['n_predictions']} prediction(s) "
            f"with 2+ reviewers")
