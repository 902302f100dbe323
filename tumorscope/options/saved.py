"""Saving and loading a config as a run's ``config.json``: unknown keys refused, old configs migrated."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar, Self, cast

from tumorscope.errors import TumorscopeError


class SavedConfig:
    """A run's options as a dataclass, saved as its ``config.json``: to_dict / from_dict / load.

    ``from_dict`` refuses a key that is no option (a typo, or a config of another kind) and first applies
    :meth:`migrate`, which turns a config saved by an older version into what that run actually did.
    """

    ARGV_ORDER: ClassVar[tuple[str, ...]] = ()  # the order of to_argv's options (the rest follow, --out last)

    def to_dict(self) -> dict[str, Any]:
        return asdict(cast(Any, self))

    @classmethod
    def migrate(cls, d: dict[str, Any]) -> dict[str, Any]:
        """A saved dict as this version reads it (subclasses fill in what older versions did not save)."""
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str | Path | None = None) -> Self:
        names = {f.name for f in fields(cast(Any, cls))}
        unknown = sorted(set(d) - names)
        if unknown:
            raise TumorscopeError(f"unknown option {unknown[0]!r} in a saved {cls.__name__} "
                                  f"(known: {', '.join(sorted(names))})", source)
        try:
            return cls(**cls.migrate(dict(d)))
        except TumorscopeError as exc:
            if source is None or exc.path is not None:
                raise
            raise TumorscopeError(exc.problem, source) from None

    @classmethod
    def load(cls, path: str | Path) -> Self:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise TumorscopeError(f"cannot read config ({exc})", path) from exc
        return cls.from_dict(d, path)
