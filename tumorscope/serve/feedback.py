"""``tumorscope feedback export``: close the loop from the service's reviews back to training."""

from __future__ import annotations

import argparse
from pathlib import Path

from tumorscope.serve.cli import data_options

_EPILOG = """\
example (the loop: export, fine-tune, compare on held-out patients; docs/feedback.md):
  tumorscope feedback export --data-dir tumorscope-data --model lgg-flair-seg -o feedback/
  tumorscope datasets inspect feedback/
  tumorscope train --task segmentation --data feedback/ --init runs/seg --out runs/seg_feedback
  tumorscope evaluate --model runs/seg_feedback --data HELD_OUT_DIR --out eval_after/

Each finished segmentation counts by its latest review: accept exports the model's mask, correct the reviewer's
corrected mask, reject and unreviewed are left out (and counted). 2-D inputs are written as kaggle_3m patient
folders (OUT/kaggle_3m/<case>/), volumes as an nnU-Net dataset (OUT/imagesTr, OUT/labelsTr, OUT/dataset.json),
with OUT/manifest.csv (patient, prediction, model version, decision, reviewer, time, input SHA-256, edit Dice)
and OUT/provenance.json. Case names: a zipped kaggle_3m patient folder's own name, else case-<first 12 hex
digits of the input's SHA-256> (never a DICOM header field or an uploaded file name). Run it on the
service's machine; it reads the database and the data dir, and may unpack a stored zip there."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("feedback", help="turn reviewed predictions of the service into a training dataset",
                       description="The service's feedback loop: reviewed cases back to training.")
    fsub = p.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    e = fsub.add_parser("export", help="write the accepted and corrected cases as a dataset train reads",
                        description="Write the cases whose latest review is accept or correct as a dataset "
                        "(images + masks + manifest.csv + provenance.json), atomically.",
                        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_options(e)
    e.add_argument("-o", "--out", required=True, type=Path, metavar="OUT",
                   help="folder to write (a new one, or an earlier export, which is replaced)")
    e.add_argument("--include", default="accept,correct", metavar="DECISIONS",
                   help="which latest decisions to export, comma-separated: accept, correct (default: both)")
    e.add_argument("--model", metavar="NAME", help="only predictions of this model (default: every model)")
    e.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from tumorscope.serve.db import open_database
    from tumorscope.serve.feedback_export import EXCLUDED, SLICES_DIR, export_feedback
    from tumorscope.serve.settings import Settings

    settings = Settings(data_dir=args.data_dir, db=args.db)
    include = tuple(d.strip() for d in args.include.split(",") if d.strip())
    prov = export_feedback(open_database(settings.db_url), settings, args.out, include, args.model)
    c = prov["counts"]
    print(f"exported {c['exported']} case(s) of {prov['patients']} patient(s) to {args.out}: {c['accepted']} accepted "
          f"(the model's mask), {c['corrected']} corrected (the reviewer's mask)")
    print("left out: " + ", ".join(f"{c[k]} {k.replace('_', ' ')}" for k in EXCLUDED))
    for m in prov["models"]:
        print(f"model: {m['name']} {m['version']} ({m['cases']} case(s))")
    where = {"lgg_kaggle3m": f"{args.out / SLICES_DIR} (kaggle_3m slices)",
             "nnunet": f"{args.out} imagesTr/labelsTr (nnU-Net volumes)"}
    print("layout: " + "; ".join(where[name] for name in prov["layouts"]))
    if len(prov["layouts"]) > 1:
        print("note: `--data OUT` reads the kaggle_3m slices (detected first); export one model with --model, or read "
              "the volumes with load_dataset(OUT, layout='nnunet')")
    print(f"manifest: {args.out / 'manifest.csv'}  provenance: {args.out / 'provenance.json'}")
    return 0
