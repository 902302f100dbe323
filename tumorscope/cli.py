"""The ``tumorscope`` command: one entry point, thin; each stage registers its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from tumorscope import __version__
from tumorscope.errors import TumorscopeError

# Modules that each define ``register(subparsers)``; order is the pipeline's order in --help.
_STAGES = (
    "tumorscope.data.cli",
    "tumorscope.train.cli",
    "tumorscope.evaluate.cli",
    "tumorscope.predict.cli",
    "tumorscope.bundle.cli",
    "tumorscope.demo",
    "tumorscope.explain.cli",
    "tumorscope.report.cli",
)



def _evaluate(args: argparse.Namespace) -> int:
    """``tumorscope evaluate`` joins two stages: the evaluate stage's metrics, the report stage's figures of them."""
    from tumorscope.evaluate.cli import run_evaluate
    from tumorscope.report.figures import write_evaluation_figures

    return run_evaluate(args, figures=write_evaluation_figures)


# Commands that join stages: their handlers live here, above every stage (the stage registers the arguments).
_JOINED = {"evaluate": _evaluate}

_EPILOG = """\
typical session:
  tumorscope datasets inspect ../shared/data/lgg_mri_segmentation
  tumorscope datasets audit ../shared/data/brain_tumor_mri_4class
  tumorscope train --task segmentation --data DIR --model unet2d --out runs/seg
  tumorscope evaluate --model runs/seg --data DIR --split test --out runs/seg/eval
  tumorscope predict --model lgg-flair-seg -i PATIENT_DIR -o out/
  tumorscope explain --model lgg-flair-seg -i SLICE.tif -o out/ --method gradcam
  tumorscope report runs/seg/eval -o report.html

Errors you can fix (a bad file, a wrong option) print one line and exit with code 2;
add --debug to see the full traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tumorscope",
        description="Find, delineate and explain tumors in MRI, CT, ultrasound and histopathology images.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tumorscope {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _STAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a stage not built yet must not break the others
            if exc.name != name:
                raise
            continue
        module.register(sub)
    for command, func in _JOINED.items():
        if command in sub.choices:
            sub.choices[command].set_defaults(func=func)
    if "predict" in sub.choices and "explain" in sub.choices:
        sub.choices["predict"].set_defaults(explain_input=_explain_input)
    return parser


def _explain_input(bundle: object, input_path: Path, out_dir: Path, method: str) -> None:
    """``predict --explain``: predict/ may not import explain/ (a later stage), so the two meet here."""
    from tumorscope.explain.run import explain_input

    explain_input(bundle, input_path, out_dir, method)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.debug else "%(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        result = args.func(args)
    except TumorscopeError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"tumorscope: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tumorscope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a bare traceback
        if args.debug:
            traceback.print_exc()
        print(
            f"tumorscope: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
