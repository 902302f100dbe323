"""The search space of ``tumorscope tune``: read from a TOML/YAML file or a model's default, sampled per trial.

A space maps option names (the ``train`` / ``cv`` options, underscores or dashes) to one of::

    lr = {low = 1e-4, high = 1e-2, log = true}   # a float range (log scale)
    epochs = {low = 10, high = 40, step = 10}    # an int range (both ends integers)
    width = [8, 16, 32]                          # a choice
    batch_size = 16                              # fixed for every trial

Grid search takes every choice and ``grid`` points of each range (default 3, log-spaced where ``log``; a range
with a ``step`` takes every step).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tumorscope.errors import TumorscopeError

Value = bool | int | float | str

# Deep models: one space per task. Classical models (issue 31 item 2): the scikit-learn parameter names, which
# `train --model svm|rf|gbm|logreg` takes in `--hparams` (tune_objective.apply_options puts them there).
DEFAULT_SPACES: dict[str, dict[str, Any]] = {
    "segmentation": {
        "lr": {"low": 3e-4, "high": 1e-2, "log": True},
        "weight_decay": {"low": 1e-6, "high": 1e-3, "log": True},
        "width": [8, 16, 32],
        "loss": ["dice", "dicece", "dicefocal"],
        "augment": ["light", "default", "heavy"],
    },
    "classification": {
        "lr": {"low": 1e-4, "high": 3e-3, "log": True},
        "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
        "width": [16, 32],
        "label_smoothing": {"low": 0.0, "high": 0.2},
        "mixup": [0.0, 0.2, 0.4],
        "augment": ["light", "default", "strong"],
    },
    "svm": {"C": {"low": 1e-2, "high": 1e2, "log": True}, "gamma": {"low": 1e-4, "high": 1.0, "log": True}},
    "logreg": {"C": {"low": 1e-3, "high": 1e2, "log": True}},
    "rf": {"n_estimators": {"low": 100, "high": 800, "step": 100}, "max_depth": {"low": 2, "high": 20}},
    "gbm": {"max_iter": {"low": 50, "high": 500, "step": 50}, "max_depth": {"low": 2, "high": 6},
            "learning_rate": {"low": 0.01, "high": 0.3, "log": True}},
}


@dataclass(frozen=True)
class Range:
    """A numeric range; ``kind`` int or float."""

    kind: type
    low: float
    high: float
    log: bool = False
    step: float | None = None
    grid: int = 3

    def points(self) -> list[Value]:
        """The values grid search tries."""
        if self.step:  # every step from low (Optuna's own lattice for a stepped range)
            count = int((self.high - self.low) / self.step + 1e-9) + 1
            return [self.kind(round(self.low + i * self.step, 12)) for i in range(count)]
        if self.grid == 1:
            return [self.kind(self.low)]
        if self.log:
            ratio = self.high / self.low
            raw = [self.low * ratio ** (i / (self.grid - 1)) for i in range(self.grid)]
        else:
            raw = [self.low + (self.high - self.low) * i / (self.grid - 1) for i in range(self.grid)]
        if self.kind is int:
            return sorted({round(v) for v in raw})
        return [min(max(float(f"{v:.6g}"), self.low), self.high) for v in raw]


@dataclass(frozen=True)
class Space:
    """Searched parameters (ranges and choices) and fixed options, by option name."""

    searched: dict[str, Range | list[Value]]
    fixed: dict[str, Value]

    def grid(self) -> dict[str, list[Value]]:
        """Every searched parameter's grid values (Optuna's GridSampler search space)."""
        return {k: (list(v) if isinstance(v, list) else v.points()) for k, v in self.searched.items()}

    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid().values())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.fixed)
        for k, v in self.searched.items():
            out[k] = v if isinstance(v, list) else {
                "low": v.low, "high": v.high, **({"log": True} if v.log else {}),
                **({"step": v.step} if v.step else {}), **({"grid": v.grid} if v.grid != 3 else {})}
        return out


def suggest(trial: Any, space: Space) -> dict[str, Value]:
    """One trial's options: every searched parameter sampled by the trial's sampler, then the fixed ones."""
    params: dict[str, Value] = {}
    for name, spec in space.searched.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif spec.kind is int:
            params[name] = trial.suggest_int(name, int(spec.low), int(spec.high), step=int(spec.step or 1),
                                             log=spec.log)
        else:
            params[name] = trial.suggest_float(name, spec.low, spec.high, step=spec.step, log=spec.log)
    return {**params, **space.fixed}


def parse_space(raw: dict[str, Any], source: str | Path | None = None) -> Space:
    """A space from its dict form (as in the file); one clear error for a malformed entry."""
    if not isinstance(raw, dict) or not raw:
        raise TumorscopeError("the search space is empty (give option = {low, high} / [choices] entries)", source)
    searched: dict[str, Range | list[Value]] = {}
    fixed: dict[str, Value] = {}
    for key, spec in raw.items():
        name = str(key).lstrip("-").replace("-", "_")
        if isinstance(spec, list):
            if not spec or not all(isinstance(v, Value) for v in spec):
                raise TumorscopeError(f"{key}: a choice needs one or more numbers, strings or booleans", source)
            searched[name] = list(spec)
        elif isinstance(spec, dict):
            searched[name] = _range(name, spec, source)
        elif isinstance(spec, Value):
            fixed[name] = spec
        else:
            raise TumorscopeError(f"{key}: give {{low, high}}, [choices] or one value, not {spec!r}", source)
    if not searched:
        raise TumorscopeError("the search space searches nothing (every entry is a fixed value)", source)
    return Space(searched, fixed)


def _range(name: str, spec: dict[str, Any], source: str | Path | None) -> Range:
    unknown = sorted(set(spec) - {"low", "high", "log", "step", "grid"})
    if unknown or "low" not in spec or "high" not in spec:
        raise TumorscopeError(f"{name}: a range is {{low, high[, log, step, grid]}}"
                              + (f" (unknown key {unknown[0]!r})" if unknown else ""), source)
    low, high, log, step = spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("step")
    numbers = [v for v in (low, high, step) if v is not None]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        raise TumorscopeError(f"{name}: low, high and step must be numbers", source)
    kind = int if all(isinstance(v, int) for v in numbers) else float
    grid = spec.get("grid", 3)
    if not low < high or (log and low <= 0) or (step is not None and step <= 0) or not isinstance(grid, int) \
            or grid < 1 or (log and step is not None):
        raise TumorscopeError(f"{name}: need low < high (low > 0 with log; log and step not together), "
                              f"step > 0, grid >= 1; got {spec}", source)
    return Range(kind, low, high, log, step, grid)


def read_space(path: str | Path) -> Space:
    """A space file: TOML (``.toml``) or YAML (``.yaml`` / ``.yml``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TumorscopeError(f"cannot read the search space ({exc.strerror})", path) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text)
        elif path.suffix.lower() == ".toml":
            raw = tomllib.loads(text)
        else:
            raise TumorscopeError("a search space is a .toml or .yaml file", path)
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # yaml.YAMLError is no ValueError: caught below
        raise TumorscopeError(f"cannot parse the search space ({exc})", path) from None
    except Exception as exc:
        if type(exc).__module__.startswith("yaml"):
            raise TumorscopeError(f"cannot parse the search space ({str(exc).splitlines()[0]})", path) from None
        raise
    return parse_space(raw, path)


def default_space(model: str, task: str) -> Space:
    """The model's default space (classical models by name), else the task's."""
    return parse_space(DEFAULT_SPACES.get(model, DEFAULT_SPACES[task]))
