"""Every option that the docs, README, experiments and model cards give `tumorscope train / cv / pretrain / tune` is one
the generated command line still takes (the flags are contracts)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from tumorscope.train import cli, tune_cli

ROOT = Path(__file__).resolve().parents[2]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "experiments").rglob("*.py")),
         *sorted((ROOT / "experiments").rglob("*.md")), *sorted((ROOT / "tumorscope/bundle/zoo").glob("*/card.md"))]
COMMAND = re.compile(r"tumorscope (train|cv|pretrain|tune)\b([^`\n#]*)")  # up to a code span's end or a comment


def _flags_by_command() -> dict[str, set[str]]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.register(sub)
    tune_cli.register(sub)
    return {name: {s for a in sub.choices[name]._actions for s in a.option_strings}
            for name in ("train", "cv", "pretrain", "tune")}


def _documented() -> list[tuple[str, str, str]]:
    found = []
    for file in FILES:
        for command, rest in COMMAND.findall(file.read_text()):
            found += [(file.name, command, flag) for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", rest)]
    return found


def test_documented_commands_were_found():
    assert len({(c, f) for _, c, f in _documented()}) > 30


@pytest.mark.parametrize("file,command,flag", sorted(set(_documented())))
def test_documented_flag_parses(file, command, flag):
    assert flag in _flags_by_command()[command], f"{file}: `tumorscope {command} {flag}` is no longer an option"
