"""Option definitions: one typed field per option with its constraint, per-task default, flag and help text.

Modelled on scikit-learn's ``validate_params`` (``StrOptions`` / ``Interval``): every constraint says what it
accepts, so the check and its error message come from one definition. A config dataclass declares its fields
with :func:`option`; the command line (``argv.py``) and the checks here are generated from them.
"""

from __future__ import annotations

import math
import re
from dataclasses import MISSING, Field, dataclass, field, fields
from decimal import Decimal
from typing import Any, cast

from tumorscope.errors import TumorscopeError

TASK_DEFAULT = ""  # a str field left at this takes its task's default when the config is made


@dataclass(frozen=True)
class Choices:
    """One of a fixed set of strings (per task where ``by_task`` gives a task its own set)."""

    values: tuple[str, ...]
    by_task: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def allowed(self, task: str | None) -> tuple[str, ...]:
        return dict(self.by_task).get(task or "", self.values)

    def check(self, value: Any, task: str | None) -> str | None:
        allowed = self.allowed(task)
        if value in allowed:
            return None
        return f"choose {' | '.join(allowed)}" + (f" (for {task})" if self.by_task and task else "")


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (int or float) in [low, high] (``None``: unbounded; ``closed``: which ends count)."""

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # both | left | right | neither

    def check(self, value: Any, task: str | None = None) -> str | None:
        ok = isinstance(value, self.kind) and not isinstance(value, bool) or (
            self.kind is float and isinstance(value, int) and not isinstance(value, bool))
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if ok and self.low is not None:
            ok = value >= self.low if self.closed in ("both", "left") else value > self.low
        if ok and self.high is not None:
            ok = value <= self.high if self.closed in ("both", "right") else value < self.high
        return None if ok else f"must be {self}"

    def __str__(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{what} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Option:
    """What the command line and the checks know about one config field."""

    help: str = ""
    check: Choices | Interval | None = None
    group: str = "common"  # common | segmentation | classification | pretrain: the --help section
    task_defaults: tuple[tuple[str, Any], ...] = ()  # (task, default) where a task's default differs
    flag: str | None = None  # default: --name-with-dashes; a True-by-default switch: --no-name
    metavar: str | None = None
    optional: bool = False  # None is allowed (unset)
    nargs: str | None = None
    commands: tuple[str, ...] = ()  # the subcommands that take it (empty: all)
    duration: bool = False  # given as 90, 30s, 30m or 1.5h; stored in seconds


def option(default: Any, help: str = "", check: Choices | Interval | None = None, *, group: str = "common",
           task_defaults: dict[str, Any] | None = None, flag: str | None = None, metavar: str | None = None,
           nargs: str | None = None, commands: tuple[str, ...] = (), duration: bool = False) -> Any:
    """A dataclass field carrying its :class:`Option` (a list default is copied per instance)."""
    meta = {"option": Option(help, check, group, tuple((task_defaults or {}).items()), flag, metavar,
                             default is None, nargs, commands, duration)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def option_of(f: Field) -> Option:
    return cast(Option, f.metadata.get("option", Option()))


def flag_of(f: Field) -> str:
    """The command-line flag that sets field ``f`` (``--no-bf16`` for a switch that is on by default)."""
    opt = option_of(f)
    if opt.flag:
        return opt.flag
    return ("--no-" if f.default is True else "--") + f.name.replace("_", "-")


def default_of(f: Field, task: str | None = None) -> Any:
    """Field ``f``'s default for ``task`` (its own default where the task has none of its own)."""
    per_task = dict(option_of(f).task_defaults)
    if task in per_task:
        return per_task[task]
    return f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc,operator]


def resolve_task_defaults(config: Any) -> None:
    """Fill the fields still at :data:`TASK_DEFAULT` with the task's default (in place, before checks)."""
    task = getattr(config, "task", None)
    for f in fields(config):
        if getattr(config, f.name) == TASK_DEFAULT and option_of(f).task_defaults:
            object.__setattr__(config, f.name, default_of(f, task))


def check_fields(config: Any) -> None:
    """Raise a TumorscopeError naming the option for the first field whose value its constraint refuses."""
    task = getattr(config, "task", None)
    for f in fields(config):
        opt, value = option_of(f), getattr(config, f.name)
        if value is None and opt.optional:
            continue
        problem = opt.check.check(value, task) if opt.check else None
        if problem is None and opt.check is None and f.type in ("bool", bool) and not isinstance(value, bool):
            problem = "must be true or false"
        if problem:
            shown = flag_of(f).removeprefix("--no-") if isinstance(value, bool) else flag_of(f)
            raise TumorscopeError(f"{shown} {value!r}: {problem}")


def parse_duration(text: str | None) -> float | None:
    """``90`` (seconds), ``30s``, ``30m``, ``1.5h`` -> seconds."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
    if not m:
        raise TumorscopeError(f"cannot read duration {text!r}: use e.g. 90, 30s, 30m or 1.5h")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[m[2]]


def format_duration(seconds: float) -> str:
    """Seconds as :func:`parse_duration` reads them back exactly: ``30m`` for whole minutes, else ``90.5s``."""
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return format(Decimal(repr(float(seconds))), "f") + "s"
