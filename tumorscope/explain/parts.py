"""Per-method results of a long ``explain --evaluate`` on disk, so that a rerun resumes.

Each finished part (the chance baseline, then one per method) is written atomically to
``OUT/explain_parts/<name>.json`` as soon as it is done, with a key hashed from everything that decides its
numbers (model weights, the picked slices, tolerance, steps, seed, layer). A rerun with the same key reuses a
part and says so in the log; a part that is missing (never finished, interrupted) or was made with other
settings is computed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from tumorscope.atomic import write_json

log = logging.getLogger(__name__)

FOLDER = "explain_parts"


def settings_key(settings: dict[str, Any]) -> str:
    """A short hash of JSON-able ``settings`` (key order does not matter)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Parts:
    """Finished parts of one evaluation in ``out_dir/explain_parts`` (nothing is stored when ``out_dir`` is None)."""

    def __init__(self, out_dir: str | Path | None, settings: dict[str, Any]) -> None:
        self.folder = Path(out_dir) / FOLDER if out_dir is not None else None
        self.key = settings_key(settings)
        self.reused: list[str] = []

    def path(self, name: str) -> Path | None:
        return self.folder / f"{name}.json" if self.folder is not None else None

    def load(self, name: str) -> dict[str, Any] | None:
        """The stored body of part ``name`` when it was finished with the same settings, else None."""
        path = self.path(name)
        if path is None or not path.exists():
            return None
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("explain: %s: unreadable saved result (%s); computing it again", name, exc)
            return None
        if stored.get("key") != self.key:
            log.info("explain: %s: saved result was made with other settings; computing it again", name)
            return None
        log.info("explain: %s: finished in an earlier run, skipped (%s)", name, path)
        self.reused.append(name)
        return dict(stored["body"])

    def save(self, name: str, body: dict[str, Any]) -> None:
        """Store a finished part atomically (a crash leaves the old file or none, never half of one)."""
        path = self.path(name)
        if path is not None:
            write_json(path, {"key": self.key, "part": name, "body": body})
            log.info("explain: %s: finished, saved %s", name, path)
