"""``tumorscope datasets ...``: list, download, inspect and audit datasets."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "datasets",
        help="list, download, inspect and audit datasets",
        description="Work with datasets: the registry of public tumor datasets, and any folder on disk.",
    )
    dsub = p.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)

    q = dsub.add_parser("list", help="public datasets tumorscope knows (citation, licence, size)")
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.set_defaults(func=_cmd_list)

    q = dsub.add_parser(
        "download",
        help="download a registered dataset (resumable, checksum-verified)",
        description="Download NAME into --to DIR. Interrupted downloads resume; every file is checked "
        "against its SHA-256 before it is unpacked. Without network this fails with a clear message.",
    )
    q.add_argument("name", help="dataset name from `tumorscope datasets list`")
    q.add_argument("--to", type=Path, required=True, metavar="DIR", help="where to put it")
    q.add_argument("--url", help="override the download address (a mirror, or a local file:// or http:// copy)")
    q.set_defaults(func=_cmd_download)

    q = dsub.add_parser(
        "inspect",
        help="layout, counts per class/patient, sizes, dtypes, mask coverage",
        description="Detect the layout of DIR and summarise it: images, patients, classes, slices, "
        "image sizes and dtypes, masks and how much of each image they cover.",
    )
    q.add_argument("dir", type=Path, metavar="DIR")
    q.add_argument("--json", action="store_true", help="print a JSON object (keys: layout, n_images, ...)")
    q.set_defaults(func=_cmd_inspect)

    q = dsub.add_parser(
        "audit",
        help="find duplicates, near-duplicates, label conflicts and leaks",
        description="Audit DIR for what inflates published results: exact and near duplicates (flips and "
        "90-degree rotations included), duplicates that cross the dataset's own split or DIR/--against DIR2, "
        "one image under two labels, patients on both sides of a split, image/mask size mismatches, "
        "empty or unreadable files.",
    )
    q.add_argument("dir", type=Path, metavar="DIR")
    q.add_argument("--against", type=Path, metavar="DIR2", help="a second folder (e.g. a test set) to check against")
    q.add_argument("--json", action="store_true", help="print a JSON object with one list of groups per finding")
    q.add_argument(
        "--near-threshold", type=int, default=4, metavar="BITS",
        help="max perceptual-hash Hamming distance for near duplicates (default: 4 of 64 bits)",
    )
    q.set_defaults(func=_cmd_audit)

    q = dsub.add_parser(
        "split",
        help="write a patient-grouped splits.json (k folds or one hold-out) to share across runs",
        description="Split DIR by patient (by image where a layout has no patients), stratified by label, and\n"
        "write a splits.json that `tumorscope train/cv --splits` read. Runs given the same file share their\n"
        "validation and test patients, as `tumorscope ensemble` requires. With the same --seed, --folds and --val\n"
        "it is the split `tumorscope cv` makes itself; with --test 0, the one `tumorscope train` makes.",
        epilog="examples:\n  tumorscope datasets split DIR --folds 5 --out runs/cv_splits.json\n"
        "  tumorscope datasets split DIR --test 0 --out runs/final_splits.json   # train/val only",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("dir", type=Path, metavar="DIR")
    q.add_argument("--out", type=Path, required=True, metavar="JSON", help="where to write splits.json")
    q.add_argument("--folds", type=int, default=0, metavar="K", help="k-fold CV splits (default: one hold-out split)")
    q.add_argument("--val", type=float, default=0.15, help="fraction of patients for validation (default 0.15)")
    q.add_argument("--test", type=float, default=0.15,
                   help="hold-out split only: fraction of patients for test (default 0.15; 0 = train/val only)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--dedup", action="store_true",
                   help="drop duplicate images first, as classification training does by default (needed for a "
                   "file that `train/cv --task classification` read, unless they run with --no-dedup)")
    q.set_defaults(func=_cmd_split)


def _cmd_list(args: argparse.Namespace) -> int:
    from tumorscope.data.registry import format_registry, registry

    if args.json:
        print(json.dumps([d.to_dict() for d in registry()], indent=2))
    else:
        print(format_registry())
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from tumorscope.data.download import download_dataset

    path = download_dataset(args.name, args.to, url=args.url)
    print(f"downloaded {args.name} to {path}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from tumorscope.data.inspect import format_inspection, inspect_dataset

    info = inspect_dataset(args.dir)
    print(json.dumps(info, indent=2) if args.json else format_inspection(info))
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from tumorscope.data.audit import audit, format_audit

    report = audit(args.dir, against=args.against, near_threshold=args.near_threshold)
    print(json.dumps(report, indent=2) if args.json else format_audit(report))
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    from tumorscope.data.dataset import load_dataset
    from tumorscope.data.splits import PARTS, kfold, make_split, save_splits

    ds = load_dataset(args.dir)
    if args.dedup:
        from tumorscope.data.dedup import training_dedup

        ds = training_dedup(ds).dataset
    splits = (kfold(ds, k=args.folds, seed=args.seed, val=args.val) if args.folds
              else [make_split(ds, val=args.val, test=args.test, seed=args.seed)])
    argv = ["tumorscope", "datasets", "split", str(args.dir), *(["--folds", str(args.folds)] if args.folds
            else ["--test", str(args.test)]), "--val", str(args.val), "--seed", str(args.seed),
            *(["--dedup"] if args.dedup else []), "--out", str(args.out)]
    save_splits(args.out, splits, shlex.join(argv))  # quoted: a path with spaces re-runs as written
    for s in splits:
        name = "hold-out" if s.fold is None else f"fold {s.fold}"
        counts = ", ".join(f"{p} {len(s.groups[p])} groups / {len(s.images[p])} images" for p in PARTS)
        print(f"{name}: {counts}")
    print(f"wrote {args.out}")
    return 0
