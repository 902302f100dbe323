"""The one exception type for problems a user can cause (bad file, bad folder, bad option)."""

from __future__ import annotations

from pathlib import Path


class TumorscopeError(Exception):
    """A user-facing error naming the file (when there is one) and the problem.

    The CLI prints ``str(error)`` as one line and exits with code 2.
    """

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = problem
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)
