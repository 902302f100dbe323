"""The ``tumorscope`` command: one entry point, thin; each stage registers its own subcommands."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from tumorscope import __version__
from tumorscope.errors import USER_OS_ERRNOS, TumorscopeError, display_path, printable

# Modules that each define ``register(subparsers)``; order is the pipeline's order in --help.
_STAGES = (
    "tumorscope.data.cli",
    "tumorscope.features.cli",
    "tumorscope.train.cli",
    "tumorscope.train.tune_cli",
    "tumorscope.train.federated_cli",
    "tumorscope.evaluate.cli",
    "tumorscope.predict.cli",
    "tumorscope.bundle.cli",
    "tumorscope.export.cli",
    "tumorscope.demo",
    "tumorscope.explain.cli",
    "tumorscope.report.cli",
    "tumorscope.serve.cli",
    "tumorscope.serve.consensus",
    "tumorscope.serve.feedback",
    "tumorscope.pacs.convert_cli",
    "tumorscope.pacs.deid_cli",
    "tumorscope.pacs.pacs_cli",
)



def _evaluate(args: argparse.Namespace) -> int:
    """``tumorscope evaluate`` joins stages: the evaluate stage's metrics (a classical bundle's from the classical
    stage above it), the report stage's figures of them."""
    from tumorscope.evaluate.cli import run_evaluate
    from tumorscope.report.figures import write_evaluation_figures

    return run_evaluate(args, figures=write_evaluation_figures, score=_score)


def _score(args: argparse.Namespace) -> Any:
    from tumorscope.bundle import load_bundle
    from tumorscope.evaluate.cli import evaluate

    if load_bundle(args.model).is_classical:
        from tumorscope.classical.scoring import evaluate_args

        return evaluate_args(args)
    return evaluate(args)


def _predict(args: argparse.Namespace, networks: Any) -> int:
    """``tumorscope predict``: a classical bundle (a stage above predict/) scores a patient folder per slice;
    every other bundle runs as the predict stage runs it (``networks``)."""
    if not getattr(args, "engine", None):
        from tumorscope.bundle import load_bundle

        bundle = load_bundle(args.model)
        if bundle.is_classical:
            from tumorscope.classical.scoring import predict_folder

            summary = predict_folder(bundle, args.input, args.out)
            counts = ", ".join(f"{c} {n}" for c, n in summary["counts"].items())
            print(f"{summary['n_slices']} slice(s): {counts}")
            print(f"results: {args.out}")
            return 0
    return int(networks(args))


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
    if "predict" in sub.choices:
        networks = sub.choices["predict"].get_default("func")
        sub.choices["predict"].set_defaults(dicom_outputs=_dicom_outputs,
                                            func=lambda args: _predict(args, networks))
    return parser


def _explain_input(bundle: object, input_path: Path, out_dir: Path, method: str) -> None:
    """``predict --explain``: predict/ may not import explain/ (a later stage), so the two meet here."""
    from tumorscope.explain.run import explain_input

    explain_input(bundle, input_path, out_dir, method)


def _dicom_outputs(files: list[str] | None, mask: object, summary: dict, bundle: object, out_dir: Path,
                   source: Path | None = None) -> dict:
    """``predict --dicom``: predict/ may not import pacs/ (a later layer), so the two meet here. Without source
    ``files`` (a NIfTI or image input), a synthetic series converted from ``source`` is written first, in
    ``out_dir/source``, for the outputs to reference."""
    import numpy as np

    from tumorscope.pacs.convert import to_dicom_series
    from tumorscope.pacs.dicom_out import write_dicom_outputs

    made: list[str] = []
    if files is None and np.asarray(mask).any():  # without tumor nothing is written, nor needs a source
        out_dir.mkdir(parents=True, exist_ok=True)
        made = [str(p) for p in to_dicom_series(source, out_dir / "source", synthetic=True)]  # type: ignore[arg-type]
    found = write_dicom_outputs(made or files or [], mask, summary, bundle, out_dir)  # type: ignore[arg-type]
    if made and found["dicom_files"]:
        found["dicom_files"] += [Path(p).relative_to(out_dir.parent).as_posix() for p in made]
        found["dicom_note"] = "dicom/source/ is a SYNTHETIC series made from the input for the outputs to reference"
    return found


_PACKAGE_DIR = str(Path(__file__).resolve().parent)
# OS errors a user fixes (a path too long, missing, a loop, no permission, a full or read-only disk):
# one line and exit 2 like any TumorscopeError, wherever in the pipeline they surface.
_USER_ERRNOS = USER_OS_ERRNOS | {errno.ENOENT, errno.ELOOP}  # also a missing path or a symlink loop


def _log_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    file: TextIO | None = None, line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the CLI: warnings go to the log, never straight to stderr.

    tumorscope's own warnings (meant for the user) log at WARNING as one line; library warnings
    (pydicom, nibabel, Pillow, tifffile...) log at DEBUG, so they show only with ``--debug``.
    """
    text = " ".join(str(message).split())
    if str(Path(filename).resolve()).startswith(_PACKAGE_DIR):
        logging.getLogger("tumorscope").warning("warning: %s", text)
    else:
        logging.getLogger("py.warnings").debug("%s:%d: %s: %s", filename, lineno, category.__name__, text)


def _own_records(record: logging.LogRecord) -> bool:
    """Without --debug only tumorscope's own log lines print; libraries' (pydicom logs every warning
    it raises) go to the debug log."""
    name = record.name
    return name in ("root", "__main__") or name == "tumorscope" or name.startswith("tumorscope.")


def _setup_output(debug: bool) -> None:
    """Logging, warnings into the log, and streams that print any file name (non-UTF-8 bytes shown as backslash escapes)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure: Any = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if debug else "%(message)s",
    )
    warnings.showwarning = _log_warning
    if not debug:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_own_records)
    if "SimpleITK" in sys.modules:  # else tumorscope.io.itk sets it when a command first needs SimpleITK
        sys.modules["SimpleITK"].ProcessObject.SetGlobalWarningDisplay(debug)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_output(args.debug)
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
    except OSError as exc:
        if exc.errno not in _USER_ERRNOS or exc.filename is None:
            return _internal_error(exc, args.debug)
        if args.debug:
            traceback.print_exc()
        print(f"tumorscope: error: {display_path(exc.filename)}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tumorscope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a bare traceback
        return _internal_error(exc, args.debug)
    return int(result or 0)


def _internal_error(exc: Exception, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    message = " ".join(printable(str(exc)).split())
    print(
        f"tumorscope: internal error: {type(exc).__name__}: {message} (run with --debug for the traceback)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
