"""A round file (``experiments/rounds/<round>.toml``): read, checked key by key, into plain objects.

A round has a text (``title``, ``rule``), a ``[recipe]`` of ``tumorscope cv``/``train`` options, named lists of
folders (``[sets]``) and four stages, each a list of entries run in order: ``[[runs]]``, ``[[analyze]]``,
``[[final]]``, ``[[publish]]``. An entry is a *run* (``name``: CV folds or a training, expanded per seed and fold),
a *step* (``cmd``: one tumorscope command) or an *action* (``action``: a built-in file operation).
experiments/README.md describes every key.
"""
from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError

STAGES = ("runs", "analyze", "final", "publish")
AXES = ("run", "seed", "fold")
COMMANDS = ("cv", "train", "resume")
ACTIONS = ("last_epoch_copy", "linked_copy", "cv_summary")
Option = str | int | float | bool | list[str | int | float]

_ROUND_KEYS = {"title": str, "rule": str, "dir": str, "order": list, "jobs": int, "recipe": dict, "sets": dict,
               **{s: list for s in STAGES}}
_RUN_KEYS = {"name": str, "command": str, "seeds": list, "folds": list, "options": dict, "group": int, "dir": str}
_STEP_KEYS = {"cmd": str, "module": str, "log": str, "done": str, "slots": int}
_ACTION_KEYS = {"action": str, "members": (str, list), "into": str, "suffix": str, "folds": int}
_VAR = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Run:
    """CV folds (``folds`` given: one job per fold) or one whole ``cv``/``train``/``resume`` per seed."""

    name: str
    command: str = "cv"
    seeds: tuple[int, ...] | None = None
    folds: tuple[int, ...] | None = None
    options: dict[str, Option] = field(default_factory=dict)
    group: int = 0
    dir: str = ""


@dataclass(frozen=True)
class Step:
    """One command: tumorscope ``args`` (or ``python -m module args``), skipped when ``done`` exists."""

    args: tuple[str, ...]
    module: str | None = None
    log: str | None = None
    done: str | None = None
    slots: int | None = None  # None: every slot (the step runs alone)


@dataclass(frozen=True)
class Action:
    """A built-in operation on run folders (experiments/actions.py)."""

    action: str
    members: tuple[str, ...]
    into: str | None = None
    suffix: str = ""
    folds: int = 5


Entry = Run | Step | Action


@dataclass(frozen=True)
class Round:
    name: str
    path: Path
    title: str
    rule: str
    dir: str
    order: tuple[str, ...]
    jobs: int
    recipe: dict[str, Option]
    stages: dict[str, tuple[Entry, ...]]


class RoundError(TumorscopeError):
    """A round file that cannot be used, naming the file and the key."""


def fill(text: str, values: Mapping[str, object], path: Path, where: str) -> str:
    """``text`` with each ``{name}`` replaced by ``values[name]``; an unknown name is an error."""
    def one(m: re.Match[str]) -> str:
        if m[1] not in values or values[m[1]] is None:
            raise RoundError(f"{where}: unknown variable {{{m[1]}}} (known: {', '.join(sorted(values))})", path)
        return str(values[m[1]])
    return _VAR.sub(one, text)


def _check(table: dict[str, Any], spec: dict[str, Any], required: tuple[str, ...], path: Path, where: str) -> None:
    for key in table:
        if key not in spec:
            raise RoundError(f"unknown key {where}{key} (allowed: {', '.join(spec)})", path)
        if not isinstance(table[key], spec[key]) or isinstance(table[key], bool) and spec[key] is int:
            raise RoundError(f"{where}{key} has the wrong type ({type(table[key]).__name__})", path)
    for key in required:
        if key not in table:
            raise RoundError(f"missing key {where}{key}", path)


