"""``tumorscope pacs pull|push|watch|status``: move DICOM between a PACS (DICOMweb) and local files, and run the
models on new series as they arrive."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tumorscope.pacs.queue import Retry, SeriesQueue
    from tumorscope.serve.db import PacsSeries

_EPILOG = """\
examples:
  tumorscope pacs pull --url http://pacs:8042/dicom-web --study 1.2.840.113619.2.1 -o ./study
  tumorscope pacs push --url http://pacs:8042/dicom-web ./series_dir extra.dcm
  tumorscope pacs watch --url http://pacs:8042/dicom-web --filter Modality=MR --once
  tumorscope pacs status
pull writes every instance of the study (WADO-RS) as <SOPInstanceUID>.dcm, each file atomically;
push stores the files (folders: their .dcm files at any depth) with STOW-RS;
watch segments each new series and stores DICOM SEG + SR + overlay into its study; status shows its queue.
An unreachable server or an HTTP error prints one line and exits with code 2.
"""
_WATCH_EPILOG = """\
examples:
  tumorscope pacs watch --url http://127.0.0.1:8042/dicom-web --once
  tumorscope pacs watch --url URL --filter Modality=MR --filter 'SeriesDescription=*flair*' --interval 60
  tumorscope pacs watch --url URL --filter 'ImageType=ORIGINAL\\PRIMARY' --filter 'SliceThickness<=5' --deid --salt S
filters (all must hold; a series missing a filtered attribute is not taken):
  KEY=VALUE     Modality, BodyPartExamined: equal without case, alternatives with | (Modality=CT|MR)
                SeriesDescription: shell pattern (*flair*); ImageType: every listed value (ORIGINAL\\PRIMARY)
  KEY!=VALUE    the opposite;  KEY~REGEX  regular expression search (SeriesDescription~t2.*flair)
  SliceThickness<=MM (also <, >, >=, =)
Only CT and MR image series are candidates; SEG, SR and secondary captures (tumorscope's own too) never are.
With --model auto each series gets the bundled segmentation model made for its modality; series with none
are passed over (logged). The queue lives in the service's database (DATA_DIR/tumorscope.db, or --db):
one row per series and model version, so a restarted watcher (even after kill -9) neither loses nor repeats
a series; failures retry with backoff (--retries, --backoff). Log lines never print header text.
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
    _register_watch(actions)
    _register_status(actions)


def _database_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=Path("tumorscope-data"), metavar="DIR",
                   help="where the queue's database and each series' results live (default: tumorscope-data, "
                        "as tumorscope serve)")
    p.add_argument("--db", metavar="URL", help="database URL instead of DATA_DIR/tumorscope.db "
                                                "(postgresql://user@host/db)")


def _register_watch(actions: argparse._SubParsersAction) -> None:
    w = actions.add_parser("watch", help="segment new series on a PACS and store SEG + SR + overlay back",
                           description="Poll a PACS (QIDO-RS) for new series, retrieve each (WADO-RS), run the "
                                       "matching segmentation model and store a DICOM SEG, a TID 1500 measurement "
                                       "report SR and a Secondary Capture overlay series in the same study (STOW-RS).",
                           epilog=_WATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("--url", required=True, help="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    w.add_argument("--model", default="auto", help="bundle name or folder, or auto: by the series' modality "
                                                   "(default: auto)")
    w.add_argument("--filter", dest="filters", action="append", default=[], metavar="RULE",
                   help="series selection rule, repeatable (see below)")
    w.add_argument("--interval", type=float, default=30.0, metavar="S", help="seconds between looks (default 30)")
    w.add_argument("--once", action="store_true", help="process everything pending, then exit")
    w.add_argument("--deid", action="store_true",
                   help="de-identify each series (tumorscope deid) before the model or any kept file sees it")
    w.add_argument("--salt", help="--deid's salt (or the TUMORSCOPE_DEID_SALT environment variable)")
    w.add_argument("--keep-dates", choices=("shift", "remove"), default="shift", help="--deid's dates (default shift)")
    w.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="seconds to wait for each DICOMweb answer (default 120)")
    w.add_argument("--retries", type=int, default=5, metavar="N", help="tries per series before it fails (default 5)")
    w.add_argument("--backoff", type=float, default=2.0, metavar="S",
                   help="wait before the first retry, doubled each time (default 2)")
    _database_options(w)
    w.set_defaults(func=_cmd_watch)


