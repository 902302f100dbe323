"""``tumorscope pacs pull|push``: move DICOM studies between a PACS (DICOMweb) and local files."""

from __future__ import annotations

import argparse
from pathlib import Path

_EPILOG = """\
examples:
  tumorscope pacs pull --url http://pacs:8042/dicom-web --study 1.2.840.113619.2.1 -o ./study
  tumorscope pacs push --url http://pacs:8042/dicom-web ./series_dir extra.dcm
pull writes every instance of the study (WADO-RS) as <SOPInstanceUID>.dcm, each file atomically;
push stores the files (folders: their .dcm files at any depth) with STOW-RS.
An unreachable server or an HTTP error prints one line and exits with code 2.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pacs", help="pull a study from / push DICOM files to a PACS over DICOMweb",
                       description="Exchange DICOM with a PACS through its DICOMweb (WADO-RS, STOW-RS) endpoint.",
                       epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)
    pull = actions.add_parser("pull", help="retrieve every instance of a study into a folder (WADO-RS)")
    pull.add_argument("--url", required=True, help="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    pull.add_argument("--study", required=True, metavar="UID", help="Study Instance UID")
    pull.add_argument("-o", "--out", required=True, type=Path, metavar="DIR", help="folder to write into")
    pull.set_defaults(func=_cmd_pull)
    push = actions.add_parser("push", help="store DICOM files on the server (STOW-RS)")
    push.add_argument("--url", required=True, help="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    push.add_argument("files", nargs="+", type=Path, metavar="FILES",
                      help="DICOM files or folders (a folder's .dcm files, at any depth)")
    push.set_defaults(func=_cmd_push)


def _cmd_pull(args: argparse.Namespace) -> int:
    from tumorscope.pacs.dicomweb import pull_study

    written = pull_study(args.url, args.study, args.out)
    print(f"pulled {len(written)} instance(s) of study {args.study} into {args.out}")
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from tumorscope.pacs.dicomweb import push_files

    n = push_files(args.url, args.files)
    print(f"pushed {n} instance(s) to {args.url}")
    return 0
