"""Command lines from option definitions: argparse arguments generated per field, and ``to_argv`` / ``parse``
that print and read back a config exactly (``parse(cls, to_argv(config)) == config``)."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields
from typing import Any, TypeVar

from tumorscope.errors import TumorscopeError
from tumorscope.options.saved import SavedConfig
from tumorscope.options.spec import (
    TASK_DEFAULT,
    Choices,
    default_of,
    flag_of,
    format_duration,
    option_of,
    parse_duration,
)

C = TypeVar("C", bound=SavedConfig)
GROUP_TITLES = {"common": "options", "classification": "classification options",
                "segmentation": "segmentation options", "pretrain": "pretraining options",
                "classical": "classical model options (--model svm | rf | gbm | logreg on radiomics features)"}
ALWAYS = ("task", "data", "out")  # printed even at their defaults


def _scalar_type(annotation: str) -> type:
    base = annotation.replace(" | None", "").replace("list[", "").rstrip("]")
    return {"int": int, "float": float, "str": str}.get(base, str)


def _default_text(f: Any) -> str:
    opt = option_of(f)
    if opt.task_defaults:
        return "default: " + ", ".join(f"{v} for {t}" for t, v in opt.task_defaults)
    d = default_of(f)
    return "" if f.name == "out" or d in (None, "", []) or isinstance(d, bool) else f"default: {d}"


def add_arguments(parser: argparse.ArgumentParser, cls: type[SavedConfig], command: str) -> None:
    """Add one argument per field of ``cls`` that ``command`` takes; unset ones stay out of the namespace."""
    groups: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        opt = option_of(f)
        if opt.commands and command not in opt.commands:
            continue
        if opt.group not in groups:
            groups[opt.group] = parser if opt.group == "common" else parser.add_argument_group(GROUP_TITLES[opt.group])
        choices = f" (choose: {' | '.join(opt.check.values)})" if isinstance(opt.check, Choices) else ""
        extra = _default_text(f)
        text = (opt.help + choices + (f" ({extra})" if extra else "")).strip().replace("%", "%%") or None
        kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": text}
        if isinstance(f.default, bool):
            kw["action"] = "store_false" if f.default else "store_true"
        else:
            kw["type"] = parse_duration if opt.duration else _scalar_type(str(f.type))
            kw["metavar"] = opt.metavar
            if opt.nargs:
                kw["nargs"] = opt.nargs
            if f.name == "out":
                kw["required"] = True
        groups[opt.group].add_argument(flag_of(f), **kw)


def config_from_args(cls: type[C], args: argparse.Namespace, **fixed: Any) -> C:
    """The config that the parsed ``args`` give (options not given take their (task) defaults)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in vars(args).items() if k in names}, **fixed)


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def to_argv(config: SavedConfig, show: tuple[str, ...] = (), command: str = "train") -> list[str]:
    """The options that make ``config`` on ``command``'s command line: every value that differs from its (task)
    default, plus ``task``, ``data``, ``out`` and the fields named in ``show``; ``--out`` comes last."""
    task = getattr(config, "task", None)
    order = [n for n in type(config).ARGV_ORDER if n != "out"]
    order += [f.name for f in fields(config) if f.name not in order and f.name != "out"]  # type: ignore[arg-type]
    by_name = {f.name: f for f in fields(config)}  # type: ignore[arg-type]
    argv: list[str] = []
    for name in [*order, "out"]:
        f, value = by_name[name], getattr(config, name)
        opt = option_of(f)
        if value == default_of(f, task) and name not in (*ALWAYS, *show) or value is None:
            continue
        if value in ("", []) and name not in ALWAYS:
            continue
        if opt.commands and command not in opt.commands:
            raise TumorscopeError(f"{flag_of(f)} {value!r} cannot be given to `tumorscope {command}`")
        if isinstance(value, bool):
            if value != f.default:
                argv.append(flag_of(f))
        elif isinstance(value, list):
            argv += [flag_of(f), *map(_text, value)]
        else:
            argv += [flag_of(f), format_duration(value) if opt.duration else _text(value)]
    return argv


def parse(cls: type[C], argv: list[str], command: str = "train") -> C:
    """The config a command line gives (its options only, without the program and command names)."""
    parser = argparse.ArgumentParser(prog=f"tumorscope {command}", exit_on_error=False)
    add_arguments(parser, cls, command)
    try:
        args = parser.parse_args(argv)
    except (argparse.ArgumentError, SystemExit) as exc:
        raise TumorscopeError(f"cannot parse {' '.join(argv)!r}: {exc}") from None
    return config_from_args(cls, args)


_SAFE = re.compile(r"[\w@%+=:,./$-]+")  # `$` unquoted: a card's `for f in ...` loop refers to `fold$f`


def shell_join(words: list[str]) -> str:
    """A command line that a POSIX shell splits back into ``words`` (``$name`` left for the shell to expand)."""
    return " ".join(w if _SAFE.fullmatch(w) else "'" + w.replace("'", "'\"'\"'") + "'" for w in words)


__all__ = ["TASK_DEFAULT", "add_arguments", "config_from_args", "parse", "shell_join", "to_argv"]