def _ints(value: object, path: Path, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise RoundError(f"{where} must be a list of integers", path)
    return tuple(value)


def _options(value: dict[str, Any], path: Path, where: str) -> dict[str, Option]:
    for key, v in value.items():
        if isinstance(v, dict) or isinstance(v, list) and any(isinstance(x, list | dict | bool) for x in v):
            raise RoundError(f"{where}.{key}: an option is a string, number, boolean or list of values", path)
    return dict(value)


def _members(value: str | list[str], sets: dict[str, list[str]], values: dict[str, object], path: Path,
             where: str) -> tuple[str, ...]:
    """A list of folders, or ``"{set}"`` naming one of the round's sets."""
    if isinstance(value, str):
        m = _VAR.fullmatch(value)
        if not m or m[1] not in sets:
            raise RoundError(f"{where}: expected a list of folders or {{set}} naming one of [sets]", path)
        return tuple(sets[m[1]])
    if not all(isinstance(v, str) for v in value):
        raise RoundError(f"{where}: expected a list of folders", path)
    return tuple(fill(v, values, path, where) for v in value)


def _args(cmd: str, sets: dict[str, list[str]], values: dict[str, object], path: Path, where: str) -> tuple[str, ...]:
    """``cmd`` split like a shell; a word that is just ``{set}`` becomes that set's folders."""
    out: list[str] = []
    for word in shlex.split(cmd):
        m = _VAR.fullmatch(word)
        out += sets[m[1]] if m and m[1] in sets else [fill(word, values, path, where)]
    return tuple(out)


def _entry(raw: Any, sets: dict[str, list[str]], values: dict[str, object], default_dir: str, path: Path,
           where: str) -> Entry:
    if not isinstance(raw, dict):
        raise RoundError(f"{where} must be a table", path)
    kinds = [k for k in ("name", "cmd", "action") if k in raw]
    if len(kinds) != 1:
        raise RoundError(f"{where} needs exactly one of the keys name (a run), cmd (a step), action", path)
    w = where + "."
    if kinds[0] == "name":
        _check(raw, _RUN_KEYS, ("name",), path, w)
        command = raw.get("command", "cv")
        if command not in COMMANDS:
            raise RoundError(f"{w}command must be one of {', '.join(COMMANDS)}, not {command!r}", path)
        seeds = _ints(raw["seeds"], path, w + "seeds") if "seeds" in raw else None
        folds = _ints(raw["folds"], path, w + "folds") if "folds" in raw else None
        options = _options(raw.get("options", {}), path, w + "options")
        for key in ("out", "only_folds", "resume"):
            if key in options:
                raise RoundError(f"{w}options.{key} is set by the runner", path)
        if seeds is not None and options.get("seed", "{seed}") != "{seed}":
            raise RoundError(f'{w}options.seed: with seeds, write seed = "{{seed}}" (it only places the flag)', path)
        if command == "train" and folds is not None:
            raise RoundError(f"{w}folds: a train run has no folds (use command = \"cv\")", path)
        if command == "resume" and folds is None:
            raise RoundError(f"{w}folds: a resume run needs the folds to resume", path)
        return Run(raw["name"], command, seeds, folds, options, raw.get("group", 0),
                   fill(raw.get("dir", default_dir), values, path, w + "dir"))
    if kinds[0] == "cmd":
        _check(raw, _STEP_KEYS, ("cmd",), path, w)
        if raw.get("slots", 1) < 1:
            raise RoundError(f"{w}slots must be at least 1", path)
        log, done = (fill(raw[k], values, path, w + k) if k in raw else None for k in ("log", "done"))
        return Step(_args(raw["cmd"], sets, values, path, w + "cmd"), raw.get("module"), log, done, raw.get("slots"))
    _check(raw, _ACTION_KEYS, ("action", "members"), path, w)
    if raw["action"] not in ACTIONS:
        raise RoundError(f"{w}action must be one of {', '.join(ACTIONS)}, not {raw['action']!r}", path)
    if raw["action"] != "cv_summary" and "into" not in raw:
        raise RoundError(f"missing key {w}into (the folder the copies go into)", path)
    into = fill(raw["into"], values, path, w + "into") if "into" in raw else None
    return Action(raw["action"], _members(raw["members"], sets, values, path, w + "members"), into,
                  raw.get("suffix", ""), raw.get("folds", 5))


def load_round(path: str | Path) -> Round:
    """The round in TOML file ``path``; a problem is a RoundError naming the file and the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RoundError("no such round file", path) from None
    except tomllib.TOMLDecodeError as e:
        raise RoundError(f"not valid TOML: {e}", path) from None
    _check(raw, _ROUND_KEYS, ("title", "rule", "runs"), path, "")
    name = path.stem
    values: dict[str, object] = {"dir": raw.get("dir", f"runs/{name}"), "round": name}
    order = tuple(raw.get("order", AXES))
    if sorted(map(str, order)) != sorted(AXES):
        raise RoundError(f"order must list {', '.join(AXES)} once each, not {list(order)}", path)
    if raw.get("jobs", 2) < 1:
        raise RoundError("jobs must be at least 1", path)
    sets: dict[str, list[str]] = {}
    for key, folders in raw.get("sets", {}).items():
        if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
            raise RoundError(f"sets.{key} must be a list of folders", path)
        sets[key] = [fill(f, values, path, f"sets.{key}") for f in folders]
    for key in ("out", "only_folds", "resume"):
        if key in raw.get("recipe", {}):
            raise RoundError(f"recipe.{key} is set by the runner", path)
    stages = {s: tuple(_entry(e, sets, values, str(values["dir"]), path, f"{s}[{i}]")
                       for i, e in enumerate(raw.get(s, []))) for s in STAGES}
    return Round(name, path, raw["title"], raw["rule"], str(values["dir"]), order, raw.get("jobs", 2),
                 _options(raw.get("recipe", {}), path, "recipe"), stages)
