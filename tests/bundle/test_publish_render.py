"""Zoo publishing pieces: Markdown escaping of card values, and the segmentation ensemble's commands printed from
its members' saved configs (the shipped lgg-flair-seg members' own configs read back exactly)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from markupsafe import Markup

from tumorscope.bundle.bundle import ZOO
from tumorscope.bundle.publish.cli import CLASSIFIERS
from tumorscope.bundle.publish.recipes import RECIPES
from tumorscope.bundle.publish.render import environment, escape_markdown
from tumorscope.bundle.publish.seg_commands import ensemble_commands
from tumorscope.options import TrainConfig, parse


def test_values_are_escaped_for_markdown_unless_trusted():
    env = environment()
    out = env.from_string("## {{ label }} | {{ table }}").render(label="<img src=x> [a](b) `c`|", table=Markup("| a |"))
    assert out == r"## \<img src=x\> \[a\](b) \`c\`\| | | a |"
    assert escape_markdown("colon_aca / benign (LC25000), 98-99%") == "colon_aca / benign (LC25000), 98-99%"
    assert escape_markdown(0.5) == 0.5


def test_undefined_template_values_are_errors():
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        environment().from_string("{{ missing }}").render()


def test_publish_cli_names_every_recipe():
    assert set(CLASSIFIERS) == set(RECIPES)


def test_publish_alias_and_command_refuse_a_segmentation_call_without_candidates(capsys):
    from tumorscope.cli import main

    assert main(["models", "publish", "lgg-flair-seg"]) == 2
    assert "needs --cv" in capsys.readouterr().err


def _expand(text: str) -> list[list[str]]:
    shared = re.match(r'R="([^"]*)"', text)
    assert shared
    return [shlex.split(line.replace("$R ", shared[1] + " ")) for line in text.splitlines()[1:]
            if line.startswith("tumorscope ")]


def test_segmentation_commands_reproduce_the_members_configs(tmp_path: Path) -> None:
    members = json.loads((ZOO / "lgg-flair-seg" / "config.json").read_text())["training"]["members"]
    finals = []
    for m in members:  # the shipped members' configs, each in a run folder of its own
        run = tmp_path / Path(m["config"]["out"]).name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({**m["config"], "out": str(run)}))
        finals.append(run)
    cv = tmp_path / "cv_flair"
    cv.mkdir()
    (cv / "cv_config.json").write_text(json.dumps({**members[0]["config"], "splits": "cv_splits.json",
                                                   "out": "elsewhere"}))
    text = ensemble_commands([cv], {tmp_path / "cv_ens": [cv]}, finals, {tmp_path / "final": finals},
                             "tumorscope models publish lgg-flair-seg --cv X --final Y")
    commands = _expand(text)
    made = {c.out: c for c in (parse(TrainConfig, w[2:], w[1]) for w in commands if w[1] in ("train", "cv"))}
    for run in finals:
        assert made[str(run)] == TrainConfig.load(run / "config.json")
    assert made[str(cv)].splits == "cv_splits.json" and made[str(cv)].threads == 1
    assert text.startswith('R="--task segmentation --data ../shared/data/lgg_mri_segmentation --model unet2d')
    assert f"--augment heavy --seed 1 --splits runs/seg/final_splits.json --out {tmp_path}/final_flair_heavy" in text
    assert ["tumorscope", "ensemble", *map(str, finals), "--out", str(tmp_path / "final")] in commands


def test_publish_command_and_its_deprecated_alias_pass_the_same_arguments(monkeypatch, tmp_path, capsys):
    import tumorscope.bundle.publish.write as write
    from tumorscope.cli import main
    from tumorscope.train.publish import main as alias

    calls = []
    monkeypatch.setattr(write, "publish", lambda *a, **k: calls.append((a, k)) or tmp_path)
    args = ["brain-mri-tumor-type", "runs/cv", "--final", "runs/final", "--extra", "new seeds=runs/cv2"]
    assert main(["models", "publish", *args, "--zoo", str(tmp_path)]) == 0
    assert alias([*args, "--zoo", str(tmp_path)]) == 0
    assert calls[0] == calls[1]
    (name, cv, extras), kw = calls[0]
    assert (name, cv, extras) == ("brain-mri-tumor-type", Path("runs/cv"), {"new seeds": Path("runs/cv2")})
    assert kw == {"zoo": tmp_path, "fold": 0, "final": Path("runs/final")}
    assert "deprecated" in capsys.readouterr().err
    assert main(["models", "publish", "breast-us-lesion", "runs/cv", "--extra", "no-equals-sign"]) == 2
