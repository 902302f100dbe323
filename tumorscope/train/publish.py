"""Deprecated: zoo publishing moved to ``tumorscope models publish`` (:mod:`tumorscope.bundle.publish`).

``python -m tumorscope.train.publish NAME CV_DIR [--fold N] [--extra LABEL=DIR ...] [--final RUN]`` still works
and runs that command.
"""

from __future__ import annotations

import argparse
import sys

from tumorscope.bundle.publish.card import model_card
from tumorscope.bundle.publish.cli import add_arguments, run
from tumorscope.bundle.publish.recipes import RECIPES
from tumorscope.bundle.publish.sections import compute_phrase as _compute_phrase
from tumorscope.bundle.publish.sections import extra_section, two_core_minutes
from tumorscope.bundle.publish.write import publish

__all__ = ["RECIPES", "_compute_phrase", "extra_section", "main", "model_card", "publish", "two_core_minutes"]


def main(argv: list[str] | None = None) -> int:
    print("python -m tumorscope.train.publish is deprecated: use `tumorscope models publish`", file=sys.stderr)
    p = argparse.ArgumentParser(prog="tumorscope models publish", description=__doc__)
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
