"""``tumorscope models publish``: a classifier from its CV folder, or the ``lgg-flair-seg`` ensemble from its
candidate CVs, into the zoo (bundle, headline metrics, model card)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tumorscope.errors import TumorscopeError

SEGMENTATION = "lgg-flair-seg"
CLASSIFIERS = ("brain-mri-tumor-type", "breast-us-lesion", "colon-histo-tumor")  # recipes.RECIPES (a test checks)
EPILOG = """\
examples:
  # a classifier: one CV fold's model (or --final RUN: the recipe retrained on every image), the CV's numbers
  tumorscope models publish brain-mri-tumor-type runs/cls14/brain_e3d3r_last_mirror --final runs/cls14/final_e3d3r \\
      --extra "new seeds"=runs/cls15/brain_e3d3r_s345
  # the segmentation ensemble: the candidate with the best validation Dice of its CV folds ships
  tumorscope models publish lgg-flair-seg --cv runs/seg/cv_ens3 runs/seg/cv_ens4 \\
      --final runs/seg/final_ens3 runs/seg/final_ens4 --flair-only runs/seg/cv_ens_flair"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=sorted([*CLASSIFIERS, SEGMENTATION]), help="the zoo model to (re)write")
    p.add_argument("cv_dir", nargs="?", type=Path, help="classifiers: the recipe's CV folder (cv_summary.json)")
    p.add_argument("--fold", type=int, default=0, help="classifiers: which fold's model to bundle (default 0)")
    p.add_argument("--extra", nargs="*", default=[], metavar="LABEL=EVAL_DIR", help="classifiers: extra results for "
                   "the card: an evaluation folder (metrics.json) or another CV of the recipe (a replication)")
    p.add_argument("--final", type=Path, nargs="+", metavar="RUN", help="classifiers: bundle this run (or ensemble) "
                   "of the recipe trained on every image (--val-fraction 0) instead of a CV fold's model; "
                   f"{SEGMENTATION}: the candidates trained on all patients, in the order of --cv")
    p.add_argument("--cv", type=Path, nargs="+", metavar="DIR", help=f"{SEGMENTATION}: candidate ensembled CV folders")
    p.add_argument("--flair-only", type=Path, metavar="DIR",
                   help=f"{SEGMENTATION}: ensembled CV of the FLAIR-only members (single-sequence input)")
    p.add_argument("--data", type=Path, help=f"{SEGMENTATION}: the dataset (for the demo example)")
    p.add_argument("--zoo", type=Path, help="zoo folder to write into (default: the package's)")


def register(msub: argparse._SubParsersAction) -> None:
    q = msub.add_parser("publish", help="write a zoo model (bundle, headline metrics, model card) from its runs",
                        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(q)
    q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tumorscope.bundle.bundle import ZOO

    zoo = args.zoo or ZOO
    if args.name == SEGMENTATION:
        from tumorscope.bundle.publish.segmentation import DATA, publish_segmentation

        if not args.cv or not args.final:
            raise TumorscopeError(f"{SEGMENTATION} needs --cv DIR [DIR ...] and --final DIR [DIR ...]")
        out = publish_segmentation(args.cv, args.final, args.flair_only, args.data or Path(DATA), zoo=zoo)
    else:
        from tumorscope.bundle.publish.write import publish

        if args.cv_dir is None or args.cv or args.flair_only:
            raise TumorscopeError(f"{args.name} needs its CV folder (CV_DIR); --cv / --flair-only are for {SEGMENTATION}")
        if args.final and len(args.final) > 1:
            raise TumorscopeError("--final takes one run (or ensemble) for a classifier")
        bad = [e for e in args.extra if "=" not in e]
        if bad:
            raise TumorscopeError(f"--extra {bad[0]!r}: use LABEL=EVAL_DIR")
        extras = {label: Path(path) for label, path in (e.split("=", 1) for e in args.extra)}
        out = publish(args.name, args.cv_dir, extras, zoo=zoo, fold=args.fold,
                      final=args.final[0] if args.final else None)
    print(f"written: {out}")
    return 0