def _register_status(actions: argparse._SubParsersAction) -> None:
    s = actions.add_parser("status", help="the watcher's queue: each series' state",
                           description="Show pacs watch's queue: one line per series and model version.")
    s.add_argument("--state", choices=("queued", "running", "done", "failed"), help="only rows in this state")
    s.add_argument("--limit", type=int, default=50, metavar="N", help="newest N rows (default 50)")
    s.add_argument("--json", action="store_true", help="print JSON (every field) instead of a table")
    s.add_argument("--retry-failed", action="store_true", help="queue failed series again, then show the queue")
    _database_options(s)
    s.set_defaults(func=_cmd_status)


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


def _queue(args: argparse.Namespace, retry: Retry | None = None) -> SeriesQueue:
    from tumorscope.pacs.queue import SeriesQueue
    from tumorscope.serve.db import open_database
    from tumorscope.serve.settings import database_url

    return SeriesQueue(open_database(database_url(args.db, args.data_dir)), retry=retry)


def _cmd_watch(args: argparse.Namespace) -> int:
    import os

    from tumorscope.errors import TumorscopeError
    from tumorscope.pacs.deid import SALT_ENV
    from tumorscope.pacs.queue import Retry
    from tumorscope.pacs.select import parse_rule
    from tumorscope.pacs.watch import Watcher, WatchOptions

    rules = [parse_rule(r) for r in args.filters]
    salt = args.salt or os.environ.get(SALT_ENV)
    if args.deid and not salt:
        raise TumorscopeError(f"--deid needs a salt (--salt or {SALT_ENV}): it keeps the UID mapping per site")
    for name in ("interval", "timeout", "backoff"):
        if getattr(args, name) <= 0:
            raise TumorscopeError(f"--{name} must be positive, got {getattr(args, name)}")
    if args.retries < 1:
        raise TumorscopeError(f"--retries must be at least 1, got {args.retries}")
    queue = _queue(args, retry=Retry(max_attempts=args.retries, backoff_s=args.backoff))
    options = WatchOptions(url=args.url, data_dir=args.data_dir, model=args.model, rules=rules,
                           interval=args.interval, deid=args.deid, salt=salt, dates=args.keep_dates,
                           timeout=(min(5.0, args.timeout), args.timeout))
    counts = Watcher(options, queue).run(once=args.once)
    print("queue: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    return 0 if counts["failed"] == 0 else 1


def _cmd_status(args: argparse.Namespace) -> int:
    import json

    queue = _queue(args)
    if args.retry_failed:
        print(f"queued {queue.retry_failed()} failed series again")
    rows = queue.rows(args.state, args.limit)
    if args.json:
        fields = ("id", "status", "modality", "model", "model_version", "study_uid", "series_uid", "source",
                  "attempts", "created_at", "updated_at", "finished_at", "error", "result")
        print(json.dumps([{f: _plain(getattr(r, f)) for f in fields} for r in rows], indent=2))
        return 0
    counts = queue.counts()
    print("queue: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    if rows:
        print(f"{'#':>5}  {'state':<8} {'mod':<4} {'model':<20} {'tries':>5}  {'updated (UTC)':<19}  note")
    for r in rows:
        print(f"{r.id:>5}  {r.status:<8} {r.modality:<4} {r.model[:20]:<20} {r.attempts:>5}  "
              f"{str(_plain(r.updated_at))[:19]:<19}  {_note(r)}")
    return 0


def _plain(value: object) -> object:
    from datetime import datetime

    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


def _note(row: PacsSeries) -> str:
    from tumorscope.pacs.queue import describe

    return describe(row.result) if row.result else (row.error or "")[:80]
