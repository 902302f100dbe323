"""The commands behind a segmentation ensemble (``lgg-flair-seg``): the members' shared options once as ``$R``,
then each member's own, all printed from the saved configs with ``to_argv``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from tumorscope.data.splits import split_command
from tumorscope.options import TrainConfig, shell_join, to_argv

SEG_SHOWN = ("model", "epochs", "patience", "size", "width")
_OWN = ("--out", "--splits")  # never shared: each command names its own


def _items(argv: list[str]) -> list[tuple[str, ...]]:
    """argv as (flag, value...) items."""
    items: list[tuple[str, ...]] = []
    for word in argv:
        if word.startswith("--"):
            items.append((word,))
        else:
            items[-1] = (*items[-1], word)
    return items


def config_of(run: Path) -> TrainConfig:
    """A training run's (``config.json``) or CV folder's (``cv_config.json``) options, pointed at where it is now."""
    name = "config.json" if (run / "config.json").exists() else "cv_config.json"
    return replace(TrainConfig.load(run / name), out=str(run))


def shared_options(configs: list[TrainConfig]) -> list[tuple[str, ...]]:
    """The options (flag and value) that every config's command has, in command order."""
    all_items = [_items(to_argv(c, show=SEG_SHOWN)) for c in configs]
    return [i for i in all_items[0] if i[0] not in _OWN and all(i in items for items in all_items[1:])]


def member_command(name: str, cfg: TrainConfig, shared: list[tuple[str, ...]]) -> str:
    own = [w for i in _items(to_argv(cfg, show=SEG_SHOWN, command=name)) if i not in shared for w in i]
    return f"tumorscope {name} $R {shell_join(own)}"


def ensemble_commands(cv_members: list[Path], cv_candidates: dict[Path, list[Path]], final_members: list[Path],
                      finals: dict[Path, list[Path]], publish_line: str) -> str:
    """The shell lines: ``R=...``, the split files' own commands, each member's CV, the candidate ensembles, the
    members trained on all patients, their ensembles, and the publish command."""
    cv_cfgs, final_cfgs = [config_of(m) for m in cv_members], [config_of(m) for m in final_members]
    shared = shared_options(cv_cfgs + final_cfgs)
    splits = dict.fromkeys(c.splits for c in cv_cfgs + final_cfgs if c.splits)
    lines = [f'R="{shell_join([w for i in shared for w in i])}"']
    lines += [cmd for s in splits if (cmd := split_command(s or ""))]
    lines.append("# the members, each a cross-validation on the same splits (run two at a time, one thread each)")
    lines += [member_command("cv", c, shared) for c in cv_cfgs]
    lines.append("# candidate ensembles of those members, fold by fold on their shared splits")
    lines += [f"tumorscope ensemble --cv {' '.join(map(str, ms))} --out {cv}" for cv, ms in cv_candidates.items()]
    lines.append("# the same members trained on all patients (the validation patients of their split held out)")
    lines += [member_command("train", c, shared) for c in final_cfgs]
    lines += [f"tumorscope ensemble {' '.join(map(str, ms))} --out {f}" for f, ms in finals.items()]
    return "\n".join([*lines, publish_line])


def read_members(ensemble_dir: Path) -> list[Path]:
    """The runs (CV folders or training runs) an ensemble folder was made of."""
    from tumorscope.errors import TumorscopeError

    for name, key in (("cv_config.json", "ensemble_of"), ("train_summary.json", "members")):
        if (ensemble_dir / name).exists():
            return [Path(p) for p in json.loads((ensemble_dir / name).read_text())[key]]
    raise TumorscopeError("not an ensemble folder (no cv_config.json / train_summary.json)", ensemble_dir)
