"""``tumorscope deid IN OUT``: de-identify a folder of DICOM files (PS3.15 Annex E Basic Profile)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

_EPILOG = """\
what it does (docs/deid.md):
  every attribute in DICOM PS3.15 Table E.1-1 gets the table's action (remove, empty, dummy value,
  new UID), private tags are removed, descriptions and comments are removed, and
  PatientIdentityRemoved=YES with DeidentificationMethod(CodeSequence) is set.
  UIDs map reproducibly: the same input UID and salt always give the same output UID, so a series
  de-identified twice (or its later images) still joins up. Dates move back by 1-3650 days, the
  same offset for every file of a patient (--keep-dates shift), or are blanked (--keep-dates remove).
refused unless --allow-burned-in (header rules cannot remove text drawn into pixels):
  BurnedInAnnotation=YES, secondary captures (screenshots, scans), ultrasound.
the salt:
  required (--salt or TUMORSCOPE_DEID_SALT); keep it secret and the same across a site's runs.
example:
  TUMORSCOPE_DEID_SALT=$(cat /secure/deid-salt) tumorscope deid ./incoming ./deid
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deid", help="de-identify DICOM files (PS3.15 Basic Application Confidentiality Profile)",
                       description="Write de-identified copies of every DICOM file under IN into the new folder "
                       "OUT (atomically: all files or none), named by their new SOP Instance UIDs.",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, metavar="IN", help="folder of DICOM files (searched at any depth)")
    p.add_argument("output", type=Path, metavar="OUT", help="folder to write (replaced when it exists)")
    p.add_argument("--keep-dates", choices=("shift", "remove"), default="shift",
                   help="shift dates per patient by a salted offset (default) or remove them")
    p.add_argument("--salt", metavar="S", help="secret for the UID and date mapping "
                   "(default: $TUMORSCOPE_DEID_SALT; one of the two is required)")
    p.add_argument("--allow-burned-in", action="store_true",
                   help="also de-identify images that may carry text in their pixels (check them first)")
    p.set_defaults(func=_cmd_deid)


def _cmd_deid(args: argparse.Namespace) -> int:
    from tumorscope.pacs.deid import SALT_ENV, deidentify_tree

    salt = args.salt or os.environ.get(SALT_ENV, "")
    s = deidentify_tree(args.input, args.output, salt, args.keep_dates, args.allow_burned_in)
    print(f"de-identified {s['files']} file(s) of {s['series']} series, {s['studies']} study(ies), "
          f"{s['patients']} patient(s) into {args.output}; {s['skipped']} non-DICOM file(s) left out")
    return 0
