"""The exact commands behind a published model, printed from the runs' saved configs with ``to_argv`` (so a
card can never leave out an option the model was trained with) and read back by ``parse`` in the tests."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from tumorscope.data.splits import split_command
from tumorscope.options import PretrainConfig, TrainConfig, shell_join, to_argv
from tumorscope.options.describe import PRETRAIN_SUMMARY, is_pretrain_run

# printed even at their defaults, as the cards always have: a reader sees the recipe without looking defaults up
CARD_SHOWN = ("model", "width", "size", "channels", "augment", "epochs", "patience", "batch_size", "lr",
              "val_fraction", "folds", "loss", "keep")
PRETRAIN_SHOWN = ("model", "width", "size", "channels", "epochs", "batch_size", "lr", "temperature", "seed")


def train_config(saved: dict[str, Any], data_arg: str, **changes: Any) -> TrainConfig:
    """A saved run config (migrated as loading does) with its data at ``data_arg`` and ``changes`` applied."""
    return replace(TrainConfig.from_dict(saved), data=data_arg, **changes)


def command(name: str, cfg: TrainConfig, shown: tuple[str, ...] = CARD_SHOWN) -> str:
    """``tumorscope <name> ...`` that makes ``cfg`` exactly."""
    return shell_join(["tumorscope", name, *to_argv(cfg, show=shown, command=name)])


def pretrain_run(init: str | None) -> dict[str, Any] | None:
    """The config and summary of a ``tumorscope pretrain`` run used as ``--init``, if it is one."""
    if init is None or not is_pretrain_run(init):
        return None
    return {"config": json.loads((Path(init) / "config.json").read_text()),
            "summary": json.loads((Path(init) / PRETRAIN_SUMMARY).read_text()), "path": init}


def pretrain_command(run: dict[str, Any]) -> str:
    cfg = replace(PretrainConfig.from_dict(run["config"]), out=str(run["path"]))
    return shell_join(["tumorscope", "pretrain", *to_argv(cfg, show=PRETRAIN_SHOWN, command="pretrain")])


def ensemble_options(run: Path) -> str:
    """The `tumorscope ensemble` options that made the ensemble in ``run`` (from its summary and stored bundle)."""
    summary = json.loads((run / "train_summary.json").read_text())
    stored = json.loads((run / "bundle" / "config.json").read_text())
    return ("--calibrate " if "temperature" in stored["model"].get("options", {}) else "") + (
        f"--tta {'on' if summary['tta_set'] else 'off'} " if "tta_set" in summary else "") + (
        f"--weights {stored['weights_dtype']} " if stored.get("weights_dtype") else "")


def cv_commands(cv_dir: Path, cfg: dict[str, Any], first: dict[str, Any], data_arg: str,
                pretrained: dict[str, Any] | None) -> list[str]:
    """The commands behind a CV folder (``cfg``: its cv_config.json; ``first``: the config of its first member, or
    its own): the self-supervised pretraining if it started from one, then one ``tumorscope cv``, or for an
    ensembled CV the first member's CV, the other members trained fold by fold on its splits, and
    ``tumorscope ensemble --cv``."""
    members = cfg.get("ensemble_of")
    lines = [pretrain_command(pretrained)] if pretrained else []
    made_by = split_command(first["splits"]) if first.get("splits") else None
    lines += [made_by] if made_by else []  # the shared split file the CV read, where its command was recorded
    if not members:
        return [*lines, command("cv", train_config(cfg, data_arg, out=str(cv_dir)))]
    lines.append(command("cv", train_config(first, data_arg, out=members[0])))
    for m in members[1:]:
        mcfg = json.loads((Path(m) / "fold0" / "config.json").read_text())
        looped = train_config(mcfg, data_arg, splits=f"{members[0]}/fold$f/splits.json", out=f"{m}/fold$f")
        lines += [f"for f in {' '.join(str(i) for i in range(cfg['folds']))}; do",
                  f"  {command('train', looped, tuple(k for k in CARD_SHOWN if k != 'folds'))}", "done"]
    return [*lines, f"tumorscope ensemble --cv {' '.join(members)} {ensemble_options(cv_dir / 'fold0')}--out {cv_dir}"]


def final_commands(final: Path, runs: list[Path], cfgs: list[dict[str, Any]], data_arg: str) -> list[str]:
    """The commands that train ``final`` (one run, or the ensemble of ``runs`` with configs ``cfgs``) on every image."""
    shown = tuple(k for k in CARD_SHOWN if k not in ("folds", "keep"))
    lines = ["# the bundled model: the same recipe on every image, no validation part, last epoch kept"]
    lines += [command("train", train_config(c, data_arg, out=str(r)), shown) for r, c in zip(runs, cfgs)]
    if runs != [final]:
        lines.append(f"tumorscope ensemble {' '.join(map(str, runs))} {ensemble_options(final)}--out {final}")
    return lines
