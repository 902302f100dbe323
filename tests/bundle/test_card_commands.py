"""The shipped model cards' training commands reproduce the configs they describe: every `tumorscope train / cv`
line of each card parses with the generated command line, and the runs whose configs the bundle stores (the
bundled members, or the bundled CV fold) are exactly what their card command makes."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from tumorscope.bundle.bundle import ZOO
from tumorscope.options import TrainConfig, parse

CARDS = sorted(p.parent.name for p in ZOO.glob("*/card.md"))


def card_commands(name: str) -> list[tuple[str, TrainConfig]]:
    """(command name, config) of every `tumorscope train|cv` line in the card's code blocks (`$R` expanded)."""
    text = (ZOO / name / "card.md").read_text()
    blocks = re.findall(r"^```\n(.*?)^```", text, flags=re.S | re.M)
    variables: dict[str, str] = {}
    found = []
    for line in "\n".join(blocks).replace("\\\n", " ").splitlines():
        line = line.split(" #")[0].strip()
        if m := re.fullmatch(r'(\w+)="([^"]*)"', line):
            variables[m[1]] = m[2]
            continue
        for var, value in variables.items():
            line = line.replace(f"${var} ", f"{value} ")
        words = shlex.split(line)
        if words[:1] == ["tumorscope"] and words[1] in ("train", "cv"):
            found.append((words[1], parse(TrainConfig, words[2:], words[1])))
    return found


def stored_configs(name: str) -> list[dict]:
    """The training configs the zoo bundle records: each bundled member's, or the bundled run's own."""
    training = json.loads((ZOO / name / "config.json").read_text())["training"]
    return [m["config"] for m in training["members"]] if "members" in training else [training["config"]]


def test_every_card_was_found():
    assert set(CARDS) >= {"brain-mri-tumor-type", "breast-us-lesion", "colon-histo-tumor", "lgg-flair-seg"}


@pytest.mark.parametrize("name", CARDS)
def test_card_commands_reproduce_the_stored_configs(name):
    commands = card_commands(name)
    assert commands, f"{name}: no training command on the card"
    by_out = {cfg.out: cfg for _, cfg in commands}
    for saved in stored_configs(name):
        stored = TrainConfig.from_dict(saved)  # old configs migrate (e.g. no "keep": what that run did)
        if stored.fold is not None:  # a CV fold's run: made by the card's `tumorscope cv` with --out its parent
            made = by_out[str(Path(stored.out).parent)]
            assert replace(made, fold=stored.fold, out=stored.out) == stored
        else:
            assert by_out[stored.out] == stored, f"{name}: the card's command for {stored.out} makes another config"


@pytest.mark.parametrize("name", CARDS)
def test_card_commands_print_back_as_they_read(name):
    from tumorscope.options import to_argv

    for command, cfg in card_commands(name):
        assert parse(TrainConfig, to_argv(cfg, command=command), command) == cfg
