"""``tumorscope serve`` (the REST service) and ``tumorscope users add|list|remove`` (its accounts)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tumorscope.serve.settings import DEFAULT_DATA_DIR, DEFAULT_MAX_UPLOAD

_SERVE_EPILOG = """\
walk-through (two terminals):
  tumorscope users add alice --role clinician          # prints alice's API token once
  tumorscope serve                                     # http://127.0.0.1:8000, docs at /docs
  curl -s -H "Authorization: Bearer $TOKEN" -F file=@slice.tif -F model=lgg-flair-seg \\
       -H "Prefer: wait=30" http://127.0.0.1:8000/v1/predictions
  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/v1/predictions/ID/files/summary.json

State lives in --data-dir (uploads, results, reviews, installed models) and the database: SQLite in the
data dir by default, or PostgreSQL with --db postgresql://USER@HOST:PORT/DB. Jobs queued or running when
the server stops are run after it starts again. Put it behind your reverse proxy for TLS."""


def data_options(p: argparse.ArgumentParser) -> None:
    """--data-dir and --db: where the service keeps its state."""
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help=f"where uploads, results and the default SQLite database live (default: {DEFAULT_DATA_DIR})")
    p.add_argument("--db", metavar="URL",
                   help="database URL: sqlite:///PATH or postgresql://USER[:PASS]@HOST:PORT/DB "
                        "(default: sqlite:///DATA_DIR/tumorscope.db)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the REST service (accounts, job queue, audit trail, metrics)",
                       description="Serve tumorscope's models over HTTP (FastAPI under uvicorn).",
                       epilog=_SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    data_options(p)
    p.add_argument("--workers", type=int, default=1,
                   help="prediction worker threads (default: 1; each batches waiting single-slice jobs)")
    p.add_argument("--max-upload", type=int, default=DEFAULT_MAX_UPLOAD, metavar="BYTES",
                   help=f"largest request body accepted, in bytes (default: {DEFAULT_MAX_UPLOAD}); larger gets 413")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.set_defaults(func=_cmd_serve)

    u = sub.add_parser("users", help="manage the service's accounts and API tokens",
                       description="Accounts of tumorscope serve. A token is printed once and stored only as a "
                                   "salted hash: lose it and remove + add the user again.")
    usub = u.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = usub.add_parser("add", help="create an account and print its API token once")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("clinician", "admin"),
                     help="clinician: predict and review; admin: also the audit log and installing models")
    data_options(add)
    add.set_defaults(func=_cmd_users_add)
    ls = usub.add_parser("list", help="list accounts (names and roles; tokens are never shown)")
    data_options(ls)
    ls.set_defaults(func=_cmd_users_list)
    rm = usub.add_parser("remove", help="remove an account; its token stops working at once")
    rm.add_argument("name")
    data_options(rm)
    rm.set_defaults(func=_cmd_users_remove)


def _engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from tumorscope.serve.db import open_database
    from tumorscope.serve.settings import database_url

    return open_database(database_url(args.db, args.data_dir))


def _cmd_users_add(args: argparse.Namespace) -> int:
    from tumorscope.serve.accounts import add_user

    token = add_user(_engine(args), args.name, args.role)
    print(f"user {args.name} ({args.role}) added. Its API token is shown only this once:")
    print(f"token: {token}")
    return 0


def _cmd_users_list(args: argparse.Namespace) -> int:
    from tumorscope.serve.accounts import list_users

    users = list_users(_engine(args))
    if not users:
        print("no users (tumorscope users add NAME --role clinician|admin)")
    for u in users:
        print(f"{u['name']:<24} {u['role']:<10} created {u['created_at']}")
    return 0


def _cmd_users_remove(args: argparse.Namespace) -> int:
    from tumorscope.serve.accounts import remove_user

    remove_user(_engine(args), args.name)
    print(f"user {args.name} removed")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tumorscope.serve.app import create_app
    from tumorscope.serve.settings import Settings

    settings = Settings(data_dir=args.data_dir, db=args.db, workers=args.workers, max_upload=args.max_upload)
    logging.getLogger("tumorscope").setLevel(args.log_level.upper())
    print(f"tumorscope serve on http://{args.host}:{args.port} (data: {settings.data_dir}; API docs at /docs)")
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level,
                timeout_graceful_shutdown=10)
    return 0
