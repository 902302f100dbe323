"""``tumorscope models`` (list/show/verify/publish bundles)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="bundled models and available architectures",
                       description="List the bundled models (with their cross-validated headline metrics), show a "
                       "model card, verify a bundle's checksum, publish a zoo model, or list trainable architectures.")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    q = msub.add_parser("list", help="bundled models (or --architectures)")
    q.add_argument("--architectures", action="store_true", help="list trainable network architectures instead")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_list)
    q = msub.add_parser("show", help="print a model card")
    q.add_argument("name", help="bundle name or folder")
    q.set_defaults(func=_cmd_show)
    q = msub.add_parser("verify", help="load a bundle, check its checksum, build its network, read its drift reference")
    q.add_argument("name", help="bundle name or folder")
    q.set_defaults(func=_cmd_verify)
    from tumorscope.bundle.publish.cli import register as register_publish

    register_publish(msub)


def _cmd_list(args: argparse.Namespace) -> int:
    if args.architectures:
        from tumorscope.models import describe_models

        specs = describe_models()
        if args.json:
            print(json.dumps([{"name": s.name, "task": s.task, "summary": s.summary} for s in specs], indent=2))
        else:
            for s in specs:
                print(f"{s.name:<16} {s.task:<15} {s.summary}")
        return 0
    from tumorscope.bundle import zoo_models

    rows = [
        {"name": b.name, "task": b.task, "classes": b.classes, "path": str(b.path),
         "headline": b.config.get("headline_metrics", {})}
        for b in zoo_models()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            head = "  ".join(f"{k}={v}" for k, v in r["headline"].items())
            print(f"{r['name']:<22} {r['task']:<15} {head}")
        if not rows:
            print("no bundled models installed")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from tumorscope.bundle import load_bundle

    b = load_bundle(args.name)
    print(b.card or json.dumps(b.config, indent=2))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from tumorscope.bundle import load_bundle

    b = load_bundle(args.name, verify=True)
    n = sum(p.numel() for p in b.model.parameters())
    size = b.weights_path.stat().st_size / 2**20
    print(f"{b.name}: checksum ok, {b.config['model']['name']} with {n:,} parameters, task {b.task}, weights stored "
          f"as {b.config.get('weights_dtype', 'float32')} ({size:.1f} MiB)")
    ref = b.reference  # a damaged reference.json fails verification too
    print(f"drift reference: {len(ref['features'])} features, {ref['source']}" if ref else
          "drift reference: none (the service reports no drift for this model)")
    from tumorscope.bundle.variants import read_variants, usable

    table = read_variants(b.path)  # a damaged variants.json fails verification too
    states = [f"{name} ({usable(b.path, name, rec, b.config.get('weights_sha256')) or 'verified, usable'})"
              for name, rec in sorted(table.items())]
    print(f"exported variants: {', '.join(states)}" if states else "exported variants: none (tumorscope export)")
    return 0
